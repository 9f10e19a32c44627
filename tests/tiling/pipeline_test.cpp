// The streaming pipeline end to end with synthetic models: exact constant and identity mosaics,
// tiny scenes, georeferencing, one pass for all targets, batch independence, normalisation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>

#include "test_paths.h"
#include "tiling_test_support.h"

using namespace terramind;
using namespace terramind::testing;

namespace {

class Pipeline : public ::testing::Test {
 protected:
  // A DEM input (Float32, nodata -9999) with pixel values f(x, y).
  std::string dem_input(int width, int height, const std::function<float(int, int)>& f,
                        const std::string& name = "input.tif") {
    TestRaster raster;
    raster.width = width;
    raster.height = height;
    raster.nodata = -9999.0;
    write_raster(dir.file(name), raster, [&](int, int x, int y) { return f(x, y); });
    return dir.file(name);
  }

  ScratchDir dir;
};

float position_code(int x, int y) { return static_cast<float>(y * 1000 + x); }

}  // namespace

TEST_F(Pipeline, ConstantModelGivesAConstantMosaic) {
  const std::string input = dem_input(301, 517, position_code);
  for (const BlendWeighting weighting : {BlendWeighting::kTaper, BlendWeighting::kMean}) {
    const std::string tag = weighting == BlendWeighting::kTaper ? "taper" : "mean";
    RecordingModel model;
    TilingOptions options = small_options();
    options.weighting = weighting;
    generate_scene({{input, "DEM"}}, model,
                   {{"DEM", dir.file(tag + "_dem.tif")}, {"LULC", dir.file(tag + "_lulc.tif")}},
                   options);
    for (float v : read_band(dir.file(tag + "_dem.tif"))) ASSERT_EQ(v, 42.5f) << tag;
    for (float v : read_band(dir.file(tag + "_lulc.tif"))) ASSERT_EQ(v, 4.0f) << tag;
  }
}

TEST_F(Pipeline, IdentityModelPutsEveryPixelBackInPlace) {
  const std::string input = dem_input(333, 250, position_code);
  RecordingModel model;
  generate_scene({{input, "DEM"}}, model, {{"ECHO", dir.file("echo.tif")}}, small_options(64, 20));
  EXPECT_EQ(read_band(dir.file("echo.tif")), read_band(input));
}

TEST_F(Pipeline, SceneSmallerThanAWindowIsPaddedAndCropped) {
  const std::string input = dem_input(37, 50, position_code);
  for (const EdgePolicy edge : {EdgePolicy::kReflect, EdgePolicy::kFill}) {
    RecordingModel model;
    model.keep_batches = true;
    TilingOptions options = small_options(64, 16);
    options.edge = edge;
    options.write.overwrite = true;
    const TilingSummary summary =
        generate_scene({{input, "DEM"}}, model, {{"ECHO", dir.file("echo.tif")}}, options);
    EXPECT_EQ(summary.windows, 1u);
    ASSERT_EQ(model.windows_seen.size(), 1u);
    EXPECT_EQ(model.windows_seen[0].width, 64) << "the model sees a full window";
    const InputTensor& seen = model.batches_kept.at(0).inputs.at(0);
    ASSERT_EQ(seen.values.size(), 64u * 64);
    if (edge == EdgePolicy::kReflect)
      EXPECT_EQ(seen.values[10 * 64 + 37], position_code(35, 10)) << "mirrored padding";
    else
      EXPECT_EQ(seen.valid[10 * 64 + 37], 0) << "constant padding is marked invalid";
    const SceneReader out = SceneReader::open(dir.file("echo.tif"));
    EXPECT_EQ(out.info().width, 37);
    EXPECT_EQ(out.info().height, 50);
    EXPECT_EQ(read_band(dir.file("echo.tif")), read_band(input));
  }
}

TEST_F(Pipeline, OutputsKeepTheInputGridBitForBit) {
  TestRaster raster;
  raster.width = 150;
  raster.height = 130;
  raster.geotransform = {712345.67, 10.0, 0.0, 4987654.3, 0.0, -10.0};
  raster.crs = "EPSG:32633";
  raster.nodata = -9999.0;
  write_raster(dir.file("in.tif"), raster, [](int, int x, int y) { return float(x + y); });
  RecordingModel model;
  TilingOptions options = small_options();
  options.write.format = OutputFormat::kCOG;
  const TilingSummary summary = generate_scene(
      {{dir.file("in.tif"), "DEM"}}, model,
      {{"DEM", dir.file("dem.tif")}, {"LULC", dir.file("lulc.tif"), dir.file("lulc_p.tif")}},
      options);
  EXPECT_EQ(summary.outputs, (std::vector<std::string>{dir.file("dem.tif"), dir.file("lulc.tif"),
                                                       dir.file("lulc_p.tif")}));
  const RasterInfo in = inspect_raster(dir.file("in.tif"));
  for (const std::string name : {"dem.tif", "lulc.tif", "lulc_p.tif"}) {
    SCOPED_TRACE(name);
    const RasterInfo out = inspect_raster(dir.file(name));
    EXPECT_EQ(out.width, in.width);
    EXPECT_EQ(out.height, in.height);
    EXPECT_EQ(std::memcmp(out.georef.geotransform.data(), in.georef.geotransform.data(),
                          sizeof(double) * 6),
              0);
    EXPECT_TRUE(out.georef.same_grid_as(in.georef));
  }
  EXPECT_EQ(inspect_raster(dir.file("dem.tif")).nodata, -9999.0);
  EXPECT_EQ(inspect_raster(dir.file("lulc.tif")).data_type, "Byte");
  EXPECT_EQ(inspect_raster(dir.file("lulc.tif")).nodata, 0.0);
  // Probabilities: Byte percentages, one band per class but "No data".
  EXPECT_EQ(inspect_raster(dir.file("lulc_p.tif")).band_count, 9);
  EXPECT_EQ(inspect_raster(dir.file("lulc_p.tif")).data_type, "Byte");
  EXPECT_EQ(inspect_raster(dir.file("lulc_p.tif")).band_units.at(0), "percent");
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"dem.tif", "in.tif", "lulc.tif",
                                                     "lulc.tif.aux.xml", "lulc_p.tif"}));
}

