// Reading scenes, checking them against modalities, and georeferencing round trips.
#include <gdal_priv.h>
#include <gtest/gtest.h>
#include <ogr_spatialref.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>

#include "test_paths.h"
#include "tm/tiling.h"

using namespace terramind;
using terramind::testing::contains;
using terramind::testing::error_of;
using terramind::testing::ScratchDir;

namespace {

const Modality& modality(const char* name) { return ModalityRegistry::instance().get(name); }

// Writes a small raster straight through GDAL (independent of the writer under test).
void make_raster(const std::string& path, int width, int height, int bands, GDALDataType type,
                 const std::vector<double>& values, bool georeferenced = true,
                 std::optional<double> nodata = std::nullopt,
                 const std::vector<std::string>& descriptions = {}) {
  GDALAllRegister();
  GDALDriver* driver = GetGDALDriverManager()->GetDriverByName("GTiff");
  GDALDataset* ds = driver->Create(path.c_str(), width, height, bands, type, nullptr);
  ASSERT_NE(ds, nullptr);
  if (georeferenced) {
    double gt[6] = {790236.0404, 10, 0, 7198039.2523, 0, -10};
    ds->SetGeoTransform(gt);
    OGRSpatialReference srs;
    srs.importFromEPSG(32722);
    ds->SetSpatialRef(&srs);
  }
  for (int b = 1; b <= bands; ++b) {
    if (nodata) ds->GetRasterBand(b)->SetNoDataValue(*nodata);
    if (b <= static_cast<int>(descriptions.size()))
      ds->GetRasterBand(b)->SetDescription(descriptions[b - 1].c_str());
  }
  if (!values.empty()) {
    std::vector<double> copy = values;
    EXPECT_EQ(ds->RasterIO(GF_Write, 0, 0, width, height, copy.data(), width, height, GDT_Float64,
                           bands, nullptr, 0, 0, 0, nullptr),
              CE_None);
  }
  GDALClose(ds);
}

std::vector<double> ramp(int n) {
  std::vector<double> v(n);
  for (int i = 0; i < n; ++i) v[i] = i + 1;
  return v;
}

}  // namespace

TEST(SceneReader, SampleSceneIsAGeoreferencedS2L2A) {
  const SceneReader scene = SceneReader::open(terramind::testing::sample_scene());
  const RasterInfo& info = scene.info();
  EXPECT_GE(info.width, 1024);
  EXPECT_GE(info.height, 1024);
  EXPECT_EQ(info.band_count, 12);
  EXPECT_EQ(info.data_type, "UInt16");
  ASSERT_TRUE(info.nodata.has_value());
  EXPECT_TRUE(info.georef.is_georeferenced());
  EXPECT_TRUE(contains(crs_display_name(info.georef.crs_wkt), "EPSG:32632"));
  EXPECT_TRUE(check_modality(info, modality("S2L2A")).ok);
  // The nodata wedge exists and the rest is data with plausible reflectances.
  const WindowData corner = scene.read({0, info.height - 64, 64, 64});
  EXPECT_LT(corner.valid_count(), corner.valid.size());
  const WindowData centre = scene.read({info.width / 2, info.height / 2, 64, 64});
  EXPECT_EQ(centre.valid_count(), centre.valid.size());
  for (float v : centre.values) {
    EXPECT_GT(v, 0.0f);
    EXPECT_LT(v, 12000.0f);
  }
}

TEST(SceneReader, EdgePoliciesAreDefined) {
  ScratchDir dir;
  // 4 x 3 raster, values 1..12 row-major.
  make_raster(dir.file("small.tif"), 4, 3, 1, GDT_Int16, ramp(12));
  const SceneReader scene = SceneReader::open(dir.file("small.tif"));
  const PixelWindow w{-2, -1, 8, 5};  // 2 px left, 1 px above, 2 px right, 1 px below
  const WindowData fill = scene.read(w, EdgePolicy::kFill, -7.0f);
  EXPECT_EQ(fill.at(0, 0, 0), -7.0f);
  EXPECT_EQ(fill.valid[0], 0);
  EXPECT_EQ(fill.at(0, 1, 2), 1.0f);  // raster (0,0)
  EXPECT_EQ(fill.valid[1 * 8 + 2], 1);
  EXPECT_EQ(fill.valid_count(), 12u);

  const WindowData reflect = scene.read(w, EdgePolicy::kReflect);
  // Row -1 mirrors row 1, column -2 mirrors column 2, column 5 (=4+1) mirrors column 2.
  EXPECT_EQ(reflect.at(0, 0, 0), 7.0f);  // raster (row 1, col 2)
  EXPECT_EQ(reflect.at(0, 1, 1), 2.0f);  // raster (row 0, col 1)
  EXPECT_EQ(reflect.at(0, 4, 7), 6.0f);  // row 3 -> 1, col 5 -> 1
  EXPECT_EQ(reflect.valid_count(), reflect.valid.size());

  const WindowData replicate = scene.read(w, EdgePolicy::kReplicate);
  EXPECT_EQ(replicate.at(0, 0, 0), 1.0f);   // clamps to (0,0)
  EXPECT_EQ(replicate.at(0, 4, 7), 12.0f);  // clamps to (2,3)
}

