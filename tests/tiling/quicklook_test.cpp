// PNG quicklooks: the registry's "quicklook" styles, the picture size, each style's pixels on
// small synthetic rasters, and the file handling (temporary files, sidecars, errors).
#include "tm/quicklook.h"

#include <cpl_conv.h>
#include <gdal.h>
#include <gtest/gtest.h>
#include <ogr_srs_api.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "test_paths.h"
#include "tm/tiling.h"

using namespace terramind;
using namespace terramind::testing;

namespace {

constexpr double kNodata = -9999.0;

const Modality& modality(const std::string& name) { return ModalityRegistry::instance().get(name); }

// A small GeoTIFF written with GDAL directly; value(band, x, y), bands 0-based.
struct Layer {
  int width = 32;
  int height = 16;
  int bands = 1;
  GDALDataType type = GDT_Float32;
  std::optional<double> nodata = kNodata;
  std::vector<std::string> descriptions;
  std::string crs = "EPSG:32632";
  std::array<double, 6> geotransform{600000.0, 10.0, 0.0, 5300000.0, 0.0, -10.0};
  std::vector<std::pair<int, std::array<int, 3>>> colour_table;  // index, RGB
};

void write_layer(const std::string& path, const Layer& layer,
                 const std::function<double(int band, int x, int y)>& value) {
  GDALAllRegister();
  GDALDriverH gtiff = GDALGetDriverByName("GTiff");
  GDALDatasetH ds =
      GDALCreate(gtiff, path.c_str(), layer.width, layer.height, layer.bands, layer.type, nullptr);
  ASSERT_NE(ds, nullptr) << path;
  std::array<double, 6> gt = layer.geotransform;
  GDALSetGeoTransform(ds, gt.data());
  OGRSpatialReferenceH srs = OSRNewSpatialReference(nullptr);
  OSRSetFromUserInput(srs, layer.crs.c_str());
  GDALSetSpatialRef(ds, srs);
  OSRDestroySpatialReference(srs);
  std::vector<double> row(layer.width);
  for (int b = 0; b < layer.bands; ++b) {
    GDALRasterBandH band = GDALGetRasterBand(ds, b + 1);
    if (layer.nodata) GDALSetRasterNoDataValue(band, *layer.nodata);
    if (static_cast<std::size_t>(b) < layer.descriptions.size())
      GDALSetDescription(band, layer.descriptions[b].c_str());
    if (b == 0 && !layer.colour_table.empty()) {
      GDALColorTableH table = GDALCreateColorTable(GPI_RGB);
      for (const auto& [index, rgb] : layer.colour_table) {
        const GDALColorEntry entry{static_cast<short>(rgb[0]), static_cast<short>(rgb[1]),
                                   static_cast<short>(rgb[2]), 255};
        GDALSetColorEntry(table, index, &entry);
      }
      GDALSetRasterColorTable(band, table);
      GDALDestroyColorTable(table);
    }
    for (int y = 0; y < layer.height; ++y) {
      for (int x = 0; x < layer.width; ++x) row[x] = value(b, x, y);
      ASSERT_EQ(GDALRasterIO(band, GF_Write, 0, y, layer.width, 1, row.data(), layer.width, 1,
                             GDT_Float64, 0, 0),
                CE_None);
    }
  }
  GDALClose(ds);
}

// A PNG read back: driver, size, bands with their colour interpretation, pixels.
struct Picture {
  std::string driver;
  int width = 0;
  int height = 0;
  std::vector<GDALColorInterp> interpretation;
  std::vector<std::vector<std::uint8_t>> bands;

