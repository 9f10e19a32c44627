// Opening generated rasters: connection strings, descriptors, subdatasets, open options, and what
// the dataset looks like (the source grid, bands, block size, colour table).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "plugin_test_support.h"
#include "test_paths.h"

using namespace terramind;
using namespace terramind::testing;

namespace {

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

float ramp(int band, int x, int y) { return 100.0f + 0.5f * x + 0.25f * y + band; }

}  // namespace

TEST(PluginOpen, DriverIsRegisteredWithItsMetadata) {
  GDALDriver* driver = GetGDALDriverManager()->GetDriverByName("TM");
  ASSERT_NE(driver, nullptr) << "gdal_TM.so not loaded from " << plugin_dir();
  EXPECT_STREQ(driver->GetMetadataItem(GDAL_DMD_CONNECTION_PREFIX), "TM:");
  EXPECT_STREQ(driver->GetMetadataItem(GDAL_DMD_EXTENSIONS), "tmgen");
  EXPECT_STREQ(driver->GetMetadataItem(GDAL_DMD_SUBDATASETS), "YES");
}

TEST(PluginOpen, ConnectionStringMirrorsTheSourceGrid) {
  Dataset source = open_raster(sample_scene());
  Dataset ds = open_raster(sample_connection("S1GRD"));
  ASSERT_TRUE(ds) << CPLGetLastErrorMsg();
  EXPECT_STREQ(ds->GetDriver()->GetDescription(), "TM");
  EXPECT_EQ(ds->GetRasterXSize(), source->GetRasterXSize());
  EXPECT_EQ(ds->GetRasterYSize(), source->GetRasterYSize());
  double expected[6], actual[6];
  ASSERT_EQ(source->GetGeoTransform(expected), CE_None);
  ASSERT_EQ(ds->GetGeoTransform(actual), CE_None);
  EXPECT_EQ(std::memcmp(expected, actual, sizeof(expected)), 0) << "geotransform bit for bit";
  ASSERT_NE(ds->GetSpatialRef(), nullptr);
  EXPECT_TRUE(ds->GetSpatialRef()->IsSame(source->GetSpatialRef()));

  ASSERT_EQ(ds->GetRasterCount(), 2) << "one band per S1GRD channel";
  for (int b = 1; b <= 2; ++b) {
    GDALRasterBand* band = ds->GetRasterBand(b);
    EXPECT_EQ(band->GetRasterDataType(), GDT_Float32);
    int has_nodata = 0;
    EXPECT_EQ(band->GetNoDataValue(&has_nodata), -9999.0);
    EXPECT_TRUE(has_nodata);
    int bx = 0, by = 0;
    band->GetBlockSize(&bx, &by);
    EXPECT_EQ(bx, 224 - 32) << "blocks start where windows start (the stride)";
    EXPECT_EQ(by, 224 - 32);
  }
  EXPECT_STREQ(ds->GetRasterBand(1)->GetDescription(), "VV");
  EXPECT_STREQ(ds->GetRasterBand(2)->GetDescription(), "VH");
  EXPECT_STREQ(ds->GetMetadataItem("TM_TARGET"), "S1GRD");
  EXPECT_STREQ(ds->GetMetadataItem("TM_BLENDING"), "taper");
  EXPECT_STREQ(ds->GetMetadataItem("TM_WINDOW_SIZE"), "224");
}

TEST(PluginOpen, LulcIsAClassBandWithColoursAndNames) {
  Dataset ds = open_raster(sample_connection("LULC"));
  ASSERT_TRUE(ds) << CPLGetLastErrorMsg();
  ASSERT_EQ(ds->GetRasterCount(), 1);
  GDALRasterBand* band = ds->GetRasterBand(1);
  EXPECT_EQ(band->GetRasterDataType(), GDT_Byte);
  EXPECT_EQ(band->GetColorInterpretation(), GCI_PaletteIndex);
  ASSERT_NE(band->GetColorTable(), nullptr);
  const auto& classes = ModalityRegistry::instance().lulc_classes();
  for (const LulcClass& c : classes) {
    const GDALColorEntry* entry = band->GetColorTable()->GetColorEntry(c.index);
    ASSERT_NE(entry, nullptr);
    EXPECT_EQ(entry->c1, c.rgb[0]);
    EXPECT_EQ(entry->c2, c.rgb[1]);
    EXPECT_EQ(entry->c3, c.rgb[2]);
  }
  char** names = band->GetCategoryNames();
  ASSERT_NE(names, nullptr);
  EXPECT_EQ(CSLCount(names), static_cast<int>(classes.size()));
  EXPECT_STREQ(names[1], "Water");
  const std::vector<double> window = read_values(band, 300, 300, 64, 64);
  for (double v : window) ASSERT_TRUE(v >= 0 && v < static_cast<double>(classes.size())) << v;
}

