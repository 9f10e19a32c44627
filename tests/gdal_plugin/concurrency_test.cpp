// Several datasets in one process, read from several threads (one dataset per thread, as GDAL
// 3.6 requires), sharing one model; the window cache and overviews.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <thread>

#include "plugin_test_support.h"
#include "test_paths.h"

using namespace terramind;
using namespace terramind::testing;

namespace {

// The generated raster written by generate_scene, per band, for comparison.
std::vector<std::vector<unsigned char>> generated_bands(const std::string& target, int seed,
                                                        const ScratchDir& dir) {
  const std::shared_ptr<WindowModel> model =
      open_synthetic_model(R"({"model": "synthetic", "seed": )" + std::to_string(seed) + "}");
  TilingOptions options;
  options.write.format = OutputFormat::kGTiff;
  const std::string path = dir.file(target + std::to_string(seed) + ".tif");
  generate_scene({{sample_scene(), "S2L2A"}}, *model, {{target, path}}, options);
  Dataset ds = open_raster(path);
  std::vector<std::vector<unsigned char>> bands;
  for (int b = 1; b <= ds->GetRasterCount(); ++b) bands.push_back(read_raw(ds->GetRasterBand(b)));
  return bands;
}

// Reads every block of every band in an order of its own into a full-raster buffer per band.
std::vector<std::vector<unsigned char>> read_shuffled(GDALDataset* ds, unsigned seed) {
  GDALRasterBand* first = ds->GetRasterBand(1);
  int bx = 0, by = 0;
  first->GetBlockSize(&bx, &by);
  const int w = ds->GetRasterXSize(), h = ds->GetRasterYSize();
  std::vector<std::pair<int, int>> blocks;
  for (int y = 0; y < (h + by - 1) / by; ++y)
    for (int x = 0; x < (w + bx - 1) / bx; ++x) blocks.emplace_back(x, y);
  std::shuffle(blocks.begin(), blocks.end(), std::mt19937(seed));
  std::vector<std::vector<unsigned char>> bands;
  for (int b = 1; b <= ds->GetRasterCount(); ++b) {
    GDALRasterBand* band = ds->GetRasterBand(b);
    const int size = GDALGetDataTypeSizeBytes(band->GetRasterDataType());
    std::vector<unsigned char> full(static_cast<std::size_t>(w) * h * size);
    for (const auto& [x, y] : blocks) {
      const int x0 = x * bx, y0 = y * by, cw = std::min(bx, w - x0), ch = std::min(by, h - y0);
      const std::vector<unsigned char> part = read_raw(band, x0, y0, cw, ch);
      for (int r = 0; r < ch; ++r)
        std::copy_n(part.begin() + static_cast<std::size_t>(r) * cw * size, cw * size,
                    full.begin() + ((static_cast<std::size_t>(y0) + r) * w + x0) * size);
    }
    bands.push_back(std::move(full));
  }
  return bands;
}

}  // namespace

TEST(PluginConcurrency, ThreadsWithTheirOwnDatasetsReadIdenticalPixels) {
  ScratchDir dir;
  const int seed = 41;
  const auto s1 = generated_bands("S1GRD", seed, dir);
  const auto lulc = generated_bands("LULC", seed, dir);
  const int opened_before = synthetic_models_opened();

  // Eight threads, two targets, each thread its own dataset and block order; the model (slowed
  // down a little) and the window cache are shared.
  const std::string extra = ":seed=" + std::to_string(seed) + ":opt.delay_ms=1:batch=2";
  constexpr int kThreads = 8;
  std::vector<std::vector<std::vector<unsigned char>>> results(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      try {
        Dataset ds = open_raster(sample_connection(t % 2 ? "LULC" : "S1GRD", extra));
        if (!ds) throw std::runtime_error(CPLGetLastErrorMsg());
        results[t] = read_shuffled(ds.get(), 1000u + t);
      } catch (const std::exception& e) {
        errors[t] = e.what();
      }
    });
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(errors[t], "") << "thread " << t;
    EXPECT_TRUE(results[t] == (t % 2 ? lulc : s1)) << "thread " << t << " read other pixels";
  }
  EXPECT_EQ(synthetic_models_opened() - opened_before, 1) << "one shared model instance";
}