  int at(int band, int x, int y) const { return bands.at(band)[std::size_t(y) * width + x]; }
  std::array<int, 4> rgba(int x, int y) const {
    return {at(0, x, y), at(1, x, y), at(2, x, y), at(3, x, y)};
  }
};

Picture read_picture(const std::string& path) {
  Picture p;
  GDALDatasetH ds =
      GDALOpenEx(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr, nullptr, nullptr);
  if (!ds) return p;
  p.driver = GDALGetDescription(GDALGetDatasetDriver(ds));
  p.width = GDALGetRasterXSize(ds);
  p.height = GDALGetRasterYSize(ds);
  for (int b = 1; b <= GDALGetRasterCount(ds); ++b) {
    GDALRasterBandH band = GDALGetRasterBand(ds, b);
    p.interpretation.push_back(GDALGetRasterColorInterpretation(band));
    std::vector<std::uint8_t> pixels(std::size_t(p.width) * p.height);
    EXPECT_EQ(GDALGetRasterDataType(band), GDT_Byte);
    EXPECT_EQ(GDALRasterIO(band, GF_Read, 0, 0, p.width, p.height, pixels.data(), p.width, p.height,
                           GDT_Byte, 0, 0),
              CE_None);
    p.bands.push_back(std::move(pixels));
  }
  GDALClose(ds);
  return p;
}

const std::vector<GDALColorInterp> kGreyAlpha{GCI_GrayIndex, GCI_AlphaBand};
const std::vector<GDALColorInterp> kRgba{GCI_RedBand, GCI_GreenBand, GCI_BlueBand, GCI_AlphaBand};

std::string registry_with(const std::string& modality_fields) {
  return R"({"modalities": [{"name": "X", "kind": "pixel", "input_key": "x", "input_id": 1,
      "bands": [["A", "A"]])" +
         modality_fields + R"(}], "lulc_classes": {"classes": []}})";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
TEST(QuicklookRegistry, EveryImageModalityHasAStyle) {
  EXPECT_EQ(modality("S1GRD").quicklook, QuicklookStyle::kDbStretch);
  EXPECT_EQ(modality("S1RTC").quicklook, QuicklookStyle::kDbStretch);
  ASSERT_TRUE(modality("S1GRD").quicklook_range);
  EXPECT_EQ(*modality("S1GRD").quicklook_range, (std::array<double, 2>{-25.0, 0.0}));
  EXPECT_EQ(modality("S1GRD").units, "dB");  // the stretch is in dB because the outputs are
  EXPECT_EQ(modality("DEM").quicklook, QuicklookStyle::kHillshade);
  EXPECT_EQ(modality("LULC").quicklook, QuicklookStyle::kPalette);
  EXPECT_EQ(modality("NDVI").quicklook, QuicklookStyle::kNdviRamp);
  for (const char* name : {"S2L2A", "S2L1C", "S2RGB"})
    EXPECT_EQ(modality(name).quicklook, QuicklookStyle::kTrueColour) << name;
  ASSERT_TRUE(modality("S2L2A").quicklook_range);  // reflectance x 10000: 0 .. 0.3
  EXPECT_EQ(*modality("S2L2A").quicklook_range, (std::array<double, 2>{0.0, 3000.0}));
  EXPECT_EQ(modality("S2L1C").quicklook_range, modality("S2L2A").quicklook_range);
  ASSERT_TRUE(modality("S2RGB").quicklook_range);  // already 8-bit: shown as it is
  EXPECT_EQ(*modality("S2RGB").quicklook_range, (std::array<double, 2>{0.0, 255.0}));
  EXPECT_EQ(modality("coords").quicklook, QuicklookStyle::kNone);
  EXPECT_EQ(modality("caption").quicklook, QuicklookStyle::kNone);
  for (const auto& m : ModalityRegistry::instance().modalities())
    EXPECT_EQ(m.is_image(), m.quicklook != QuicklookStyle::kNone) << m.name;
  for (auto style :
       {QuicklookStyle::kNone, QuicklookStyle::kTrueColour, QuicklookStyle::kDbStretch,
        QuicklookStyle::kHillshade, QuicklookStyle::kPalette, QuicklookStyle::kNdviRamp})
    EXPECT_EQ(quicklook_style_from_string(to_string(style)), style) << to_string(style);
}

TEST(QuicklookRegistry, RejectsUnknownAndMisplacedStyles) {
  EXPECT_EQ(ModalityRegistry::from_json(registry_with("")).get("X").quicklook,
            QuicklookStyle::kNone);
  EXPECT_EQ(ModalityRegistry::from_json(registry_with(R"(, "quicklook": "hillshade")"))
                .get("X")
                .quicklook,
            QuicklookStyle::kHillshade);

  const std::string unknown = error_of<std::invalid_argument>(
      [] { ModalityRegistry::from_json(registry_with(R"(, "quicklook": "rainbow")")); });
  EXPECT_TRUE(contains(unknown, "X") && contains(unknown, "unknown quicklook 'rainbow'") &&
              contains(unknown, "db_stretch"))
      << unknown;
  EXPECT_THROW(quicklook_style_from_string("Hillshade"), std::invalid_argument);

  const std::string sequence = R"({"modalities": [{"name": "T", "kind": "sequence",
      "input_key": "t", "input_id": 1, "quicklook": "palette"}], "lulc_classes": {"classes": []}})";
  EXPECT_TRUE(contains(
      error_of<std::invalid_argument>([&] { ModalityRegistry::from_json(sequence); }), "sequence"));
  const std::string no_range = error_of<std::invalid_argument>(
      [] { ModalityRegistry::from_json(registry_with(R"(, "quicklook": "db_stretch")")); });
  EXPECT_TRUE(contains(no_range, "quicklook_range")) << no_range;
  EXPECT_THROW(ModalityRegistry::from_json(
                   registry_with(R"(, "quicklook": "db_stretch", "quicklook_range": [0, -25])")),
               std::invalid_argument);
  EXPECT_THROW(ModalityRegistry::from_json(
                   registry_with(R"(, "quicklook": "db_stretch", "quicklook_range": [1, 2, 3])")),
               std::invalid_argument);
  EXPECT_THROW(ModalityRegistry::from_json(
                   registry_with(R"(, "quicklook": "hillshade", "quicklook_range": [0, 1])")),
               std::invalid_argument);
  const std::string no_rgb = error_of<std::invalid_argument>(
      [] { ModalityRegistry::from_json(registry_with(R"(, "quicklook": "true_colour")")); });
  EXPECT_TRUE(contains(no_rgb, "RED")) << no_rgb;
}