TEST(PluginOpen, DescriptorWithRelativePaths) {
  ScratchDir dir;
  std::filesystem::create_directories(dir.file("data"));
  std::filesystem::create_directories(dir.file("layers"));
  write_float_raster(dir.file("data/dem.tif"), 130, 90, 1, ramp);
  write_text(dir.file("layers/dem_to_s1.tmgen"), R"({
    "tm_descriptor": 1,
    "description": "S1GRD from a DEM, paths relative to this file",
    "inputs": {"DEM": "../data/dem.tif"},
    "target": "S1GRD",
    "model": "synthetic",
    "settings": {"window": 64, "overlap": 16, "blend": "mean", "seed": 3}
  })");
  const std::string cwd = std::filesystem::current_path();
  std::filesystem::current_path("/");  // relative to the descriptor, not to the current folder
  Dataset ds = open_raster(dir.file("layers/dem_to_s1.tmgen"));
  std::filesystem::current_path(cwd);
  ASSERT_TRUE(ds) << CPLGetLastErrorMsg();
  EXPECT_EQ(ds->GetRasterXSize(), 130);
  EXPECT_EQ(ds->GetRasterCount(), 2);
  EXPECT_STREQ(ds->GetMetadataItem("TM_INPUT_DEM"), dir.file("data/dem.tif").c_str());
  EXPECT_STREQ(ds->GetMetadataItem("TM_BLENDING"), "mean");
  EXPECT_STREQ(ds->GetMetadataItem("TM_WINDOW_SIZE"), "64");
  int bx = 0, by = 0;
  ds->GetRasterBand(1)->GetBlockSize(&bx, &by);
  EXPECT_EQ(bx, 96) << "stride 48 is below 64 px: two strides per block";
}

TEST(PluginOpen, QuotedPathsMayHoldColons) {
  ScratchDir dir;
  write_float_raster(dir.file("odd:name.tif"), 40, 30, 1, ramp);
  const std::string name = "TM:target=S1GRD:model=synthetic:DEM=\"" + dir.file("odd:name.tif") +
                           "\":window=32:overlap=8";
  Dataset ds = open_raster(name);
  ASSERT_TRUE(ds) << CPLGetLastErrorMsg();
  EXPECT_EQ(ds->GetRasterXSize(), 40);
  EXPECT_EQ(read_values(ds->GetRasterBand(1)).size(), 40u * 30);
}

TEST(PluginOpen, WithoutTargetListsOneSubdatasetPerModelTarget) {
  Dataset ds = open_raster("TM:model=synthetic:S2L2A=" + sample_scene());
  ASSERT_TRUE(ds) << CPLGetLastErrorMsg();
  EXPECT_EQ(ds->GetRasterCount(), 0);
  CPLStringList subdatasets(CSLDuplicate(ds->GetMetadata("SUBDATASETS")));
  ASSERT_EQ(subdatasets.size(), 4) << "NAME and DESC for LULC and S1GRD";
  const std::string first = subdatasets.FetchNameValueDef("SUBDATASET_1_NAME", "");
  EXPECT_EQ(first, sample_connection("LULC"));
  EXPECT_STREQ(subdatasets.FetchNameValue("SUBDATASET_2_DESC"),
               "S1GRD generated from S2L2A by synthetic");
  Dataset sub = open_raster(subdatasets.FetchNameValueDef("SUBDATASET_2_NAME", ""));
  ASSERT_TRUE(sub) << CPLGetLastErrorMsg();
  EXPECT_EQ(sub->GetRasterCount(), 2);
}

TEST(PluginOpen, DescriptorWithSeveralTargetsListsThemAndOpenOptionsPickOne) {
  ScratchDir dir;
  write_float_raster(dir.file("dem.tif"), 70, 50, 1, ramp);
  write_text(dir.file("both.tmgen"), R"({"tm_descriptor": 1, "inputs": {"DEM": "dem.tif"},
    "targets": ["S1GRD", "LULC"], "model": "synthetic", "settings": {"window": 32, "overlap": 8}})");
  Dataset list = open_raster(dir.file("both.tmgen"));
  ASSERT_TRUE(list) << CPLGetLastErrorMsg();
  const std::string name =
      CSLFetchNameValueDef(list->GetMetadata("SUBDATASETS"), "SUBDATASET_2_NAME", "");
  EXPECT_EQ(name, "TM:descriptor=" + dir.file("both.tmgen") + ":target=LULC");
  Dataset lulc = open_raster(name);
  ASSERT_TRUE(lulc) << CPLGetLastErrorMsg();
  EXPECT_EQ(lulc->GetRasterBand(1)->GetRasterDataType(), GDT_Byte);
  Dataset s1 = open_raster(dir.file("both.tmgen"), {"TARGET=S1GRD"});
  ASSERT_TRUE(s1) << CPLGetLastErrorMsg();
  EXPECT_EQ(s1->GetRasterCount(), 2);
}

TEST(PluginOpen, TwoDatasetsOnOneSettingsShareTheModel) {
  const int before = synthetic_models_opened();
  Dataset a = open_raster(sample_connection("S1GRD", ":seed=21"));
  Dataset b = open_raster(sample_connection("LULC", ":seed=21"));
  Dataset c = open_raster(sample_connection("S1GRD", ":seed=21"));
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(synthetic_models_opened() - before, 1) << "one model instance for one model setting";
}