TEST(PluginConcurrency, SeveralScenesOpenAtOnceInOneThread) {
  Dataset a = open_raster(sample_connection("S1GRD", ":seed=42"));
  Dataset b = open_raster(sample_connection("S1GRD", ":seed=43"));
  ASSERT_TRUE(a && b);
  const auto va = read_values(a->GetRasterBand(1), 500, 500, 40, 40);
  const auto vb = read_values(b->GetRasterBand(1), 500, 500, 40, 40);
  for (std::size_t i = 0; i < va.size(); ++i)
    ASSERT_NEAR(vb[i] - va[i], 0.001, 1e-4) << "seed shifts the synthetic output by 0.001";
}

TEST(PluginWindowCache, PanningBackGeneratesNothingNew) {
  Dataset ds = open_raster(sample_connection("S1GRD", ":seed=51"));
  ASSERT_TRUE(ds);
  read_values(ds->GetRasterBand(1), 100, 100, 400, 300);
  const long generated = statistic(ds.get(), "WINDOWS_GENERATED");
  EXPECT_GT(generated, 0);
  // A second dataset on the same settings (QGIS opens one per rendering thread) reading the
  // same view and a little around it: GDAL's block cache is per dataset, the window cache is not.
  Dataset again = open_raster(sample_connection("S1GRD", ":seed=51"));
  read_values(again->GetRasterBand(2), 110, 100, 380, 300);
  EXPECT_EQ(statistic(again.get(), "WINDOWS_GENERATED"), generated);
  EXPECT_GT(statistic(again.get(), "CACHE_HITS"), 0);
}

TEST(PluginWindowCache, StaysWithinItsBound) {
  Dataset bounded = open_raster(sample_connection("LULC", ":seed=52:cache_mb=4"));
  Dataset roomy = open_raster(sample_connection("LULC", ":seed=53"));
  ASSERT_TRUE(bounded && roomy);
  const auto small_cache = read_raw(bounded->GetRasterBand(1));
  // One LULC window: 10 classes x 224 x 224 floats (2 MB): a 4 MB cache holds at most two.
  EXPECT_LE(statistic(bounded.get(), "CACHE_BYTES"), 4l << 20);
  EXPECT_LE(statistic(bounded.get(), "CACHE_ENTRIES"), 36);
  read_raw(roomy->GetRasterBand(1));
  EXPECT_GT(statistic(bounded.get(), "WINDOWS_GENERATED"),
            statistic(roomy.get(), "WINDOWS_GENERATED"))
      << "evicted windows are generated again";
  EXPECT_EQ(statistic(roomy.get(), "WINDOWS_GENERATED_LEVEL_0") +
                statistic(roomy.get(), "WINDOWS_SKIPPED"),
            36)
      << "a roomy cache generates each of the 6 x 6 windows once";
}

TEST(PluginOverviews, ZoomedOutViewsRunOnCoarseWindowsOnly) {
  Dataset ds = open_raster(sample_connection("LULC", ":seed=61"));
  ASSERT_TRUE(ds);
  GDALRasterBand* band = ds->GetRasterBand(1);
  ASSERT_EQ(band->GetOverviewCount(), 3) << "1024 px and 224 px windows: 512, 256, 128";
  EXPECT_EQ(band->GetOverview(0)->GetXSize(), 512);
  EXPECT_EQ(band->GetOverview(2)->GetXSize(), 128);
  EXPECT_EQ(band->GetOverview(0)->GetColorTable()->GetColorEntryCount(),
            band->GetColorTable()->GetColorEntryCount());
  // A whole-scene view 128 px wide, as a zoomed-out map canvas asks for it.
  std::vector<GByte> view(128 * 128);
  ASSERT_EQ(
      band->RasterIO(GF_Read, 0, 0, 1024, 1024, view.data(), 128, 128, GDT_Byte, 0, 0, nullptr),
      CE_None);
  EXPECT_EQ(statistic(ds.get(), "WINDOWS_GENERATED_LEVEL_0"), 0) << "no full-resolution window";
  EXPECT_EQ(statistic(ds.get(), "WINDOWS_GENERATED_LEVEL_3"), 1) << "128 px: one window";
  std::size_t classified = std::count_if(view.begin(), view.end(), [](GByte v) { return v != 0; });
  EXPECT_GT(classified, view.size() / 2);
}
