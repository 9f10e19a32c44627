// gdal_translate of a TM virtual raster writes exactly what generate_scene (tm_generate's engine)
// writes for the same model and settings: bit for bit, nodata and classes included.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "plugin_test_support.h"
#include "test_paths.h"

using namespace terramind;
using namespace terramind::testing;

namespace {

void gdal_translate(const std::string& source, const std::string& destination) {
  const std::string command =
      gdal_translate_program() + " -q -of GTiff '" + source + "' '" + destination + "'";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

// Every band of both rasters, compared in their stored type byte for byte.
void expect_identical_rasters(const std::string& expected_path, const std::string& actual_path) {
  Dataset expected = open_raster(expected_path);
  Dataset actual = open_raster(actual_path);
  ASSERT_TRUE(expected && actual);
  ASSERT_EQ(actual->GetRasterCount(), expected->GetRasterCount());
  double gt_expected[6], gt_actual[6];
  expected->GetGeoTransform(gt_expected);
  actual->GetGeoTransform(gt_actual);
  EXPECT_EQ(std::memcmp(gt_expected, gt_actual, sizeof(gt_expected)), 0);
  for (int b = 1; b <= expected->GetRasterCount(); ++b) {
    GDALRasterBand* e = expected->GetRasterBand(b);
    GDALRasterBand* a = actual->GetRasterBand(b);
    ASSERT_EQ(a->GetRasterDataType(), e->GetRasterDataType());
    const std::vector<unsigned char> eb = read_raw(e), ab = read_raw(a);
    if (eb == ab) continue;
    const std::vector<double> ev = read_values(e), av = read_values(a);
    std::size_t differing = 0, first = 0;
    for (std::size_t i = 0; i < ev.size(); ++i)
      if (ev[i] != av[i] && !(std::isnan(ev[i]) && std::isnan(av[i])) && differing++ == 0)
        first = i;
    ADD_FAILURE() << "band " << b << ": " << differing << " pixels differ; first at ("
                  << first % e->GetXSize() << ", " << first / e->GetXSize() << "): expected "
                  << ev[first] << ", got " << av[first];
  }
}

struct Case {
  std::string inputs_connection;  // ":S2L2A=..." part
  std::vector<SceneInput> inputs;
  std::string settings_connection;  // ":window=...:seed=..." part
  TilingOptions options;
  std::string model_json;
};

void expect_translate_equals_generate_scene(const Case& c, const std::string& target) {
  ScratchDir dir;
  const std::shared_ptr<WindowModel> model = open_synthetic_model(c.model_json);
  TilingOptions options = c.options;
  options.write.format = OutputFormat::kGTiff;
  generate_scene(c.inputs, *model, {{target, dir.file("generated.tif")}}, options);
  gdal_translate(
      "TM:target=" + target + ":model=synthetic" + c.inputs_connection + c.settings_connection,
      dir.file("translated.tif"));
  expect_identical_rasters(dir.file("generated.tif"), dir.file("translated.tif"));
}

}  // namespace

TEST(TranslateEquality, SampleSceneWithDefaultSettings) {
  Case c;
  c.inputs_connection = ":S2L2A=" + sample_scene();
  c.inputs = {{sample_scene(), "S2L2A"}};
  c.settings_connection = ":seed=5";
  c.model_json = R"({"model": "synthetic", "seed": 5})";
  for (const std::string target : {"S1GRD", "LULC"}) {
    SCOPED_TRACE(target);
    expect_translate_equals_generate_scene(c, target);
  }
}

// A scene lower than one window (padded by the edge policy), nodata holes and NaN, irregular
// flush windows, plain-mean blending, small batches.
TEST(TranslateEquality, SmallSceneWithOtherSettings) {
  ScratchDir data;
  write_float_raster(data.file("dem.tif"), 157, 50, 1, [](int, int x, int y) {
    if (x > 60 && x < 75 && y > 10 && y < 30) return -9999.0f;
    if (x > 120 && y < 8) return std::nanf("");
    return 250.0f + 0.7f * x - 0.4f * y + 5.0f * std::sin(x / 9.0f);
  });
  for (const EdgePolicy edge : {EdgePolicy::kReplicate, EdgePolicy::kFill}) {
    Case c;
    c.inputs_connection = ":DEM=" + data.file("dem.tif");
    c.inputs = {{data.file("dem.tif"), "DEM"}};
    c.settings_connection = std::string(":window=64:overlap=24:blend=mean:batch=3:edge=") +
                            (edge == EdgePolicy::kFill ? "fill" : "replicate");
    c.options.window_size = 64;
    c.options.overlap = 24;
    c.options.weighting = BlendWeighting::kMean;
    c.options.batch_size = 3;
    c.options.edge = edge;
    c.model_json = R"({"model": "synthetic"})";
    for (const std::string target : {"S1GRD", "LULC"}) {
      SCOPED_TRACE(target + (edge == EdgePolicy::kFill ? " fill" : " replicate"));
      expect_translate_equals_generate_scene(c, target);
    }
  }
}