TEST(SceneReader, WindowLargerThanTheRasterReflectsRepeatedly) {
  ScratchDir dir;
  make_raster(dir.file("tiny.tif"), 3, 2, 1, GDT_Float32, ramp(6));
  const SceneReader scene = SceneReader::open(dir.file("tiny.tif"));
  const WindowData data = scene.read({0, 0, 9, 5}, EdgePolicy::kReflect);
  // Columns 0..8 reflect as 0 1 2 1 0 1 2 1 0; rows 0..4 as 0 1 0 1 0.
  const int cols[] = {0, 1, 2, 1, 0, 1, 2, 1, 0};
  const int rows[] = {0, 1, 0, 1, 0};
  for (int r = 0; r < 5; ++r)
    for (int c = 0; c < 9; ++c) EXPECT_EQ(data.at(0, r, c), rows[r] * 3 + cols[c] + 1);
}

TEST(SceneReader, NodataAndNanPixelsAreInvalid) {
  ScratchDir dir;
  std::vector<double> values = {1, -9999, 3, NAN, 5, 6,       // band 1
                                1, 2,     3, 4,   5, -9999};  // band 2
  make_raster(dir.file("nan.tif"), 3, 2, 2, GDT_Float32, values, true, -9999.0);
  const SceneReader scene = SceneReader::open(dir.file("nan.tif"));
  const WindowData data = scene.read({0, 0, 3, 2});
  const std::vector<std::uint8_t> expected = {1, 0, 1, 0, 1, 0};
  EXPECT_EQ(data.valid, expected);
  // Without a nodata value, NaN still counts as missing.
  make_raster(dir.file("nan2.tif"), 3, 2, 1, GDT_Float32, {1, 2, NAN, 4, 5, 6});
  EXPECT_EQ(SceneReader::open(dir.file("nan2.tif")).read({0, 0, 3, 2}).valid_count(), 5u);
}

TEST(SceneReader, RefusesMissingFilesAndNonRasters) {
  ScratchDir dir;
  EXPECT_TRUE(contains(error_of([&] { SceneReader::open(dir.file("absent.tif")); }),
                       "input not found: " + dir.file("absent.tif")));
  std::ofstream(dir.file("notes.txt")) << "this is not an image\n";
  EXPECT_TRUE(contains(error_of([&] { SceneReader::open(dir.file("notes.txt")); }),
                       "is not a raster GDAL can read"));
  EXPECT_THROW(inspect_raster(dir.file("notes.txt")), RasterError);
}

TEST(SceneReader, UngeoreferencedRastersAreRefusedUnlessAllowed) {
  ScratchDir dir;
  make_raster(dir.file("plain.tif"), 4, 4, 1, GDT_Float32, ramp(16), /*georeferenced=*/false);
  const std::string error = error_of([&] { SceneReader::open(dir.file("plain.tif")); });
  EXPECT_TRUE(contains(error, "has no georeferencing")) << error;
  OpenOptions allow;
  allow.allow_ungeoreferenced = true;
  const SceneReader scene = SceneReader::open(dir.file("plain.tif"), allow);
  ASSERT_EQ(scene.info().warnings.size(), 1u);
  EXPECT_TRUE(contains(scene.info().warnings[0], "bare pixel grid"));
}