// ---------------------------------------------------------------------------------------------
TEST(QuicklookSize, LongestSideIsCappedAndNeverUpsampled) {
  EXPECT_EQ(quicklook_size(2000, 1000, 1024), std::make_pair(1024, 512));
  EXPECT_EQ(quicklook_size(1000, 3000, 1024), std::make_pair(341, 1024));
  EXPECT_EQ(quicklook_size(500, 300, 1024), std::make_pair(500, 300));
  EXPECT_EQ(quicklook_size(1024, 1024, 1024), std::make_pair(1024, 1024));
  EXPECT_EQ(quicklook_size(10980, 10980), std::make_pair(1024, 1024));
  EXPECT_EQ(quicklook_size(5000, 2, 100), std::make_pair(100, 1));
  EXPECT_THROW(quicklook_size(10, 10, 0), std::invalid_argument);
  EXPECT_THROW(quicklook_size(0, 10, 10), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
TEST(QuicklookPicture, S1VvIsStretchedFromMinus25To0Db) {
  ScratchDir dir;
  Layer layer;
  layer.width = 36;
  layer.height = 4;
  layer.bands = 2;
  layer.descriptions = {"VH", "VV"};  // VV found by its description, not by position
  // VV: -30 .. +5 dB across the columns; VH: far below the range (black if taken by mistake).
  // Row 3, columns 0..5: nodata.
  write_layer(dir.file("s1.tif"), layer, [](int band, int x, int y) {
    if (y == 3 && x < 6) return kNodata;
    return band == 1 ? -30.0 + x : -60.0;
  });
  write_quicklook(dir.file("s1.tif"), modality("S1GRD"), dir.file("s1.png"));

  const Picture p = read_picture(dir.file("s1.png"));
  EXPECT_EQ(p.driver, "PNG");
  ASSERT_EQ(p.width, 36);
  ASSERT_EQ(p.height, 4);
  ASSERT_EQ(p.interpretation, kGreyAlpha);
  auto grey_at_db = [&](double db) { return p.at(0, static_cast<int>(db + 30.0), 1); };
  EXPECT_EQ(grey_at_db(-30), 0);
  EXPECT_EQ(grey_at_db(-25), 0);
  EXPECT_NEAR(grey_at_db(-20), 255.0 * 5 / 25, 1.0);
  EXPECT_NEAR(grey_at_db(-12), 255.0 * 13 / 25, 1.0);
  EXPECT_NEAR(grey_at_db(-1), 255.0 * 24 / 25, 1.0);
  EXPECT_EQ(grey_at_db(0), 255);
  EXPECT_EQ(grey_at_db(5), 255);
  for (int x = 1; x < p.width; ++x) EXPECT_GE(p.at(0, x, 0), p.at(0, x - 1, 0)) << x;
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 36; ++x)
      EXPECT_EQ(p.at(1, x, y), (y == 3 && x < 6) ? 0 : 255) << x << "," << y;
}

TEST(QuicklookPicture, ShrinksToMaxSizeKeepingAspectAndIgnoringNodata) {
  ScratchDir dir;
  Layer layer;
  layer.width = 300;
  layer.height = 150;
  layer.bands = 2;
  // Columns 0..150 nodata, the rest -10 dB: output column 50 averages 1 nodata and 2 valid source
  // columns and must stay -10 dB (153), not be dragged down by -9999.
  write_layer(dir.file("s1.tif"), layer,
              [](int, int x, int) { return x <= 150 ? kNodata : -10.0; });
  write_quicklook(dir.file("s1.tif"), modality("S1GRD"), dir.file("s1.png"), 100);

  const Picture p = read_picture(dir.file("s1.png"));
  ASSERT_EQ(p.width, 100);
  ASSERT_EQ(p.height, 50);
  ASSERT_EQ(p.interpretation, kGreyAlpha);
  for (int y = 0; y < p.height; ++y) {
    for (int x = 0; x < p.width; ++x) {
      EXPECT_EQ(p.at(1, x, y), x < 50 ? 0 : 255) << x << "," << y;
      if (x >= 50) {
        EXPECT_NEAR(p.at(0, x, y), 153, 1) << x << "," << y;
      }
    }
  }

  // A small raster is never enlarged.
  write_quicklook(dir.file("s1.tif"), modality("S1GRD"), dir.file("big.png"), 4096);
  const Picture same = read_picture(dir.file("big.png"));
  EXPECT_EQ(same.width, 300);
  EXPECT_EQ(same.height, 150);
}

TEST(QuicklookPicture, DemHillshadeShowsSlopesTowardsAndAwayFromTheSun) {
  ScratchDir dir;
  Layer layer;
  layer.width = layer.height = 24;
  auto shade = [&](const std::string& name, const std::function<double(int, int)>& z,
                   const Layer& l) {
    write_layer(dir.file(name + ".tif"), l, [&](int, int x, int y) { return z(x, y); });
    write_quicklook(dir.file(name + ".tif"), modality("DEM"), dir.file(name + ".png"));
    return read_picture(dir.file(name + ".png"));
  };
  const Picture flat = shade(
      "flat", [](int, int) { return 100.0; }, layer);
  // Rising to the east faces west, towards GDAL's default sun in the north-west; falling to the
  // east faces away from it.
  const Picture west = shade(
      "west", [](int x, int) { return 100.0 + 5.0 * x; }, layer);
  const Picture east = shade(
      "east", [](int x, int) { return 500.0 - 5.0 * x; }, layer);
  ASSERT_EQ(flat.interpretation, kGreyAlpha);
  ASSERT_EQ(west.interpretation, kGreyAlpha);
  const int lit = west.at(0, 12, 12), level = flat.at(0, 12, 12), dark = east.at(0, 12, 12);
  EXPECT_GT(lit, level + 10);
  EXPECT_LT(dark, level - 10);
  for (int y = 0; y < 24; ++y)
    for (int x = 0; x < 24; ++x) {
      EXPECT_EQ(flat.at(0, x, y), level) << "flat ground is shaded evenly, edges included";
      EXPECT_EQ(west.at(1, x, y), 255);
    }

  // Nodata is transparent.
  const Picture holes = shade(
      "holes", [](int x, int y) { return x < 4 && y < 4 ? kNodata : 100.0 + 5.0 * x; }, layer);
  EXPECT_EQ(holes.at(1, 1, 1), 0);
  EXPECT_EQ(holes.at(1, 12, 12), 255);
  EXPECT_EQ(holes.at(0, 12, 12), lit);

  // In degrees: the same 5 m per pixel rise on ~10 m pixels (9e-5 degrees) shades like the
  // projected DEM, not like a cliff.
  Layer geographic = layer;
  geographic.crs = "EPSG:4326";
  geographic.geotransform = {10.0, 10.0 / 111120.0, 0.0, 0.5, 0.0, -10.0 / 111120.0};
  const Picture degrees = shade(
      "degrees", [](int x, int) { return 100.0 + 5.0 * x; }, geographic);
  EXPECT_NEAR(degrees.at(0, 12, 12), lit, 3);
}

TEST(QuicklookPicture, LandCoverUsesTheRastersColourTable) {
  ScratchDir dir;
  Layer layer;
  layer.type = GDT_Byte;
  layer.nodata = 0;
  layer.width = 40;
  layer.height = 8;
  for (const LulcClass& c : ModalityRegistry::instance().lulc_classes())
    layer.colour_table.push_back({c.index, {c.rgb[0], c.rgb[1], c.rgb[2]}});
  layer.colour_table[2].second = {1, 2, 3};  // the raster's own table wins over the legend
  auto classes = [](int, int x, int) { return double((x / 4) % 10); };
  write_layer(dir.file("lulc.tif"), layer, classes);
  write_quicklook(dir.file("lulc.tif"), modality("LULC"), dir.file("lulc.png"));

  const Picture p = read_picture(dir.file("lulc.png"));
  ASSERT_EQ(p.width, 40);
  ASSERT_EQ(p.interpretation, kRgba);
  const auto& legend = ModalityRegistry::instance().lulc_classes();
  for (int x = 0; x < 40; ++x) {
    const int k = (x / 4) % 10;
    const auto pixel = p.rgba(x, 5);
    if (k == 0) {
      EXPECT_EQ(pixel[3], 0) << "class 0 is nodata";
      continue;
    }
    const std::array<int, 4> expected =
        k == 2 ? std::array<int, 4>{1, 2, 3, 255}
               : std::array<int, 4>{legend[k].rgb[0], legend[k].rgb[1], legend[k].rgb[2], 255};
    EXPECT_EQ(pixel, expected) << "class " << k << " at column " << x;
  }

  // Without a colour table: the registry's legend.
  Layer bare = layer;
  bare.colour_table.clear();
  write_layer(dir.file("bare.tif"), bare, classes);
  write_quicklook(dir.file("bare.tif"), modality("LULC"), dir.file("bare.png"));
  const Picture q = read_picture(dir.file("bare.png"));
  ASSERT_EQ(q.interpretation, kRgba);
  EXPECT_EQ(q.rgba(9, 0),
            (std::array<int, 4>{legend[2].rgb[0], legend[2].rgb[1], legend[2].rgb[2], 255}));
}

TEST(QuicklookPicture, ShrunkLandCoverFromTmsWriterStaysPureClassColours) {
  // As tm_generate writes land cover: a COG with overviews, the registry's colour table, nodata 0.
  ScratchDir dir;
  RasterSpec spec;
  spec.width = spec.height = 400;
  spec.data_type = "Byte";
  spec.nodata = 0;
  spec.classes = ModalityRegistry::instance().lulc_classes();
  spec.georef.has_geotransform = true;
  spec.georef.geotransform = {600000.0, 10.0, 0.0, 5300000.0, 0.0, -10.0};
  spec.georef.crs_wkt = crs_to_wkt("EPSG:32632");
  std::vector<std::uint8_t> data(400 * 400);
  // 40 x 40 px blocks of one class each; class 0 (nodata) in the top-left block.
  for (int y = 0; y < 400; ++y)
    for (int x = 0; x < 400; ++x)
      data[y * 400 + x] = static_cast<std::uint8_t>((x / 40 + y / 40) % 10);
  {
    WriteOptions options;
    options.format = OutputFormat::kCOG;
    options.block_size = 128;
    AtomicRasterWriter writer(dir.file("lulc.tif"), spec, options);
    writer.write(PixelWindow{0, 0, 400, 400}, data.data());
    writer.commit();
  }
  write_quicklook(dir.file("lulc.tif"), modality("LULC"), dir.file("lulc.png"), 40);

  const Picture p = read_picture(dir.file("lulc.png"));
  ASSERT_EQ(p.width, 40);
  ASSERT_EQ(p.height, 40);
  ASSERT_EQ(p.interpretation, kRgba);
  const auto& legend = ModalityRegistry::instance().lulc_classes();
  for (int y = 1; y < 40; y += 4)
    for (int x = 1; x < 40; x += 4) {
      const int k = (x / 4 + y / 4) % 10;
      const auto pixel = p.rgba(x, y);
      if (k == 0) {
        EXPECT_EQ(pixel[3], 0);
        continue;
      }
      EXPECT_EQ(pixel,
                (std::array<int, 4>{legend[k].rgb[0], legend[k].rgb[1], legend[k].rgb[2], 255}))
          << "class " << k << " at " << x << "," << y;
    }
}

TEST(QuicklookPicture, ShrunkLandCoverTakesEachFootprintsMostCommonClass) {
  // Every 10 x 10 footprint of a 10x smaller picture: 80 % class 2 (Trees) and, at its centre
  // columns, 20 % class 9 (Rangeland). The most common class wins; the centre pixel (nearest) or
  // a mean class index would not.
  ScratchDir dir;
  Layer layer;
  layer.type = GDT_Byte;
  layer.nodata = 0;
  layer.width = 200;
  layer.height = 100;
  write_layer(dir.file("lulc.tif"), layer,
              [](int, int x, int) { return x % 10 == 5 || x % 10 == 6 ? 9.0 : 2.0; });
  write_quicklook(dir.file("lulc.tif"), modality("LULC"), dir.file("lulc.png"), 20);
  const Picture p = read_picture(dir.file("lulc.png"));
  ASSERT_EQ(p.width, 20);
  ASSERT_EQ(p.height, 10);
  const auto& trees = ModalityRegistry::instance().lulc_classes().at(2).rgb;
  for (int y = 0; y < 10; ++y)
    for (int x = 0; x < 20; ++x)
      EXPECT_EQ(p.rgba(x, y), (std::array<int, 4>{trees[0], trees[1], trees[2], 255}))
          << x << "," << y;
}

TEST(QuicklookPicture, NdviGoesFromBrownThroughYellowToGreen) {
  ScratchDir dir;
  Layer layer;
  layer.width = 45;
  layer.height = 3;
  // Columns 0..40: NDVI -1 .. 1 in steps of 0.05; 41, 42: beyond the range; 43, 44: nodata, NaN.
  write_layer(dir.file("ndvi.tif"), layer, [](int, int x, int) {
    if (x <= 40) return -1.0 + 0.05 * x;
    if (x == 41) return -1.3;
    if (x == 42) return 1.3;
    return x == 43 ? kNodata : std::nan("");
  });
  write_quicklook(dir.file("ndvi.tif"), modality("NDVI"), dir.file("ndvi.png"));

  const Picture p = read_picture(dir.file("ndvi.png"));
  ASSERT_EQ(p.width, 45);
  ASSERT_EQ(p.interpretation, kRgba);
  auto at_ndvi = [&](double ndvi) {
    return p.rgba(static_cast<int>(std::lround((ndvi + 1) / 0.05)), 1);
  };
  const auto brown = at_ndvi(-1.0), yellow = at_ndvi(0.2), green = at_ndvi(1.0);
  EXPECT_GT(brown[0], brown[1]);  // red over green over blue: brown
  EXPECT_GT(brown[1], brown[2]);
  EXPECT_GT(yellow[0], 200);  // red and green high, blue low: yellow
  EXPECT_GT(yellow[1], 200);
  EXPECT_LT(yellow[2], yellow[1] - 80);
  EXPECT_GT(green[1], green[0] + 50);  // green dominates
  EXPECT_GT(green[1], green[2] + 50);
  for (int x = 1; x <= 40; ++x)
    EXPECT_GE(p.at(1, x, 1) - p.at(0, x, 1), p.at(1, x - 1, 1) - p.at(0, x - 1, 1) - 1) << x;
  EXPECT_EQ(p.rgba(41, 1), brown) << "below -1: the ramp's end colour";
  EXPECT_EQ(p.rgba(42, 1), green) << "above 1: the ramp's end colour";
  for (int x = 0; x <= 42; ++x) EXPECT_EQ(p.at(3, x, 1), 255) << x;
  EXPECT_EQ(p.at(3, 43, 1), 0) << "nodata is transparent";
  EXPECT_EQ(p.at(3, 44, 1), 0) << "NaN is transparent";
}

TEST(QuicklookPicture, TrueColourStretchesRedGreenBlue) {
  ScratchDir dir;
  Layer layer;
  layer.width = 50;
  layer.height = 50;
  layer.bands = 12;
  layer.type = GDT_UInt16;
  layer.nodata = 0;
  for (const Band& b : modality("S2L2A").bands) layer.descriptions.push_back(b.name);
  // B04 (red) rises to the east, B03 (green) to the south, B02 (blue) falls to the east; the
  // other bands are bright everywhere (they would wash the picture out if used). Nodata corner.
  write_layer(dir.file("s2.tif"), layer, [](int band, int x, int y) -> double {
    if (x < 5 && y < 5) return 0;
    if (band == 3 && y == 49 && x >= 45) return 60000;  // outliers: clipped, not the range
    switch (band) {
      case 3:
        return 500 + 40 * x;
      case 2:
        return 500 + 40 * y;
      case 1:
        return 2500 - 40 * x;
      default:
        return 20000;
    }
  });
  // The registry's fixed 0..3000 DN range, the same for the three bands (colours keep their hue).
  write_quicklook(dir.file("s2.tif"), modality("S2L2A"), dir.file("s2.png"));
  const Picture fixed = read_picture(dir.file("s2.png"));
  ASSERT_EQ(fixed.width, 50);
  ASSERT_EQ(fixed.interpretation, kRgba);
  auto grey = [](double dn) { return 255.0 * dn / 3000.0; };
  for (int x = 0; x < 50; x += 7) {
    EXPECT_NEAR(fixed.at(0, x, 25), grey(500 + 40 * x), 1.0) << x;
    EXPECT_NEAR(fixed.at(2, x, 25), grey(2500 - 40 * x), 1.0) << x;
  }
  EXPECT_NEAR(fixed.at(1, 25, 30), grey(500 + 40 * 30), 1.0);
  EXPECT_EQ(fixed.at(0, 47, 49), 255) << "above the range: saturated";
  EXPECT_EQ(fixed.at(3, 2, 2), 0);
  EXPECT_EQ(fixed.at(3, 25, 25), 255);

  // Without a fixed range: 2-98 % per band, so each band spans 0..255 and outliers are clipped.
  Modality stretched = modality("S2L2A");
  stretched.quicklook_range.reset();
  write_quicklook(dir.file("s2.tif"), stretched, dir.file("s2.png"));
  const Picture p = read_picture(dir.file("s2.png"));
  ASSERT_EQ(p.interpretation, kRgba);
  EXPECT_EQ(p.at(0, 0, 25), 0);
  EXPECT_EQ(p.at(0, 49, 25), 255);
  EXPECT_EQ(p.at(1, 25, 0), 0);
  EXPECT_EQ(p.at(1, 25, 49), 255);
  EXPECT_EQ(p.at(2, 0, 25), 255);
  EXPECT_EQ(p.at(2, 49, 25), 0);
  EXPECT_NEAR(p.at(0, 25, 25), 128, 8);  // linear in between
  for (int x = 1; x < 50; ++x) EXPECT_GE(p.at(0, x, 30), p.at(0, x - 1, 30)) << x;
  EXPECT_EQ(p.at(3, 2, 2), 0);
  EXPECT_EQ(p.at(3, 25, 25), 255);

  // S2RGB is already 8-bit: its fixed 0..255 range shows the values as they are.
  Layer rgb;
  rgb.width = 30;
  rgb.height = 20;
  rgb.bands = 3;
  rgb.type = GDT_Byte;
  rgb.nodata.reset();
  write_layer(dir.file("rgb.tif"), rgb, [](int band, int x, int y) {
    return band == 0 ? 3.0 * x : band == 1 ? 5.0 * y : 77.0;
  });
  write_quicklook(dir.file("rgb.tif"), modality("S2RGB"), dir.file("rgb.png"));
  const Picture q = read_picture(dir.file("rgb.png"));
  ASSERT_EQ(q.interpretation, kRgba);
  for (int y = 0; y < 20; y += 3)
    for (int x = 0; x < 30; x += 3)
      EXPECT_EQ(q.rgba(x, y), (std::array<int, 4>{3 * x, 5 * y, 77, 255})) << x << "," << y;
}

// ---------------------------------------------------------------------------------------------
TEST(QuicklookFiles, LeavesOnlyThePngReplacingAnOldOneAndItsStaleSidecar) {
  ScratchDir dir;
  Layer layer;
  write_layer(dir.file("dem.tif"), layer, [](int, int x, int) { return 10.0 * x; });
  std::ofstream(dir.file("dem.png")) << "old picture";
  std::ofstream(dir.file("dem.png.aux.xml")) << "<PAMDataset/>";
  write_quicklook(dir.file("dem.tif"), modality("DEM"), dir.file("dem.png"));
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"dem.png", "dem.tif"}));
  EXPECT_EQ(read_picture(dir.file("dem.png")).driver, "PNG");
  // A GDAL configuration that writes sidecars everywhere changes nothing.
  CPLSetConfigOption("GDAL_PAM_ENABLED", "YES");
  write_quicklook(dir.file("dem.tif"), modality("DEM"), dir.file("dem2.png"));
  CPLSetConfigOption("GDAL_PAM_ENABLED", nullptr);
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"dem.png", "dem.tif", "dem2.png"}));
}

