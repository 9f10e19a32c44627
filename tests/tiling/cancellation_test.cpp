// Outputs are complete or absent: a failing model, Ctrl-C mid-run, existing destinations.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>

#include "test_paths.h"
#include "tiling_test_support.h"

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