TEST(ModalityCheck, BandCountTypeAndDescriptions) {
  ScratchDir dir;
  const RasterInfo sample = inspect_raster(terramind::testing::sample_scene());
  const ModalityCheck l1c = check_modality(sample, modality("S2L1C"));
  EXPECT_FALSE(l1c.ok);
  EXPECT_TRUE(contains(l1c.summary(), "12 bands, S2L1C has 13")) << l1c.summary();
  EXPECT_THROW(require_modality(sample, modality("S1GRD")), RasterError);

  // Data type: complex values are accepted by no modality.
  make_raster(dir.file("complex.tif"), 4, 4, 2, GDT_CFloat32, {});
  const ModalityCheck complex =
      check_modality(inspect_raster(dir.file("complex.tif")), modality("S1GRD"));
  EXPECT_FALSE(complex.ok);
  EXPECT_TRUE(contains(complex.summary(), "data type CFloat32 is not accepted for S1GRD"));

  // Descriptions naming bands are compared; swapped VV/VH is caught.
  make_raster(dir.file("vhvv.tif"), 4, 4, 2, GDT_Float32, {}, true, std::nullopt, {"VH", "VV"});
  const ModalityCheck swapped =
      check_modality(inspect_raster(dir.file("vhvv.tif")), modality("S1GRD"));
  EXPECT_FALSE(swapped.ok);
  EXPECT_TRUE(contains(swapped.summary(), "band 1 is described as 'VH', S1GRD expects VV"));
  // Generic descriptions are not held against a file.
  make_raster(dir.file("generic.tif"), 4, 4, 2, GDT_Float32, {}, true, std::nullopt,
              {"bands", "bands"});
  EXPECT_TRUE(check_modality(inspect_raster(dir.file("generic.tif")), modality("S1GRD")).ok);
  // Sequences are not rasters.
  EXPECT_FALSE(check_modality(sample, modality("coords")).ok);
}

TEST(ModalityCheck, RealSamplesFromSharedData) {
  const std::string data = terramind::testing::data_dir();
  const std::string sample_id = "282D_485L_3_3";
  for (const char* name : {"S2L2A", "S2L1C", "S2RGB", "S1RTC", "DEM", "LULC", "NDVI"}) {
    const std::string path = data + "/terramesh_examples/" + name + "/" + sample_id + ".tif";
    const ModalityCheck check = check_modality(inspect_raster(path), modality(name));
    EXPECT_TRUE(check.ok) << path << ": " << check.summary();
  }
  // Sen1Floods11 S2 chips name their 13 bands B1..B12: L1C order, checked by description.
  const RasterInfo s2hand = inspect_raster(data + "/sen1floods11/S2Hand/Spain_7370579_S2Hand.tif");
  EXPECT_TRUE(check_modality(s2hand, modality("S2L1C")).ok);
  EXPECT_FALSE(check_modality(s2hand, modality("S2L2A")).ok);
  const RasterInfo s1hand = inspect_raster(data + "/sen1floods11/S1Hand/Spain_7370579_S1Hand.tif");
  EXPECT_TRUE(check_modality(s1hand, modality("S1GRD")).ok);
  const RasterInfo tile =
      inspect_raster(data + "/s2l2a_tile_T29RKH/S2L2A_T29RKH_20200219_100m_12band.tif");
  EXPECT_TRUE(check_modality(tile, modality("S2L2A")).ok)
      << check_modality(tile, modality("S2L2A")).summary();
}

// Pixel sizes in metres, projected and geographic, against the modalities' native 10 m.
TEST(Resolution, PixelSizesAreCheckedAgainstTheModality) {
  const std::string data = terramind::testing::data_dir();
  auto modality = [](const char* name) { return ModalityRegistry::instance().get(name); };
  const RasterInfo utm = inspect_raster(terramind::testing::sample_scene());
  EXPECT_NEAR(*pixel_size_metres(utm), 10.0, 1e-9);
  EXPECT_EQ(resolution_mismatch(utm, modality("S2L2A")), "");
  // 0.0000898 degrees at 38.1 N: 7.9 m east-west, 9.9 m north-south.
  const RasterInfo wgs84 = inspect_raster(data + "/sen1floods11/S1Hand/Spain_7370579_S1Hand.tif");
  EXPECT_NEAR(*pixel_size_metres(wgs84), std::sqrt(7.87 * 10.0), 0.1);
  EXPECT_EQ(resolution_mismatch(wgs84, modality("S1GRD")), "");
  const RasterInfo coarse =
      inspect_raster(data + "/s2l2a_tile_T29RKH/S2L2A_T29RKH_20200219_100m_12band.tif");
  EXPECT_NEAR(*pixel_size_metres(coarse), 100.0, 1e-6);
  EXPECT_TRUE(
      contains(resolution_mismatch(coarse, modality("S2L2A")), "pixel size 100 m, S2L2A is 10 m"))
      << resolution_mismatch(coarse, modality("S2L2A"));
  RasterInfo bare = utm;
  bare.georef.crs_wkt.clear();
  EXPECT_FALSE(pixel_size_metres(bare).has_value()) << "no CRS: nothing to check";
}

// Read every pixel of `src`, write it through AtomicRasterWriter, compare everything.
class RoundTrip : public ::testing::TestWithParam<OutputFormat> {};

