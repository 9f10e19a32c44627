// Nodata: empty windows are skipped and stay nodata, partially empty windows are filled before
// inference, and several inputs count as empty only where all of them are.
#include <gtest/gtest.h>

#include <cmath>
#include <optional>

#include "test_paths.h"
#include "tiling_test_support.h"

using namespace terramind;
using namespace terramind::testing;

namespace {
constexpr float kNodata = -9999.0f;
}

TEST(Nodata, EmptyWindowsAreSkippedAndStayNodata) {
  ScratchDir dir;
  TestRaster raster;
  raster.width = 300;
  raster.height = 200;
  raster.nodata = kNodata;
  // Columns x < 150 are empty: windows at x = 0 and 48 (64 px wide) hold no data at all.
  write_raster(dir.file("in.tif"), raster,
               [](int, int x, int y) { return x < 150 ? kNodata : float(x + y); });
  RecordingModel model;
  const TilingSummary summary = generate_scene(
      {{dir.file("in.tif"), "DEM"}}, model,
      {{"DEM", dir.file("dem.tif")}, {"LULC", dir.file("lulc.tif"), dir.file("lulc_p.tif")}},
      small_options());
  const WindowGrid grid(300, 200, 64, 16);
  EXPECT_EQ(summary.skipped, 2u * grid.rows());
  EXPECT_EQ(summary.inferred, grid.count() - summary.skipped);
  for (const PixelWindow& w : model.windows_seen)
    EXPECT_GE(w.x + w.width, 150) << "empty window inferred";
  const std::vector<float> dem = read_band(dir.file("dem.tif"));
  const std::vector<float> lulc = read_band(dir.file("lulc.tif"));
  // Byte percentages, one band per real class (band 3 = class 3), 255 where nothing was generated.
  const std::vector<float> probability = read_band(dir.file("lulc_p.tif"), 3);
  for (int y = 0; y < 200; ++y)
    for (int x = 0; x < 300; ++x) {
      const std::size_t i = static_cast<std::size_t>(y) * 300 + x;
      ASSERT_EQ(dem[i], x < 150 ? kNodata : 42.5f) << x << "," << y;
      ASSERT_EQ(lulc[i], x < 150 ? 0.0f : 4.0f);
      ASSERT_EQ(probability[i], x < 150 ? 255.0f : 5.0f);
    }
}

TEST(Nodata, PartiallyEmptyWindowsAreFilledWithTheWindowMean) {
  ScratchDir dir;
  TestRaster raster;
  raster.width = 150;
  raster.height = 120;
  raster.nodata = kNodata;
  auto hole = [](int x, int y) { return (x * 7 + y * 3) % 11 == 0 || (x > 100 && y > 90); };
  write_raster(dir.file("in.tif"), raster,
               [&](int, int x, int y) { return hole(x, y) ? kNodata : float(x + 2 * y); });
  RecordingModel model;
  model.keep_batches = true;
  generate_scene({{dir.file("in.tif"), "DEM"}}, model, {{"ECHO", dir.file("echo.tif")}},
                 small_options());
  std::size_t windows = 0;
  for (const InputBatch& batch : model.batches_kept) {
    const InputTensor& in = batch.inputs.at(0);
    const std::size_t plane = 64 * 64;
    for (int k = 0; k < batch.count; ++k, ++windows) {
      const PixelWindow& w = batch.windows[k];
      double sum = 0.0;
      std::size_t count = 0;
      for (std::size_t p = 0; p < plane; ++p) {
        const int x = w.x + static_cast<int>(p % 64), y = w.y + static_cast<int>(p / 64);
        ASSERT_EQ(in.valid[k * plane + p], hole(x, y) ? 0 : 1) << "mask passed to the model";
        if (in.valid[k * plane + p]) {
          sum += in.values[k * plane + p];
          ++count;
        }
      }
      const float fill = static_cast<float>(sum / count);
      for (std::size_t p = 0; p < plane; ++p) {
        ASSERT_NE(in.values[k * plane + p], kNodata) << "the model never sees nodata";
        if (!in.valid[k * plane + p]) {
          ASSERT_FLOAT_EQ(in.values[k * plane + p], fill);
        }
      }
    }
  }
  EXPECT_EQ(windows, WindowGrid(150, 120, 64, 16).count());
  const std::vector<float> echo = read_band(dir.file("echo.tif"));
  for (int y = 0; y < 120; ++y)
    for (int x = 0; x < 150; ++x)
      ASSERT_EQ(echo[y * 150 + x], hole(x, y) ? kNodata : float(x + 2 * y)) << x << "," << y;
}

