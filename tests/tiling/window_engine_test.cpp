// The shared pieces of the window engine (tm/window_engine.h): run checks, one grid cell's read,
// and the blend arithmetic that BlendAccumulator and the GDAL plugin's blocks both use.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "test_paths.h"
#include "tiling_test_support.h"
#include "tm/window_engine.h"

using namespace terramind;
using namespace terramind::testing;

namespace {

std::string refusal(const std::function<void()>& run) {
  try {
    run();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

// Window outputs with some invalid pixels, the same for a given cell whoever asks.
struct Outputs {
  Outputs(const WindowGrid& grid, int channels) : channels(channels) {
    std::mt19937 random(7);
    std::uniform_real_distribution<float> value(-50.0f, 50.0f);
    const std::size_t plane = static_cast<std::size_t>(grid.window_size()) * grid.window_size();
    for (std::size_t i = 0; i < grid.count(); ++i) {
      values.emplace_back(plane * channels);
      valid.emplace_back(plane);
      for (float& v : values.back()) v = value(random);
      for (std::uint8_t& m : valid.back()) m = random() % 5 != 0;
    }
  }
  int channels;
  std::vector<std::vector<float>> values;
  std::vector<std::vector<std::uint8_t>> valid;
};

}  // namespace

TEST(WindowEngine, ValidateRunRefusesWhatTheModelCannotDo) {
  RecordingModel model;
  const std::vector<SceneInput> dem{{"dem.tif", "DEM"}};
  const RunPlan plan = validate_run(model, dem, {"ECHO", "LULC"}, 64);
  ASSERT_EQ(plan.inputs.size(), 1u);
  EXPECT_EQ(plan.inputs[0]->name, "DEM");
  ASSERT_EQ(plan.targets.size(), 2u);
  EXPECT_TRUE(plan.targets[1].is_classes);
  EXPECT_FALSE(plan.standardise);

  EXPECT_NE(refusal([&] {
              validate_run(model, {{"a.tif", "DEM"}, {"b.tif", "elevation"}}, {"DEM"}, 64);
            }).find("modality DEM is given twice as input"),
            std::string::npos);
  const std::string not_taken = refusal([&] {
    validate_run(model, {{"c.tif", "LULC"}}, {"DEM"}, 64);
  });
  EXPECT_NE(not_taken.find("the model does not take LULC as input (c.tif); it takes S2L2A"),
            std::string::npos)
      << not_taken;
  EXPECT_NE(refusal([&] {
              validate_run(model, dem, {"S1GRD"}, 64);
            }).find("the model cannot generate S1GRD (it offers DEM, ECHO, LULC)"),
            std::string::npos);
  EXPECT_NE(refusal([&] {
              validate_run(model, dem, {"DEM", "DEM"}, 64);
            }).find("target DEM is requested twice"),
            std::string::npos);
  EXPECT_NE(refusal([&] { validate_run(model, dem, {}, 64); }).find("no output target"),
            std::string::npos);
  EXPECT_NE(refusal([&] { validate_run(model, {}, {"DEM"}, 64); }).find("no input scene"),
            std::string::npos);
  model.size_multiple = 32;
  EXPECT_NE(refusal([&] {
              validate_run(model, dem, {"DEM"}, 48);
            }).find("window size 48 is not a multiple of 32, which the model needs"),
            std::string::npos);
}

TEST(WindowEngine, CellReaderSkipsWindowsWithoutDataAndMasksAnyInput) {
  ScratchDir dir;
  TestRaster dem;
  dem.width = 80;
  dem.height = 40;
  dem.nodata = -9999.0;
  // Data only in x < 20 (DEM) and in 20 <= x < 30 (S1GRD); nothing at x >= 40.
  write_raster(dir.file("dem.tif"), dem,
               [](int, int x, int) { return x < 20 ? 100.0f : -9999.0f; });
  TestRaster s1 = dem;
  s1.bands = 2;
  write_raster(dir.file("s1.tif"), s1,
               [](int, int x, int) { return x >= 20 && x < 30 ? -12.0f : -9999.0f; });
  const std::vector<OpenedInput> inputs = open_scene_inputs(
      {{dir.file("dem.tif"), "DEM"}, {dir.file("s1.tif"), "S1GRD"}}, OpenOptions{});
  CellReader reader(inputs, EdgePolicy::kReflect, std::nullopt);
  ASSERT_EQ(reader.inputs(), 2u);

  EXPECT_FALSE(reader.read({40, 0, 40, 40})) << "no input holds data there";
  const std::size_t plane = 40 * 40;
  std::vector<float> dem_values(plane), s1_values(2 * plane);
  std::vector<std::uint8_t> dem_valid(plane), s1_valid(plane), any(plane, 7);
  float* values[] = {dem_values.data(), s1_values.data()};
  std::uint8_t* valids[] = {dem_valid.data(), s1_valid.data()};
  EXPECT_FALSE(reader.read_prepared({40, 0, 40, 40}, values, valids, any.data()));
  EXPECT_EQ(any, std::vector<std::uint8_t>(plane, 7)) << "a skipped window writes nothing";

  ASSERT_TRUE(reader.read_prepared({0, 0, 40, 40}, values, valids, any.data()));
  for (int x = 0; x < 40; ++x) {
    EXPECT_EQ(dem_valid[x], x < 20) << x;
    EXPECT_EQ(s1_valid[x], x >= 20 && x < 30) << x;
    EXPECT_EQ(any[x], x < 30) << x;
  }
  EXPECT_EQ(dem_values[0], 100.0f);
  EXPECT_EQ(dem_values[30], 100.0f) << "invalid pixels get the window's mean of valid ones";
  EXPECT_EQ(s1_values[plane + 25], -12.0f);
}

// The plugin blends each block with blend_add/blend_normalise over the block's area; the result
// must equal the accumulator's streamed rows bit for bit, wherever the block lies.
TEST(WindowEngine, AreaBlendEqualsTheAccumulatorBitForBit) {
  const WindowGrid grid(150, 110, 48, 12);
  const int channels = 3;
  const BlendWeights weights(grid, BlendWeighting::kTaper);
  const Outputs outputs(grid, channels);

  BlendAccumulator accumulator(grid, channels, BlendWeighting::kTaper);
  FinishedRows full;
  full.width = grid.raster_width();
  full.channels = channels;
  full.values.assign(static_cast<std::size_t>(channels) * 150 * 110, 0.0f);
  full.valid.assign(150 * 110, 0);
  for (int row = 0; row < grid.rows(); ++row) {
    for (int col = 0; col < grid.cols(); ++col) {
      const std::size_t i = static_cast<std::size_t>(row) * grid.cols() + col;
      accumulator.add(row, col, outputs.values[i].data(), outputs.valid[i].data());
    }
    const FinishedRows strip = accumulator.finish_through(row);
    for (int r = 0; r < strip.rows; ++r)
      for (int c = 0; c < strip.width; ++c) {
        const std::size_t p = static_cast<std::size_t>(strip.y0 + r) * 150 + c;
        full.valid[p] = strip.valid[static_cast<std::size_t>(r) * strip.width + c];
        for (int ch = 0; ch < channels; ++ch)
          full.values[ch * std::size_t(150 * 110) + p] = strip.at(ch, r, c);
      }
  }

  for (const PixelWindow area :
       {PixelWindow{0, 0, 150, 110}, PixelWindow{30, 17, 64, 50}, PixelWindow{101, 70, 49, 40}}) {
    const std::size_t plane = static_cast<std::size_t>(area.width) * area.height;
    std::vector<double> sums(plane * channels, 0.0), weight_sums(plane, 0.0);
    const BlendSums into{area, channels, 0, sums.data(), weight_sums.data()};
    for (int row = 0; row < grid.rows(); ++row)
      for (int col = 0; col < grid.cols(); ++col) {
        const std::size_t i = static_cast<std::size_t>(row) * grid.cols() + col;
        blend_add(into, grid, weights, row, col, outputs.values[i].data(), outputs.valid[i].data());
      }
    std::vector<float> values(plane * channels);
    std::vector<std::uint8_t> valid(plane);
    blend_normalise(into, area.y, area.height, values.data(), valid.data(), false);
    for (int y = 0; y < area.height; ++y)
      for (int x = 0; x < area.width; ++x) {
        const std::size_t p = static_cast<std::size_t>(y) * area.width + x;
        const std::size_t q = static_cast<std::size_t>(area.y + y) * 150 + area.x + x;
        ASSERT_EQ(valid[p], full.valid[q]) << x << "," << y;
        for (int ch = 0; ch < channels; ++ch) {
          const float a = values[ch * plane + p], b = full.values[ch * std::size_t(150 * 110) + q];
          if (std::isnan(b))
            EXPECT_TRUE(std::isnan(a)) << "nothing added at " << x << "," << y;
          else
            EXPECT_EQ(std::memcmp(&a, &b, sizeof a), 0) << a << " vs " << b;
        }
      }
  }
}

TEST(WindowEngine, RecycledRingRowsStartFromZero) {
  const WindowGrid grid(40, 40, 20, 0);
  const BlendWeights weights(grid, BlendWeighting::kMean);
  std::vector<double> sums(20 * 40, 0.0), weight_sums(20 * 40, 0.0);
  const BlendSums ring{{0, 0, 40, 40}, 1, 20, sums.data(), weight_sums.data()};
  const std::vector<float> ones(20 * 20, 1.0f), twos(20 * 20, 2.0f);
  std::vector<float> values(20 * 40);
  std::vector<std::uint8_t> valid(20 * 40);
  blend_add(ring, grid, weights, 0, 0, ones.data(), nullptr);
  blend_add(ring, grid, weights, 0, 1, ones.data(), nullptr);
  blend_normalise(ring, 0, 20, values.data(), valid.data(), true);
  EXPECT_EQ(values, std::vector<float>(20 * 40, 1.0f));
  EXPECT_EQ(sums, std::vector<double>(20 * 40, 0.0)) << "handed-out rows are zeroed";
  blend_add(ring, grid, weights, 1, 0, twos.data(), nullptr);  // rows 20..39: the same storage
  blend_normalise(ring, 20, 20, values.data(), valid.data(), true);
  EXPECT_EQ(values[0], 2.0f);
  EXPECT_EQ(valid[0], 1);
  EXPECT_TRUE(std::isnan(values[30])) << "column 30 of window row 1 was not added";
  EXPECT_EQ(valid[30], 0);
}