TEST_P(RoundTrip, PreservesGeoreferencingAndPixelsBitForBit) {
  ScratchDir dir;
  const std::vector<std::string> sources = {
      terramind::testing::sample_scene(),
      terramind::testing::data_dir() + "/terramesh_examples/S2L2A/282D_485L_3_3.tif",  // odd origin
      terramind::testing::data_dir() +
          "/sen1floods11/S1Hand/Spain_7370579_S1Hand.tif"};  // EPSG:4326, NaN
  int n = 0;
  for (const auto& source : sources) {
    const SceneReader in = SceneReader::open(source);
    const RasterInfo& info = in.info();
    RasterSpec spec;
    spec.width = info.width;
    spec.height = info.height;
    spec.bands = info.band_count;
    spec.data_type = info.data_type;
    spec.georef = info.georef;
    spec.nodata = info.nodata;
    spec.band_descriptions = info.band_descriptions;
    const std::string out_path = dir.file("copy" + std::to_string(n++) + ".tif");
    {
      WriteOptions options;
      options.format = GetParam();
      AtomicRasterWriter writer(out_path, spec, options);
      for (int y = 0; y < info.height; y += 200) {
        const int rows = std::min(200, info.height - y);
        const WindowData strip = in.read({0, y, info.width, rows});
        writer.write(PixelWindow{0, y, info.width, rows}, strip.values.data());
      }
      writer.commit();
    }
    const SceneReader out = SceneReader::open(out_path);
    const RasterInfo& copy = out.info();
    EXPECT_EQ(std::memcmp(copy.georef.geotransform.data(), info.georef.geotransform.data(),
                          sizeof(double) * 6),
              0)
        << source;
    EXPECT_TRUE(copy.georef.same_grid_as(info.georef)) << source;
    EXPECT_EQ(copy.width, info.width);
    EXPECT_EQ(copy.height, info.height);
    EXPECT_EQ(copy.data_type, info.data_type);
    EXPECT_EQ(copy.band_descriptions, info.band_descriptions);
    ASSERT_EQ(copy.nodata.has_value(), info.nodata.has_value());
    if (info.nodata && !std::isnan(*info.nodata)) {
      EXPECT_EQ(*copy.nodata, *info.nodata);
    }
    const WindowData a = in.read({0, 0, info.width, info.height});
    const WindowData b = out.read({0, 0, info.width, info.height});
    EXPECT_EQ(a.valid, b.valid) << source;
    ASSERT_EQ(a.values.size(), b.values.size());
    EXPECT_EQ(std::memcmp(a.values.data(), b.values.data(), a.values.size() * sizeof(float)), 0)
        << source;
  }
  EXPECT_EQ(dir.entries().size(), sources.size()) << "no temporary files left";
}

INSTANTIATE_TEST_SUITE_P(Formats, RoundTrip,
                         ::testing::Values(OutputFormat::kGTiff, OutputFormat::kCOG),
                         [](const auto& info) {
                           return info.param == OutputFormat::kCOG ? "COG" : "GTiff";
                         });

TEST(RasterWriter, LulcGetsColourTableAndCategoryNames) {
  ScratchDir dir;
  RasterSpec spec;
  spec.width = spec.height = 64;
  spec.data_type = "Byte";
  spec.nodata = 0;
  spec.georef.has_geotransform = true;
  spec.georef.geotransform = {500000, 10, 0, 5800000, 0, -10};
  spec.georef.crs_wkt = crs_to_wkt("EPSG:32633");
  spec.classes = ModalityRegistry::instance().lulc_classes();
  std::vector<std::uint8_t> pixels(64 * 64);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i % 10);
  {
    AtomicRasterWriter writer(dir.file("lulc.tif"), spec);
    writer.write(PixelWindow{0, 0, 64, 64}, pixels.data());
    writer.commit();
  }
  GDALDataset* ds = static_cast<GDALDataset*>(GDALOpen(dir.file("lulc.tif").c_str(), GA_ReadOnly));
  ASSERT_NE(ds, nullptr);
  GDALRasterBand* band = ds->GetRasterBand(1);
  const GDALColorTable* table = band->GetColorTable();
  ASSERT_NE(table, nullptr);
  for (const auto& c : spec.classes) {
    const GDALColorEntry* e = table->GetColorEntry(c.index);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->c1, c.rgb[0]);
    EXPECT_EQ(e->c2, c.rgb[1]);
    EXPECT_EQ(e->c3, c.rgb[2]);
  }
  char** names = band->GetCategoryNames();
  ASSERT_NE(names, nullptr);
  EXPECT_STREQ(names[1], "Water");
  EXPECT_STREQ(names[9], "Rangeland");
  std::vector<std::uint8_t> back(64 * 64);
  EXPECT_EQ(band->RasterIO(GF_Read, 0, 0, 64, 64, back.data(), 64, 64, GDT_Byte, 0, 0, nullptr),
            CE_None);
  EXPECT_EQ(back, pixels);
  GDALClose(ds);
}