TEST(Nodata, OutputIsEmptyOnlyWhereEveryInputIs) {
  ScratchDir dir;
  TestRaster dem;
  dem.width = 200;
  dem.height = 160;
  dem.nodata = kNodata;
  write_raster(dir.file("dem.tif"), dem,
               [](int, int x, int y) { return x < 100 ? kNodata : 500.0f; });
  TestRaster s1 = dem;
  s1.bands = 2;
  write_raster(dir.file("s1.tif"), s1,
               [](int b, int x, int y) { return y < 70 ? kNodata : -12.0f - b; });
  RecordingModel model;
  model.keep_batches = true;
  const TilingSummary summary =
      generate_scene({{dir.file("dem.tif"), "DEM"}, {dir.file("s1.tif"), "S1GRD"}}, model,
                     {{"DEM", dir.file("out.tif")}}, small_options());
  EXPECT_EQ(summary.skipped, 1u) << "only the window at (0, 0) is empty in both inputs";
  const std::vector<float> out = read_band(dir.file("out.tif"));
  for (int y = 0; y < 160; ++y)
    for (int x = 0; x < 200; ++x)
      ASSERT_EQ(out[y * 200 + x], (x < 100 && y < 70) ? kNodata : 42.5f) << x << "," << y;
  // A window where the DEM holds nothing but S1 does: the DEM is filled with its registry mean.
  const double dem_mean = ModalityRegistry::instance().get("DEM").stats(StatsVersion::kV1).mean[0];
  bool checked = false;
  for (const InputBatch& batch : model.batches_kept)
    for (int k = 0; k < batch.count; ++k)
      if (batch.windows[k].x == 0 && batch.windows[k].y == 48) {
        EXPECT_FLOAT_EQ(batch.find("DEM")->values[k * 64 * 64], static_cast<float>(dem_mean));
        EXPECT_EQ(batch.find("S1GRD")->values[(k * 2 + 1) * 64 * 64 + 63 * 64], -13.0f);
        checked = true;
      }
  EXPECT_TRUE(checked);
}

// +-inf and values no sensor produces (3e38, a billion metres) are nodata: they never reach the
// model (which would turn them into NaN logits mid-run) and their output pixels stay nodata.
TEST(Nodata, NonFiniteAndAbsurdValuesAreNodata) {
  ScratchDir dir;
  TestRaster raster;
  raster.width = 150;
  raster.height = 120;
  raster.nodata = kNodata;
  auto bad = [](int x, int y) -> std::optional<float> {
    if (x == 10 && y == 10) return INFINITY;
    if (x == 70 && y == 20) return -INFINITY;
    if (x == 100 && y == 100) return 3e38f;
    if (x == 20 && y == 90) return 1e9f;
    return std::nullopt;
  };
  write_raster(dir.file("in.tif"), raster, [&](int, int x, int y) {
    return bad(x, y).value_or(x == 50 && y == 50 ? 8000.0f : float(x + y));
  });
  RecordingModel model;
  model.keep_batches = true;
  generate_scene({{dir.file("in.tif"), "DEM"}}, model, {{"ECHO", dir.file("echo.tif")}},
                 small_options());
  for (const InputBatch& batch : model.batches_kept) {
    const InputTensor& in = batch.inputs.at(0);
    for (std::size_t i = 0; i < in.values.size(); ++i)
      ASSERT_TRUE(std::isfinite(in.values[i]) && std::abs(in.values[i]) < 1e5f)
          << "the model got " << in.values[i];
  }
  const std::vector<float> echo = read_band(dir.file("echo.tif"));
  for (int y = 0; y < 120; ++y)
    for (int x = 0; x < 150; ++x) {
      const float expected = bad(x, y) ? kNodata : x == 50 && y == 50 ? 8000.0f : float(x + y);
      ASSERT_EQ(echo[y * 150 + x], expected) << x << "," << y;
    }
}
