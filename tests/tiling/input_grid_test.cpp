// Multi-modal input: any subset of modalities, on one grid, or refused with both files named.
#include <gtest/gtest.h>

#include "test_paths.h"
#include "tiling_test_support.h"

using namespace terramind;
using namespace terramind::testing;

namespace {

class InputGrid : public ::testing::Test {
 protected:
  void SetUp() override {
    TestRaster dem;
    dem.width = 120;
    dem.height = 100;
    write_raster(dir.file("dem.tif"), dem, [](int, int x, int y) { return float(x + y); });
  }
  // An S1GRD raster on the DEM grid, changed by `edit`.
  std::string s1(const std::function<void(TestRaster&)>& edit) {
    TestRaster raster;
    raster.width = 120;
    raster.height = 100;
    raster.bands = 2;
    edit(raster);
    write_raster(dir.file("s1.tif"), raster, [](int b, int, int) { return -10.0f - b; });
    return dir.file("s1.tif");
  }
  std::string refusal(const std::vector<SceneInput>& inputs) {
    RecordingModel model;
    try {
      generate_scene(inputs, model, {{"DEM", dir.file("out.tif")}}, small_options());
    } catch (const std::exception& e) {
      EXPECT_EQ(model.calls, 0);
      return e.what();
    }
    return "";
  }
  void expect_refused(const std::string& what, const std::string& difference) {
    SCOPED_TRACE(what);
    EXPECT_NE(what.find(dir.file("dem.tif")), std::string::npos) << "names the first file";
    EXPECT_NE(what.find(dir.file("s1.tif")), std::string::npos) << "names the second file";
    EXPECT_NE(what.find(difference), std::string::npos);
    EXPECT_FALSE(dir.entries().empty());
    for (const std::string& name : dir.entries())
      EXPECT_TRUE(name == "dem.tif" || name == "s1.tif") << "left behind: " << name;
  }
  ScratchDir dir;
};

}  // namespace

TEST_F(InputGrid, InputsOnOneGridAreUsedTogether) {
  s1([](TestRaster&) {});
  RecordingModel model;
  model.keep_batches = true;
  model.echo_channels = 2;
  generate_scene({{dir.file("s1.tif"), "sen1grd"}, {dir.file("dem.tif"), "DEM"}}, model,
                 {{"ECHO", dir.file("echo.tif")}}, small_options());
  ASSERT_FALSE(model.batches_kept.empty());
  const InputBatch& batch = model.batches_kept.front();
  ASSERT_EQ(batch.inputs.size(), 2u);
  EXPECT_EQ(batch.inputs[0].modality, "S1GRD") << "inputs in the order given, canonical names";
  EXPECT_EQ(batch.inputs[0].channels, 2);
  EXPECT_EQ(batch.inputs[1].modality, "DEM");
  EXPECT_EQ(read_band(dir.file("echo.tif"), 2), std::vector<float>(120 * 100, -11.0f));
}

TEST_F(InputGrid, ShiftedOriginIsRefused) {
  const std::string path = s1([](TestRaster& r) { r.geotransform[0] += 10.0; });
  const std::string what = refusal({{dir.file("dem.tif"), "DEM"}, {path, "S1GRD"}});
  expect_refused(what, "geotransform origin (600000, 5300000)");
  EXPECT_NE(what.find("not on one grid"), std::string::npos) << what;
  EXPECT_NE(what.find("gdalwarp -t_srs EPSG:32632 -te 600000 5299000 601200 5300000 -ts 120 100"),
            std::string::npos)
      << what;
}

TEST_F(InputGrid, DifferentSizeIsRefused) {
  const std::string path = s1([](TestRaster& r) { r.width = 121; });
  expect_refused(refusal({{dir.file("dem.tif"), "DEM"}, {path, "S1GRD"}}),
                 "size 120x100 vs 121x100");
}

TEST_F(InputGrid, DifferentCrsIsRefused) {
  const std::string path = s1([](TestRaster& r) { r.crs = "EPSG:32633"; });
  expect_refused(refusal({{dir.file("dem.tif"), "DEM"}, {path, "S1GRD"}}), "CRS");
}

TEST_F(InputGrid, EachInputMustMatchItsModality) {
  const std::string what = refusal({{dir.file("dem.tif"), "S2L2A"}});
  EXPECT_NE(what.find(dir.file("dem.tif") + " cannot be read as S2L2A: 1 band, S2L2A has 12"),
            std::string::npos)
      << what;
  EXPECT_NE(refusal({{dir.file("dem.tif"), "DEM"}, {dir.file("dem.tif"), "elevation"}})
                .find("DEM is given twice"),
            std::string::npos);
  EXPECT_NE(refusal({{dir.file("dem.tif"), "LULC"}}).find("does not take LULC"), std::string::npos);
  EXPECT_NE(refusal({}).find("no input"), std::string::npos);
}