TEST_F(Pipeline, AllTargetsComeFromOneInferencePerWindow) {
  const std::string input = dem_input(200, 180, position_code);
  RecordingModel model;
  const TilingSummary summary =
      generate_scene({{input, "DEM"}}, model,
                     {{"DEM", dir.file("dem.tif")},
                      {"ECHO", dir.file("echo.tif")},
                      {"LULC", dir.file("lulc.tif"), dir.file("lulc_p.tif")}},
                     small_options());
  const WindowGrid grid(200, 180, 64, 16);
  EXPECT_EQ(summary.windows, grid.count());
  EXPECT_EQ(summary.inferred, grid.count());
  EXPECT_EQ(summary.skipped, 0u);
  ASSERT_EQ(model.windows_seen.size(), grid.count()) << "each window inferred once";
  std::set<std::pair<int, int>> positions;
  for (const PixelWindow& w : model.windows_seen) positions.insert({w.x, w.y});
  EXPECT_EQ(positions.size(), grid.count());
  EXPECT_EQ(summary.batches, (grid.count() + 4) / 5);
  // Band k holds class k (class 0, "No data", has no band), in percent.
  EXPECT_EQ(read_band(dir.file("lulc_p.tif"), 4), std::vector<float>(200 * 180, 55.0f));
  EXPECT_EQ(read_band(dir.file("lulc_p.tif"), 1), std::vector<float>(200 * 180, 5.0f));
}

TEST_F(Pipeline, BatchSizeAndThreadsDoNotChangeTheResult) {
  const std::string input = dem_input(230, 210, position_code);
  std::vector<float> first;
  for (const auto& [batch, threads] : std::vector<std::pair<int, int>>{{1, 1}, {7, 2}, {64, 2}}) {
    OffsetTerrainModel model;
    TilingOptions options = small_options();
    options.batch_size = batch;
    options.threads = threads;
    options.write.overwrite = true;
    TargetRequest dem{"DEM", dir.file("dem.tif")};
    dem.harmonise_offsets = true;
    generate_scene({{input, "DEM"}}, model, {dem}, options);
    const std::vector<float> result = read_band(dir.file("dem.tif"));
    if (first.empty())
      first = result;
    else
      EXPECT_EQ(result, first) << "batch " << batch << ", threads " << threads;
  }
}

TEST_F(Pipeline, StandardisesInputsOnlyWhenTheModelAsks) {
  const std::string input = dem_input(100, 90, [](int x, int y) { return float(100 + x + y); });
  const ChannelStats& stats = ModalityRegistry::instance().get("DEM").stats(StatsVersion::kV1);
  RecordingModel raw;
  generate_scene({{input, "DEM"}}, raw, {{"ECHO", dir.file("raw.tif")}}, small_options());
  EXPECT_EQ(read_band(dir.file("raw.tif")), read_band(input)) << "raw values, untouched";

  RecordingModel standardising;
  standardising.standardisation = StatsVersion::kV1;
  generate_scene({{input, "DEM"}}, standardising, {{"ECHO", dir.file("std.tif")}}, small_options());
  const std::vector<float> in = read_band(input), out = read_band(dir.file("std.tif"));
  for (std::size_t i = 0; i < in.size(); ++i)
    ASSERT_NEAR(out[i], (in[i] - stats.mean[0]) / stats.std[0], 1e-5);
}

TEST_F(Pipeline, SampleSceneKeepsItsNodataWedge) {
  RecordingModel model;
  TilingOptions options;  // defaults: 224 px windows, taper, COG
  options.threads = 2;
  const TilingSummary summary =
      generate_scene({{sample_scene(), "S2L2A"}}, model, {{"DEM", dir.file("dem.tif")}}, options);
  EXPECT_EQ(summary.windows, 36u);
  const SceneReader scene = SceneReader::open(sample_scene());
  const WindowData sample = scene.read({0, 0, 1024, 1024});
  const std::vector<float> dem = read_band(dir.file("dem.tif"));
  std::size_t nodata = 0;
  for (std::size_t i = 0; i < dem.size(); ++i) {
    // The wedge has every band at 0: invalid; elsewhere the constant.
    ASSERT_EQ(dem[i], sample.valid[i] ? 42.5f : -9999.0f) << "pixel " << i;
    nodata += !sample.valid[i];
  }
  EXPECT_GT(nodata, 0u) << "the sample has a nodata wedge";
}

