// Generated elevation is guessed per window: offsets show as a patch grid. The seam metric sees
// it, and offset harmonisation removes it while streaming.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "test_paths.h"
#include "tiling_test_support.h"

using namespace terramind;
using namespace terramind::testing;

TEST(SeamStrength, SmoothFieldHasNoSeamsAndSteppedFieldHas) {
  const WindowGrid grid(300, 260, 64, 16);
  std::vector<float> smooth(300 * 260), stepped(300 * 260);
  for (int y = 0; y < 260; ++y)
    for (int x = 0; x < 300; ++x) {
      smooth[y * 300 + x] = terrain(x, y);
      // Each pixel takes the level of the last window starting at or before it.
      const int col = static_cast<int>(
          std::upper_bound(grid.col_origins().begin(), grid.col_origins().end(), x) -
          grid.col_origins().begin());
      const int row = static_cast<int>(
          std::upper_bound(grid.row_origins().begin(), grid.row_origins().end(), y) -
          grid.row_origins().begin());
      stepped[y * 300 + x] = terrain(x, y) + 10.0f * ((row * 7 + col * 3) % 5);
    }
  const SeamStrength none = measure_seams(smooth.data(), grid);
  EXPECT_NEAR(none.ratio(), 1.0, 0.15);
  EXPECT_GT(none.seam_pairs, 0u);
  EXPECT_GT(none.interior_pairs, 0u);
  EXPECT_GT(measure_seams(stepped.data(), grid).ratio(), 2.0);
}

TEST(Harmonisation, RemovesThePatchGridOfPerWindowOffsets) {
  ScratchDir dir;
  TestRaster raster;
  raster.width = 420;
  raster.height = 380;
  raster.nodata = -9999.0;
  // A nodata corner, so alignment also has to cope with missing neighbours.
  write_raster(dir.file("in.tif"), raster,
               [](int, int x, int y) { return x + y < 90 ? -9999.0f : 1.0f; });
  const WindowGrid grid(420, 380, 64, 16);
  for (const BlendWeighting weighting : {BlendWeighting::kTaper, BlendWeighting::kMean}) {
    const std::string tag = weighting == BlendWeighting::kTaper ? "taper" : "mean";
    SCOPED_TRACE(tag);
    double ratios[2];
    for (const bool harmonise : {false, true}) {
      OffsetTerrainModel model;
      TilingOptions options = small_options();
      options.weighting = weighting;
      TargetRequest dem{"DEM", dir.file(tag + (harmonise ? "_h.tif" : ".tif"))};
      dem.harmonise_offsets = harmonise;
      generate_scene({{dir.file("in.tif"), "DEM"}}, model, {dem}, options);
      ratios[harmonise] = measure_seams(dem.path, grid).ratio();
      if (harmonise) {
        // Every window now sits at one common level: the mosaic is terrain + one constant.
        const std::vector<float> out = read_band(dem.path);
        double lo = 1e9, hi = -1e9;
        for (int y = 0; y < 380; ++y)
          for (int x = 0; x < 420; ++x) {
            if (x + y < 90) {
              ASSERT_EQ(out[y * 420 + x], -9999.0f);
              continue;
            }
            const double d = out[y * 420 + x] - terrain(x, y);
            lo = std::min(lo, d);
            hi = std::max(hi, d);
          }
        EXPECT_LT(hi - lo, 0.01);
      }
    }
    std::printf("[ seams    ] %s blending: seam strength %.2f without, %.2f with harmonisation\n",
                tag.c_str(), ratios[0], ratios[1]);
    EXPECT_GT(ratios[0], 1.5) << "per-window offsets show as a patch grid";
    EXPECT_LT(ratios[1], 1.1) << "harmonised: no grid";
  }
}