TEST(QuicklookFiles, BadInputsThrowNamingTheFile) {
  ScratchDir dir;
  const std::string missing = dir.file("absent.tif");
  const std::string why = error_of<RasterError>(
      [&] { write_quicklook(missing, modality("S1GRD"), dir.file("out.png")); });
  EXPECT_TRUE(contains(why, missing)) << why;

  std::ofstream(dir.file("text.tif")) << "not a raster";
  const std::string not_raster = error_of<RasterError>(
      [&] { write_quicklook(dir.file("text.tif"), modality("DEM"), dir.file("out.png")); });
  EXPECT_TRUE(contains(not_raster, dir.file("text.tif"))) << not_raster;

  Layer one_band;  // S1GRD needs VV: one undescribed band of two is not enough
  write_layer(dir.file("one.tif"), one_band, [](int, int, int) { return -10.0; });
  const std::string bands = error_of<RasterError>(
      [&] { write_quicklook(dir.file("one.tif"), modality("S1GRD"), dir.file("out.png")); });
  EXPECT_TRUE(contains(bands, dir.file("one.tif")) && contains(bands, "VV")) << bands;

  const std::string folder = dir.file("no/such/folder");
  const std::string no_folder = error_of<RasterError>(
      [&] { write_quicklook(dir.file("one.tif"), modality("DEM"), folder + "/out.png"); });
  EXPECT_TRUE(contains(no_folder, folder)) << no_folder;

  const std::string itself = error_of<RasterError>(
      [&] { write_quicklook(dir.file("one.tif"), modality("DEM"), dir.file("one.tif")); });
  EXPECT_TRUE(contains(itself, dir.file("one.tif"))) << itself;

  EXPECT_THROW(write_quicklook(dir.file("one.tif"), modality("coords"), dir.file("out.png")),
               std::invalid_argument);
  EXPECT_THROW(write_quicklook(dir.file("one.tif"), modality("DEM"), dir.file("out.png"), 0),
               std::invalid_argument);

  // Nothing was written, and the input is untouched.
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"one.tif", "text.tif"}));
}