TEST_F(Pipeline, ReportsProgressAndHoldsOneBandOfRows) {
  const std::string input = dem_input(80, 3000, position_code);
  RecordingModel model;
  TilingOptions options = small_options();
  std::vector<std::size_t> done;
  options.progress = [&](std::size_t d, std::size_t total) {
    EXPECT_EQ(total, WindowGrid(80, 3000, 64, 16).count());
    done.push_back(d);
  };
  const TilingSummary summary =
      generate_scene({{input, "DEM"}}, model,
                     {{"DEM", dir.file("dem.tif")}, {"ECHO", dir.file("echo.tif")}}, options);
  ASSERT_FALSE(done.empty());
  EXPECT_TRUE(std::is_sorted(done.begin(), done.end()));
  EXPECT_EQ(done.back(), summary.windows);
  EXPECT_LE(summary.peak_band_rows, 64) << "never more than one window height of rows";
  EXPECT_EQ(summary.accumulator_bytes, 2u * 64 * 80 * 2 * sizeof(double))
      << "two 1-channel targets: sums and weights for 64 rows of 80 px";
  EXPECT_GT(summary.peak_rss_bytes, 0u);
  EXPECT_GT(summary.model_busy_share(), 0.0);
  EXPECT_LE(summary.model_busy_share(), 1.0);
}

TEST_F(Pipeline, RefusesBadRequestsBeforeAnyWork) {
  const std::string input = dem_input(100, 100, position_code);
  RecordingModel model;
  auto error = [&](const std::vector<TargetRequest>& targets, TilingOptions options) {
    try {
      generate_scene({{input, "DEM"}}, model, targets, options);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const TilingOptions options = small_options();
  EXPECT_NE(error({{"S1GRD", dir.file("a.tif")}}, options).find("cannot generate S1GRD"),
            std::string::npos);
  EXPECT_NE(
      error({{"DEM", dir.file("a.tif"), dir.file("p.tif")}}, options).find("not a class target"),
      std::string::npos);
  TargetRequest harmonised_classes{"LULC", dir.file("a.tif")};
  harmonised_classes.harmonise_offsets = true;
  EXPECT_NE(error({harmonised_classes}, options).find("continuous targets"), std::string::npos);
  EXPECT_NE(
      error({{"DEM", dir.file("a.tif")}, {"ECHO", dir.file("a.tif")}}, options).find("used twice"),
      std::string::npos);
  EXPECT_NE(error({{"DEM", input}}, options).find("used twice (or is an input)"),
            std::string::npos);
  model.size_multiple = 32;
  TilingOptions odd = small_options(48, 16);
  EXPECT_NE(error({{"DEM", dir.file("a.tif")}}, odd).find("not a multiple of 32"),
            std::string::npos);
  model.size_multiple = 1;
  TilingOptions no_overlap_room = small_options(64, 64);
  EXPECT_NE(error({{"DEM", dir.file("a.tif")}}, no_overlap_room).find("overlap"),
            std::string::npos);
  EXPECT_EQ(model.calls, 0);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"input.tif"}) << "nothing written";
}

// A mosaic tile is a part of a larger pixel grid (tm/mosaic.h): its windows must reach the model
// at their position in that grid, so seeds and pixels do not depend on where the part starts.
TEST_F(Pipeline, GridOffsetPassesWindowsAtTheirGlobalPosition) {
  const std::string input = dem_input(112, 112, position_code);
  RecordingModel plain, shifted;
  generate_scene({{input, "DEM"}}, plain, {{"DEM", dir.file("plain.tif")}}, small_options());
  TilingOptions options = small_options();
  options.grid_offset_x = 480;
  options.grid_offset_y = -96;
  generate_scene({{input, "DEM"}}, shifted, {{"DEM", dir.file("shifted.tif")}}, options);
  ASSERT_EQ(plain.windows_seen.size(), shifted.windows_seen.size());
  for (std::size_t i = 0; i < plain.windows_seen.size(); ++i) {
    EXPECT_EQ(shifted.windows_seen[i].x, plain.windows_seen[i].x + 480);
    EXPECT_EQ(shifted.windows_seen[i].y, plain.windows_seen[i].y - 96);
    EXPECT_EQ(shifted.windows_seen[i].width, plain.windows_seen[i].width);
  }
  // The raster itself is not moved: same grid, same pixels (the model ignores positions).
  EXPECT_EQ(read_band(dir.file("plain.tif")), read_band(dir.file("shifted.tif")));
  EXPECT_EQ(inspect_raster(dir.file("shifted.tif")).provenance.at("GRID_OFFSET"), "480,-96");
}
