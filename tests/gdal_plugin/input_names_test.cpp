// Input names: plain relative paths are resolved (against the current folder, or the descriptor's
// folder), GDAL's own dataset names (subdataset syntaxes such as GTIFF_DIR:1:<path>, /vsi paths,
// URLs) are passed to GDAL as they are, as tm_generate does.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "plugin_test_support.h"
#include "test_paths.h"

using namespace terramind;
using namespace terramind::testing;

namespace {

// A real Sentinel-2 L2A chip (224 x 224, 12 bands, UTM): shared/data/README.md.
std::string real_s2l2a() { return data_dir() + "/terramesh_examples/S2L2A/282D_485L_3_3.tif"; }

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::vector<std::vector<unsigned char>> all_bands(GDALDataset* ds) {
  std::vector<std::vector<unsigned char>> bands;
  for (int b = 1; b <= ds->GetRasterCount(); ++b) bands.push_back(read_raw(ds->GetRasterBand(b)));
  return bands;
}

// A connection-string value in quotes (connection_string.cpp's grammar).
std::string quoted(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string open_error(const std::string& name) {
  return errors_of([&] {
    GDALDataset* ds = GDALDataset::Open(name.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY);
    EXPECT_EQ(ds, nullptr) << name;
    if (ds) GDALClose(ds);
  });
}

}  // namespace

TEST(PluginInputNames, SubdatasetNameInAConnectionStringIsGivenToGdalAsItIs) {
  ASSERT_TRUE(std::filesystem::exists(real_s2l2a())) << real_s2l2a();
  const std::string gtiff_dir = "GTIFF_DIR:1:" + real_s2l2a();
  Dataset plain = open_raster("TM:target=S1GRD:model=synthetic:seed=71:S2L2A=" + real_s2l2a());
  ASSERT_TRUE(plain) << CPLGetLastErrorMsg();
  Dataset ds = open_raster("TM:target=S1GRD:model=synthetic:seed=71:S2L2A=\"" + gtiff_dir + "\"");
  ASSERT_TRUE(ds) << CPLGetLastErrorMsg();
  EXPECT_STREQ(ds->GetMetadataItem("TM_INPUT_S2L2A"), gtiff_dir.c_str());
  EXPECT_EQ(ds->GetRasterXSize(), 224);
  EXPECT_TRUE(all_bands(ds.get()) == all_bands(plain.get()))
      << "the first directory of the GeoTIFF is the GeoTIFF: the same pixels";
  // Without a target: the subdataset names carry the input name as given, and open again.
  Dataset list = open_raster("TM:model=synthetic:seed=71:S2L2A=\"" + gtiff_dir + "\"");
  ASSERT_TRUE(list) << CPLGetLastErrorMsg();
  const std::string s1grd =
      CSLFetchNameValueDef(list->GetMetadata("SUBDATASETS"), "SUBDATASET_2_NAME", "");
  EXPECT_NE(s1grd.find("S2L2A=\"" + gtiff_dir + "\""), std::string::npos) << s1grd;
  Dataset sub = open_raster(s1grd);
  ASSERT_TRUE(sub) << s1grd << ": " << CPLGetLastErrorMsg();
  EXPECT_TRUE(all_bands(sub.get()) == all_bands(plain.get()));
}

TEST(PluginInputNames, SubdatasetNameInADescriptorIsGivenToGdalAsItIs) {
  ScratchDir dir;
  const std::string gtiff_dir = "GTIFF_DIR:1:" + real_s2l2a();
  write_text(dir.file("chip.tmgen"), R"({"tm_descriptor": 1,
    "inputs": {"S2L2A": ")" + gtiff_dir + R"("},
    "target": "LULC", "model": "synthetic", "settings": {"seed": 72}})");
  Dataset ds = open_raster(dir.file("chip.tmgen"));
  ASSERT_TRUE(ds) << CPLGetLastErrorMsg();
  EXPECT_STREQ(ds->GetMetadataItem("TM_INPUT_S2L2A"), gtiff_dir.c_str());
  Dataset plain = open_raster("TM:target=LULC:model=synthetic:seed=72:S2L2A=" + real_s2l2a());
  ASSERT_TRUE(plain) << CPLGetLastErrorMsg();
  EXPECT_TRUE(all_bands(ds.get()) == all_bands(plain.get()));
  // Open options on top of the descriptor keep the input name as written.
  Dataset s1 = open_raster(dir.file("chip.tmgen"), {"TARGET=S1GRD"});
  ASSERT_TRUE(s1) << CPLGetLastErrorMsg();
  EXPECT_STREQ(s1->GetMetadataItem("TM_INPUT_S2L2A"), gtiff_dir.c_str());
}

TEST(PluginInputNames, OtherDriverSyntaxesAreNotPrefixedWithTheCurrentFolder) {
  const std::string cwd = std::filesystem::current_path().string();
  // Not there, so GDAL refuses them: the message must name them as given.
  for (const std::string& name :
       {std::string("NETCDF:\"absent.nc\":tas"), std::string("HDF5:\"absent.h5\"://data"),
        std::string("SENTINEL2_L2A:absent/MTD_MSIL2A.xml:10m:EPSG_32632")}) {
    const std::string message = open_error("TM:target=S1GRD:model=synthetic:S2L2A=" + quoted(name));
    EXPECT_NE(message.find("TM: " + name), std::string::npos) << message;
    EXPECT_EQ(message.find(cwd + "/"), std::string::npos) << message;
  }
}

TEST(PluginInputNames, RelativePlainPathsAreStillResolved) {
  ScratchDir dir;
  std::filesystem::create_directories(dir.file("layers"));
  // A relative file name holding a colon (and looking like a prefix) that exists is a file.
  write_float_raster(dir.file("layers/dem:v2.tif"), 40, 30, 1,
                     [](int, int x, int y) { return 10.0f + x + y; });
  write_text(dir.file("layers/dem.tmgen"), R"({"tm_descriptor": 1,
    "inputs": {"DEM": "dem:v2.tif"}, "target": "S1GRD", "model": "synthetic",
    "settings": {"window": 32, "overlap": 8}})");
  const std::string cwd = std::filesystem::current_path();
  std::filesystem::current_path("/");
  Dataset ds = open_raster(dir.file("layers/dem.tmgen"));
  std::filesystem::current_path(cwd);
  ASSERT_TRUE(ds) << CPLGetLastErrorMsg();
  EXPECT_STREQ(ds->GetMetadataItem("TM_INPUT_DEM"), dir.file("layers/dem:v2.tif").c_str());
  // A relative name that is not there is still resolved, so the message says where it looked.
  EXPECT_NE(open_error("TM:target=S1GRD:model=synthetic:S2L2A=absent_scene.tif")
                .find("input not found: " + cwd + "/absent_scene.tif"),
            std::string::npos);
}
