// Outputs are complete or absent: a failing model, Ctrl-C mid-run, existing destinations.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>
#include <csignal>
#include <fstream>

#include "test_paths.h"
#include "tiling_test_support.h"
#include "tm/testing/interrupt.h"

using namespace terramind;
using namespace terramind::testing;

namespace {

class Cancellation : public ::testing::Test {
 protected:
  void SetUp() override {
    TestRaster raster;
    raster.width = 400;
    raster.height = 300;
    write_raster(dir.file("in.tif"), raster, [](int, int x, int y) { return float(x * y); });
  }
  void TearDown() override {
    reset_interrupt_for_tests();
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    std::signal(SIGHUP, SIG_DFL);
  }
  std::vector<TargetRequest> targets() const {
    return {{"DEM", dir.file("dem.tif")}, {"LULC", dir.file("lulc.tif"), dir.file("lulc_p.tif")}};
  }
  ScratchDir dir;
};

}  // namespace

TEST_F(Cancellation, FailingModelLeavesNoOutputs) {
  RecordingModel model;
  model.on_call = [](int call) {
    if (call == 3) throw std::runtime_error("model exploded");
  };
  try {
    generate_scene({{dir.file("in.tif"), "DEM"}}, model, targets(), small_options());
    FAIL() << "expected the model's error";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "model exploded");
  }
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"in.tif"}) << "no partial or hidden files";
}

TEST_F(Cancellation, CtrlCStopsTheRunAndLeavesNoOutputs) {
  install_interrupt_handlers();
  RecordingModel model;
  model.on_call = [](int call) {
    if (call == 2) std::raise(SIGINT);  // as if the user pressed Ctrl-C during inference
  };
  EXPECT_THROW(generate_scene({{dir.file("in.tif"), "DEM"}}, model, targets(), small_options()),
               Interrupted);
  EXPECT_LT(static_cast<std::size_t>(model.calls), WindowGrid(400, 300, 64, 16).count() / 5)
      << "the run stopped early";
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"in.tif"});
}

TEST_F(Cancellation, ExistingOutputIsRefusedBeforeAnyWork) {
  std::ofstream(dir.file("lulc_p.tif")) << "precious";
  RecordingModel model;
  try {
    generate_scene({{dir.file("in.tif"), "DEM"}}, model, targets(), small_options());
    FAIL() << "expected a refusal";
  } catch (const RasterError& e) {
    EXPECT_NE(std::string(e.what()).find("output exists: " + dir.file("lulc_p.tif")),
              std::string::npos);
  }
  EXPECT_EQ(model.calls, 0);
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"in.tif", "lulc_p.tif"}));
  std::ifstream in(dir.file("lulc_p.tif"));
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
}

// A closed terminal or ssh session (SIGHUP) stops the run as cleanly as Ctrl-C.
TEST_F(Cancellation, HangupStopsTheRunAndLeavesNoOutputs) {
  install_interrupt_handlers();
  RecordingModel model;
  model.on_call = [](int call) {
    if (call == 2) std::raise(SIGHUP);
  };
  EXPECT_THROW(generate_scene({{dir.file("in.tif"), "DEM"}}, model, targets(), small_options()),
               Interrupted);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"in.tif"});
}

// Temporary files of killed runs (kill -9, power loss) beside an output are removed when the
// next run writes that output, and reported; those of a live process are left alone.
TEST_F(Cancellation, StalePartialsOfDeadProcessesAreRemoved) {
  const pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_GT(child, 0);
  waitpid(child, nullptr, 0);  // a PID that no longer runs
  const std::string dead = dir.file(".dem.tif.tm-partial-" + std::to_string(child) + "-0");
  const std::string dead_final = dir.file(".lulc.tif.tm-final-" + std::to_string(child) + "-3");
  const std::string alive = dir.file(".dem.tif.tm-partial-" + std::to_string(getppid()) + "-1");
  for (const auto& path : {dead, dead_final, alive}) std::ofstream(path) << "partial";
  RecordingModel model;
  const TilingSummary summary =
      generate_scene({{dir.file("in.tif"), "DEM"}}, model, targets(), small_options());
  EXPECT_FALSE(std::ifstream(dead).good());
  EXPECT_FALSE(std::ifstream(dead_final).good());
  EXPECT_TRUE(std::ifstream(alive).good()) << "a running process's file must be kept";
  std::string warnings;
  for (const auto& w : summary.warnings) warnings += w + "\n";
  EXPECT_NE(warnings.find(dead), std::string::npos) << warnings;
  EXPECT_NE(warnings.find(dead_final), std::string::npos) << warnings;
  std::remove(alive.c_str());
}
