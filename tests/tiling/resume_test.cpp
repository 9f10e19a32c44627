// Resumable runs (TilingOptions::resume): an interrupted run continues from its checkpoint and
// ends with the pixels of an uninterrupted run.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>

#include "test_paths.h"
#include "tiling_test_support.h"
#include "tm/testing/interrupt.h"

using namespace terramind;
using namespace terramind::testing;

namespace {

class Resume : public ::testing::Test {
 protected:
  void SetUp() override {
    TestRaster raster;
    raster.width = 300;
    raster.height = 420;  // 8 window rows of 64 px with a 16 px overlap
    write_raster(dir.file("in.tif"), raster, [](int, int x, int y) { return float(x + 3 * y); });
  }
  void TearDown() override {
    reset_interrupt_for_tests();
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    std::signal(SIGHUP, SIG_DFL);
  }
  TilingOptions options() const {
    TilingOptions o = small_options();
    o.resume = true;
    o.write.resumable = true;
    o.batch_size = 3;  // batches that straddle window rows
    return o;
  }
  std::vector<TargetRequest> targets(const std::string& tag) const {
    return {{"DEM", dir.file(tag + "dem.tif")},
            {"LULC", dir.file(tag + "lulc.tif"), dir.file(tag + "lulc_p.tif")}};
  }
  // Runs with resume until the model's `stop_at`-th call raises SIGINT.
  void interrupted_run(int stop_at, const std::string& tag) {
    install_interrupt_handlers();
    OffsetTerrainModel model;
    model.on_call = [stop_at](int call) {
      if (call == stop_at) std::raise(SIGINT);
    };
    EXPECT_THROW(generate_scene({{dir.file("in.tif"), "DEM"}}, model, targets(tag), options()),
                 Interrupted);
    reset_interrupt_for_tests();
  }
  ScratchDir dir;
};

bool exists(const std::string& path) { return std::ifstream(path).good(); }

}  // namespace

TEST_F(Resume, ContinuedRunEqualsUninterruptedRun) {
  OffsetTerrainModel reference_model;
  TilingOptions plain = small_options();
  plain.batch_size = 5;
  generate_scene({{dir.file("in.tif"), "DEM"}}, reference_model, targets("ref_"), plain);

  interrupted_run(9, "");
  EXPECT_FALSE(exists(dir.file("dem.tif")));
  EXPECT_TRUE(exists(dir.file(".dem.tif.tm-resume"))) << "the working file is kept";
  EXPECT_TRUE(exists(dir.file(".dem.tif.tm-resume.checkpoint")));

  OffsetTerrainModel model;
  const TilingSummary summary =
      generate_scene({{dir.file("in.tif"), "DEM"}}, model, targets(""), options());
  EXPECT_GT(summary.resumed_rows, 0);
  EXPECT_LT(summary.resumed_rows, 420);
  EXPECT_EQ(summary.raster_rows, 420);
  const std::size_t all = WindowGrid(300, 420, 64, 16).count();
  EXPECT_LT(model.windows_seen.size(), all) << "finished rows are not generated again";
  EXPECT_GT(model.windows_seen.size(), 0u);
  for (const char* name : {"dem.tif", "lulc.tif", "lulc_p.tif"}) {
    const std::vector<float> got = read_band(dir.file(name));
    const std::vector<float> want = read_band(dir.file(std::string("ref_") + name));
    ASSERT_EQ(got.size(), want.size());
    std::size_t differ = 0;
    for (std::size_t i = 0; i < got.size(); ++i) differ += got[i] != want[i];
    EXPECT_EQ(differ, 0u) << name;
  }
  for (const auto& entry : dir.entries())
    EXPECT_EQ(entry.find("tm-resume"), std::string::npos) << "left behind: " << entry;
}

TEST_F(Resume, OtherSettingsStartOver) {
  interrupted_run(9, "");
  OffsetTerrainModel model;
  TilingOptions other = options();
  other.overlap = 24;  // another window grid: the checkpoint does not apply
  const TilingSummary summary =
      generate_scene({{dir.file("in.tif"), "DEM"}}, model, targets(""), other);
  EXPECT_EQ(summary.resumed_rows, 0);
  EXPECT_EQ(model.windows_seen.size(), WindowGrid(300, 420, 64, 24).count());
  std::string warnings;
  for (const auto& w : summary.warnings) warnings += w + "\n";
  EXPECT_NE(warnings.find("not resuming"), std::string::npos) << warnings;
}

TEST_F(Resume, InterruptedAgainKeepsProgress) {
  interrupted_run(5, "");
  interrupted_run(4, "");  // the resumed run is interrupted too
  OffsetTerrainModel model;
  const TilingSummary summary =
      generate_scene({{dir.file("in.tif"), "DEM"}}, model, targets(""), options());
  EXPECT_GT(summary.resumed_rows, 0);
  OffsetTerrainModel reference_model;
  generate_scene({{dir.file("in.tif"), "DEM"}}, reference_model, targets("ref_"), small_options());
  EXPECT_EQ(read_band(dir.file("dem.tif")), read_band(dir.file("ref_dem.tif")));
}

TEST_F(Resume, RunWithoutResumeSaysWhatItKeeps) {
  interrupted_run(9, "");
  RecordingModel model;
  const TilingSummary summary =
      generate_scene({{dir.file("in.tif"), "DEM"}}, model, targets(""), small_options());
  std::string warnings;
  for (const auto& w : summary.warnings) warnings += w + "\n";
  EXPECT_NE(warnings.find(".dem.tif.tm-resume"), std::string::npos) << warnings;
}

TEST_F(Resume, RefusedWithOffsetHarmonisation) {
  OffsetTerrainModel model;
  std::vector<TargetRequest> requests{{"DEM", dir.file("dem.tif")}};
  requests[0].harmonise_offsets = true;
  EXPECT_THROW(generate_scene({{dir.file("in.tif"), "DEM"}}, model, requests, options()),
               std::invalid_argument);
  EXPECT_EQ(model.calls, 0);
}
