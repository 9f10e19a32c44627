// STAC Items as inputs: assets mapped to modalities by band names, stacked on the finest grid,
// hrefs resolved, and clear refusals.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "test_paths.h"
#include "tiling_test_support.h"
#include "tm/stac_item.h"

using namespace terramind;
using namespace terramind::testing;
using Json = nlohmann::ordered_json;

namespace {

// The Sentinel-2 bands as a STAC item lists them: short name, Earth Search asset key, common
// name, native pixel size (decimation factor of the 10 m crop).
struct S2Band {
  const char* name;
  const char* key;
  const char* common;
  int factor;
};
const S2Band kBands[] = {{"B01", "coastal", "coastal", 6},  {"B02", "blue", "blue", 1},
                         {"B03", "green", "green", 1},      {"B04", "red", "red", 1},
                         {"B05", "rededge1", "rededge", 2}, {"B06", "rededge2", "rededge", 2},
                         {"B07", "rededge3", "rededge", 2}, {"B08", "nir", "nir", 1},
                         {"B8A", "nir08", "nir08", 2},      {"B09", "nir09", "nir09", 6},
                         {"B11", "swir16", "swir16", 2},    {"B12", "swir22", "swir22", 2}};

constexpr int kSize = 240;  // crop of the sample scene: divisible by 2 and 6
constexpr int kCropX = 0;   // a corner with the sample's nodata wedge
constexpr int kCropY = 784;
constexpr char kCog[] = "image/tiff; application=geotiff; profile=cloud-optimized";

// Per-band GeoTIFFs made once from the sample scene: 10 m bands as they are, 20 m and 60 m bands
// decimated (every 2nd / 6th pixel), as Sentinel-2 delivers them. Layout: <root>/data/*.tif,
// items in <root>/items/.
class StacItem : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<ScratchDir>();
    std::filesystem::create_directories(dir_->file("data"));
    std::filesystem::create_directories(dir_->file("items"));
    const SceneReader sample = SceneReader::open(sample_scene());
    const RasterInfo& info = sample.info();
    ASSERT_EQ(info.band_count, 12);
    const WindowData crop = sample.read({kCropX, kCropY, kSize, kSize});
    crop_ = crop.values;
    georef_ = info.georef;
    georef_.geotransform[0] += kCropX * info.georef.geotransform[1];
    georef_.geotransform[3] += kCropY * info.georef.geotransform[5];
    for (int b = 0; b < 12; ++b) {
      const int f = kBands[b].factor;
      TestRaster raster;
      raster.width = raster.height = kSize / f;
      raster.data_type = "UInt16";
      raster.nodata = 0.0;
      raster.geotransform = georef_.geotransform;
      raster.geotransform[1] *= f;
      raster.geotransform[5] *= f;
      raster.crs = georef_.crs_wkt;
      write_raster(band_file(kBands[b].name), raster,
                   [&](int, int x, int y) { return original(b, x * f, y * f); });
    }
    // Sentinel-2's 8-bit true-colour rendering, 3 bands.
    TestRaster visual;
    visual.width = visual.height = kSize;
    visual.bands = 3;
    visual.data_type = "Byte";
    visual.geotransform = georef_.geotransform;
    visual.crs = georef_.crs_wkt;
    write_raster(dir_->file("data/visual.tif"), visual,
                 [](int b, int x, int y) { return float((x * 7 + y * 3 + b * 50) % 256); });
  }
  static void TearDownTestSuite() { dir_.reset(); }

  static std::string band_file(const std::string& name) {
    return dir_->file("data/" + name + ".tif");
  }
  static float original(int band, int x, int y) {
    return crop_[(static_cast<std::size_t>(band) * kSize + y) * kSize + x];
  }
  // What the 10 m stack must hold: coarser bands repeated by nearest neighbour.
  static float expected(int band, int x, int y) {
    const int f = kBands[band].factor;
    return original(band, x / f * f, y / f * f);
  }

  // Earth Search style: keys "blue", "rededge1" ..., eo:bands names "B02" ..., relative hrefs in
  // several spellings, plus assets that must be ignored or must lose.
  static Json earth_search_item() {
    Json item = {{"type", "Feature"},
                 {"stac_version", "1.0.0"},
                 {"id", "S2B_32TMT_20240101_0_L2A"},
                 {"collection", "sentinel-2-l2a"},
                 {"properties", {{"datetime", "2024-01-01T10:00:00Z"}}},
                 {"assets", Json::object()}};
    Json& assets = item["assets"];
    assets["thumbnail"] = {
        {"href", "../data/thumb.jpg"}, {"type", "image/jpeg"}, {"roles", {"thumbnail"}}};
    int i = 0;
    for (const S2Band& band : kBands) {
      const std::string file = std::string(band.name) + ".tif";
      // ../data/B01.tif, ./../data/B02.tif, absolute path, ... in turn.
      const std::string href = i % 3 == 0   ? "../data/" + file
                               : i % 3 == 1 ? "./../data/" + file
                                            : band_file(band.name);
      ++i;
      assets[band.key] = {{"href", href},
                          {"type", kCog},
                          {"roles", {"data", "reflectance"}},
                          {"eo:bands", {{{"name", band.name}, {"common_name", band.common}}}}};
    }
    assets["visual"] = {{"href", "../data/visual.tif"},
                        {"type", kCog},
                        {"roles", {"visual"}},
                        {"eo:bands",
                         {{{"name", "red"}, {"common_name", "red"}},
                          {{"name", "green"}, {"common_name", "green"}},
                          {{"name", "blue"}, {"common_name", "blue"}}}}};
    // Never opened: they lose to "blue" or hold no modality band.
    assets["blue-jp2"] = {{"href", "../data/missing_B02.jp2"},
                          {"type", "image/jp2"},
                          {"eo:bands", {{{"name", "B02"}, {"common_name", "blue"}}}}};
    assets["scl"] = {{"href", "../data/missing_SCL.tif"}, {"type", kCog}};
    assets["granule_metadata"] = {
        {"href", "../data/metadata.xml"}, {"type", "application/xml"}, {"roles", {"metadata"}}};
    return item;
  }

  // Planetary Computer style: keys "B01" ..., raster:bands with scale/offset, hrefs beside.
  static Json planetary_computer_item() {
    Json item = {{"type", "Feature"},
                 {"stac_version", "1.0.0"},
                 {"collection", "sentinel-2-l2a"},
                 {"assets", Json::object()}};
    Json& assets = item["assets"];
    for (const S2Band& band : kBands)
      assets[band.name] = {
          {"href", std::string("../data/") + band.name + ".tif"},
          {"type", kCog},
          {"roles", {"data"}},
          {"eo:bands", {{{"name", band.name}, {"common_name", band.common}}}},
          {"raster:bands", {{{"nodata", 0}, {"scale", 0.0001}, {"offset", -0.1}}}}};
    assets["visual"] = {{"href", "../data/visual.tif"},
                        {"type", kCog},
                        {"roles", {"data"}},
                        {"eo:bands",
                         {{{"name", "B04"}, {"common_name", "red"}},
                          {{"name", "B03"}, {"common_name", "green"}},
                          {{"name", "B02"}, {"common_name", "blue"}}}}};
    assets["preview"] = {{"href", "https://example.com/preview.png"}, {"type", "image/png"}};
    assets["SCL"] = {{"href", "../data/missing_SCL.tif"}, {"type", kCog}};
    return item;
  }

  static std::string write_item(const Json& item, const std::string& name = "item.json") {
    const std::string path = dir_->file("items/" + name);
    std::ofstream(path) << item.dump(2);
    return path;
  }
  static std::string write_text(const std::string& text, const std::string& name) {
    const std::string path = dir_->file("items/" + name);
    std::ofstream(path) << text;
    return path;
  }

  // Every pixel of every band of `vrt` against the expected 10 m stack.
  static void expect_s2l2a_stack(const std::string& vrt) {
    const SceneReader scene = SceneReader::open(vrt);
    const RasterInfo& info = scene.info();
    ASSERT_EQ(info.band_count, 12);
    ASSERT_EQ(info.width, kSize);
    ASSERT_EQ(info.height, kSize);
    EXPECT_EQ(info.data_type, "UInt16");
    EXPECT_TRUE(info.georef.same_grid_as(georef_)) << "the 10 m grid of the source";
    EXPECT_EQ(info.georef.geotransform, georef_.geotransform) << "bit for bit";
    ASSERT_TRUE(info.nodata.has_value());
    EXPECT_EQ(*info.nodata, 0.0);
    EXPECT_EQ(info.band_descriptions,
              (std::vector<std::string>{"B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08",
                                        "B8A", "B09", "B11", "B12"}));
    EXPECT_TRUE(check_modality(info, ModalityRegistry::instance().get("S2L2A")).ok);
    const WindowData data = scene.read({0, 0, kSize, kSize});
    for (int b = 0; b < 12; ++b) {
      std::size_t wrong = 0;
      for (int y = 0; y < kSize; ++y)
        for (int x = 0; x < kSize; ++x)
          if (data.at(b, y, x) != expected(b, x, y)) ++wrong;
      EXPECT_EQ(wrong, 0u) << kBands[b].name << " (factor " << kBands[b].factor << ")";
    }
  }

  static bool any_note(const StacInputs& in, const std::string& part) {
    for (const std::string& note : in.notes)
      if (contains(note, part)) return true;
    return false;
  }

  static std::unique_ptr<ScratchDir> dir_;
  static std::vector<float> crop_;
  static GeoReference georef_;
};

std::unique_ptr<ScratchDir> StacItem::dir_;
std::vector<float> StacItem::crop_;
GeoReference StacItem::georef_;

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

}  // namespace

TEST_F(StacItem, EarthSearchItemGivesS2L2AOnThe10mGrid) {
  const std::string item = write_item(earth_search_item());
  const StacInputs in = scene_inputs_from_stac(item);
  ASSERT_EQ(in.inputs.size(), 1u) << joined(in.notes);
  EXPECT_EQ(in.inputs[0].modality, "S2L2A");
  EXPECT_EQ(in.inputs[0].path.rfind("/vsimem/", 0), 0u) << in.inputs[0].path;
  EXPECT_EQ(in.inputs[0].origin,
            item +
                "#coastal,blue,green,red,rededge1,rededge2,rededge3,nir,nir08,nir09,swir16,"
                "swir22");
  expect_s2l2a_stack(in.inputs[0].path);
  const std::string notes = joined(in.notes);
  EXPECT_TRUE(any_note(in, "S2RGB not used: its bands are part of S2L2A")) << notes;
  EXPECT_TRUE(any_note(in, "B01 (60 m), B05 (20 m)")) << notes;
  EXPECT_TRUE(any_note(in, "resampled onto the 10 m grid by nearest neighbour")) << notes;
  EXPECT_TRUE(any_note(in, "image assets not used: visual, blue-jp2, scl")) << notes;
  EXPECT_FALSE(any_note(in, "thumbnail")) << notes;
}

TEST_F(StacItem, AssetKeysAloneAreEnough) {
  // Earth Search keys without eo:bands: "rededge1", "nir08", "nir09", "swir16" name the bands.
  Json item = earth_search_item();
  for (auto& [key, asset] : item["assets"].items()) asset.erase("eo:bands");
  item["assets"].erase("blue-jp2");
  const StacInputs in = scene_inputs_from_stac(write_item(item, "keys.json"), {"S2L2A"});
  ASSERT_EQ(in.inputs.size(), 1u);
  expect_s2l2a_stack(in.inputs[0].path);
}

TEST_F(StacItem, PlanetaryComputerItemGivesTheSameStack) {
  const StacInputs in = scene_inputs_from_stac(write_item(planetary_computer_item(), "pc.json"));
  ASSERT_EQ(in.inputs.size(), 1u) << joined(in.notes);
  EXPECT_EQ(in.inputs[0].modality, "S2L2A");
  expect_s2l2a_stack(in.inputs[0].path);
  EXPECT_TRUE(any_note(in, "declares scale/offset for B01 (scale 0.0001, offset -0.1)"))
      << joined(in.notes);
  EXPECT_TRUE(any_note(in, "image assets not used: visual, SCL")) << joined(in.notes);
}

TEST_F(StacItem, StacOneOneBandsAreRead) {
  // STAC 1.1: "bands" with "eo:common_name"; keys that name nothing.
  Json item = planetary_computer_item();
  Json assets = Json::object();
  int i = 0;
  for (auto& [key, asset] : item["assets"].items()) {
    if (asset.contains("eo:bands")) {
      asset["bands"] = asset["eo:bands"];
      for (Json& band : asset["bands"]) {
        band["eo:common_name"] = band["common_name"];
        band.erase("common_name");
      }
      asset.erase("eo:bands");
      asset.erase("raster:bands");
    }
    assets["asset" + std::to_string(i++)] = asset;
  }
  item["assets"] = assets;
  item["stac_version"] = "1.1.0";
  const StacInputs in = scene_inputs_from_stac(write_item(item, "stac11.json"), {"s2"});
  ASSERT_EQ(in.inputs.size(), 1u);
  EXPECT_EQ(in.inputs[0].modality, "S2L2A");
  expect_s2l2a_stack(in.inputs[0].path);
}

TEST_F(StacItem, S2RGBTakesTheVisualAssetWhole) {
  for (const Json& item : {earth_search_item(), planetary_computer_item()}) {
    const StacInputs in = scene_inputs_from_stac(write_item(item, "rgb.json"), {"S2RGB"});
    ASSERT_EQ(in.inputs.size(), 1u);
    EXPECT_EQ(in.inputs[0].modality, "S2RGB");
    EXPECT_TRUE(contains(in.inputs[0].origin, "#visual")) << in.inputs[0].origin;
    const RasterInfo info = inspect_raster(in.inputs[0].path);
    EXPECT_EQ(info.band_count, 3);
    EXPECT_EQ(info.data_type, "Byte") << "the 8-bit rendering, not the reflectance bands";
    for (int b = 1; b <= 3; ++b)
      EXPECT_EQ(read_band(in.inputs[0].path, b), read_band(dir_->file("data/visual.tif"), b));
  }
}

TEST_F(StacItem, MultiBandAssetBandsAreTakenByName) {
  // A Sentinel-1 asset stored VH, VV: the stack is VV, VH.
  TestRaster s1;
  s1.width = s1.height = 50;
  s1.bands = 2;
  s1.geotransform = georef_.geotransform;
  s1.crs = georef_.crs_wkt;
  write_raster(dir_->file("data/s1.tif"), s1,
               [](int b, int x, int y) { return b == 0 ? -20.0f - x : -10.0f - y; });
  Json item = {{"type", "Feature"},
               {"stac_version", "1.0.0"},
               {"collection", "sentinel-1-rtc"},
               {"assets",
                {{"backscatter",
                  {{"href", "../data/s1.tif"},
                   {"type", "image/tiff; application=geotiff"},
                   {"bands", {{{"name", "vh"}}, {{"name", "vv"}}}}}}}}};
  const StacInputs rtc = scene_inputs_from_stac(write_item(item, "s1.json"));
  ASSERT_EQ(rtc.inputs.size(), 1u);
  EXPECT_EQ(rtc.inputs[0].modality, "S1RTC") << "the collection names it";
  EXPECT_TRUE(any_note(rtc, "S1GRD not used: S1RTC has the same bands")) << joined(rtc.notes);
  EXPECT_EQ(read_band(rtc.inputs[0].path, 1), read_band(dir_->file("data/s1.tif"), 2));
  EXPECT_EQ(read_band(rtc.inputs[0].path, 2), read_band(dir_->file("data/s1.tif"), 1));
  EXPECT_EQ(inspect_raster(rtc.inputs[0].path).band_descriptions,
            (std::vector<std::string>{"VV", "VH"}));

  item.erase("collection");
  const StacInputs plain = scene_inputs_from_stac(write_item(item, "s1.json"));
  ASSERT_EQ(plain.inputs.size(), 1u);
  EXPECT_EQ(plain.inputs[0].modality, "S1GRD") << "first in registry order";
  EXPECT_TRUE(any_note(plain, "S1RTC not used: S1GRD has the same bands and comes first"))
      << joined(plain.notes);
  EXPECT_EQ(scene_inputs_from_stac(write_item(item, "s1.json"), {"S1RTC"}).inputs[0].modality,
            "S1RTC");
}

TEST_F(StacItem, DemFromItsCollectionAndDeclaredNodata) {
  // Copernicus DEM style: one "data" asset; the file has no nodata, the item declares it.
  TestRaster dem;
  dem.width = dem.height = 40;
  dem.geotransform = georef_.geotransform;
  dem.crs = georef_.crs_wkt;
  write_raster(dir_->file("data/dem.tif"), dem,
               [](int, int x, int y) { return x == y ? -32767.0f : 100.0f + x + 0.5f * y; });
  const Json item = {{"type", "Feature"},
                     {"stac_version", "1.0.0"},
                     {"collection", "cop-dem-glo-30"},
                     {"assets",
                      {{"data",
                        {{"href", "../data/dem.tif"},
                         {"type", kCog},
                         {"roles", {"data"}},
                         {"raster:bands", {{{"nodata", -32767}, {"unit", "metre"}}}}}},
                       {"rendered_preview", {{"href", "preview.png"}, {"type", "image/png"}}}}}};
  const StacInputs in = scene_inputs_from_stac(write_item(item, "dem.json"));
  ASSERT_EQ(in.inputs.size(), 1u) << joined(in.notes);
  EXPECT_EQ(in.inputs[0].modality, "DEM");
  EXPECT_TRUE(any_note(in, "DEM from asset 'data': the item's collection 'cop-dem-glo-30'"))
      << joined(in.notes);
  const RasterInfo info = inspect_raster(in.inputs[0].path);
  ASSERT_TRUE(info.nodata.has_value()) << "declared by raster:bands";
  EXPECT_EQ(*info.nodata, -32767.0);
  EXPECT_EQ(read_band(in.inputs[0].path), read_band(dir_->file("data/dem.tif")));

  // Without the collection nothing names the asset.
  Json anonymous = item;
  anonymous.erase("collection");
  const std::string what = error_of<RasterError>(
      [&] { scene_inputs_from_stac(write_item(anonymous, "anonymous.json")); });
  EXPECT_TRUE(contains(what, "holds no modality completely")) << what;
  EXPECT_TRUE(contains(what, "data (" + std::string(kCog) + ")")) << what;
}

TEST_F(StacItem, TheEngineReadsTheStack) {
  const StacInputs in = scene_inputs_from_stac(write_item(earth_search_item(), "engine.json"));
  ASSERT_EQ(in.inputs.size(), 1u);
  RecordingModel model;
  model.echo_channels = 12;
  const std::string out = dir_->file("echo.tif");
  generate_scene(in.inputs, model, {{"ECHO", out}}, small_options());
  const std::vector<float> band5 = read_band(out, 5);
  std::size_t wrong = 0, compared = 0;
  for (int y = 0; y < kSize; ++y)
    for (int x = 0; x < kSize; ++x) {
      // A pixel is data when every band holds data; others are filled for the model.
      bool all_data = true;
      for (int b = 0; b < 12; ++b) all_data = all_data && expected(b, x, y) != 0.0f;
      if (!all_data) continue;
      const float want = expected(4, x, y);
      ++compared;
      if (band5[static_cast<std::size_t>(y) * kSize + x] != want) ++wrong;
    }
  EXPECT_GT(compared, 0u);
  EXPECT_EQ(wrong, 0u);
  EXPECT_EQ(inspect_raster(out).provenance.at("INPUT_S2L2A"), in.inputs[0].origin);
}

TEST(StacHref, Resolution) {
  const std::string item = "/data/items/S2/item.json";
  EXPECT_EQ(resolve_stac_href("B02.tif", item), "/data/items/S2/B02.tif");
  EXPECT_EQ(resolve_stac_href("./B02.tif", item), "/data/items/S2/B02.tif");
  EXPECT_EQ(resolve_stac_href("../tiles/./B02.tif", item), "/data/items/tiles/B02.tif");
  EXPECT_EQ(resolve_stac_href("/srv/B02.tif", item), "/srv/B02.tif");
  EXPECT_EQ(resolve_stac_href("/vsimem/B02.tif", item), "/vsimem/B02.tif");
  EXPECT_EQ(resolve_stac_href("/vsicurl/https://h/B02.tif", item), "/vsicurl/https://h/B02.tif");
  EXPECT_EQ(resolve_stac_href("file:///srv/B02.tif", item), "/srv/B02.tif");
  EXPECT_EQ(resolve_stac_href("https://sentinel-cogs.s3.amazonaws.com/a/B02.tif", item),
            "/vsicurl/https://sentinel-cogs.s3.amazonaws.com/a/B02.tif");
  EXPECT_EQ(resolve_stac_href("http://h/B02.tif?sig=a%2Fb", item),
            "/vsicurl/http://h/B02.tif?sig=a%2Fb");
  EXPECT_EQ(resolve_stac_href("s3://sentinel-cogs/tiles/32/T/B02.tif", item),
            "/vsis3/sentinel-cogs/tiles/32/T/B02.tif");
  EXPECT_EQ(resolve_stac_href("gs://bucket/B02.tif", item), "/vsigs/bucket/B02.tif");
  // Relative to a remote item.
  EXPECT_EQ(resolve_stac_href("./B02.tif", "https://h/a/b/item.json"),
            "/vsicurl/https://h/a/b/B02.tif");
  EXPECT_EQ(resolve_stac_href("../c/B02.tif", "https://h/a/b/item.json"),
            "/vsicurl/https://h/a/c/B02.tif");
  EXPECT_EQ(resolve_stac_href("B02.tif", "s3://bucket/items/item.json"),
            "/vsis3/bucket/items/B02.tif");
  EXPECT_EQ(resolve_stac_href("../B02.tif", "/vsis3/bucket/items/item.json"),
            "/vsis3/bucket/B02.tif");
  // A relative local item: absolute results.
  EXPECT_EQ(resolve_stac_href("B02.tif", "items/item.json"),
            (std::filesystem::current_path() / "items/B02.tif").string());
}

TEST_F(StacItem, IncompleteModalityNamesTheMissingBands) {
  Json item = earth_search_item();
  item["assets"].erase("rededge1");
  item["assets"].erase("nir08");
  const std::string path = write_item(item, "incomplete.json");
  const std::string what = error_of<RasterError>([&] { scene_inputs_from_stac(path, {"S2L2A"}); });
  EXPECT_TRUE(contains(what, path)) << what;
  EXPECT_TRUE(contains(what,
                       "S2L2A is incomplete: no asset holds B05 (RED_EDGE_1), B8A "
                       "(NIR_NARROW)"))
      << what;
  EXPECT_TRUE(contains(what, "image assets: coastal (B01), blue (B02)")) << what;
  EXPECT_TRUE(contains(what, "scl (no S2L2A band)")) << what;

  // Not asked for by name: what is complete (S2RGB from the visual asset), with a note.
  const StacInputs in = scene_inputs_from_stac(path);
  ASSERT_EQ(in.inputs.size(), 1u);
  EXPECT_EQ(in.inputs[0].modality, "S2RGB");
  EXPECT_TRUE(any_note(in, "S2L2A not complete: no asset holds B05 (RED_EDGE_1)"))
      << joined(in.notes);
}

TEST_F(StacItem, DocumentsThatAreNotItemsAreRefused) {
  const auto refusal = [](const std::string& path) {
    return error_of<RasterError>([&] { scene_inputs_from_stac(path); });
  };
  const std::string collection = write_item(
      {{"type", "Collection"}, {"stac_version", "1.0.0"}, {"id", "x"}}, "collection.json");
  EXPECT_TRUE(contains(refusal(collection), collection + ": a STAC Collection, not an Item"))
      << refusal(collection);
  const std::string search =
      write_item({{"type", "FeatureCollection"}, {"features", Json::array()}}, "search.json");
  EXPECT_TRUE(contains(refusal(search), "a FeatureCollection")) << refusal(search);
  const std::string geojson = write_item(
      {{"type", "Feature"}, {"geometry", nullptr}, {"properties", Json::object()}}, "plain.json");
  EXPECT_TRUE(contains(refusal(geojson), "without \"stac_version\"")) << refusal(geojson);
  const std::string no_assets =
      write_item({{"type", "Feature"}, {"stac_version", "1.0.0"}}, "no_assets.json");
  EXPECT_TRUE(contains(refusal(no_assets), "no \"assets\"")) << refusal(no_assets);
  const std::string array = write_text("[1, 2]", "array.json");
  EXPECT_TRUE(contains(refusal(array), "not a JSON object")) << refusal(array);
  const std::string images =
      write_item({{"type", "Feature"},
                  {"stac_version", "1.0.0"},
                  {"assets", {{"thumbnail", {{"href", "t.png"}, {"type", "image/png"}}}}}},
                 "no_images.json");
  EXPECT_TRUE(contains(refusal(images), "no image assets")) << refusal(images);
  EXPECT_TRUE(contains(refusal(images), "thumbnail (image/png)")) << refusal(images);
}

TEST_F(StacItem, UnreadableFilesAreRefused) {
  std::string text = earth_search_item().dump();
  const std::string truncated = write_text(text.substr(0, text.size() / 2), "truncated.json");
  std::string what = error_of<RasterError>([&] { scene_inputs_from_stac(truncated); });
  EXPECT_TRUE(contains(what, truncated + ": not valid JSON")) << what;

  const std::string missing = dir_->file("items/none.json");
  what = error_of<RasterError>([&] { scene_inputs_from_stac(missing); });
  EXPECT_TRUE(contains(what, missing + " cannot be read")) << what;

  what = error_of<RasterError>([&] { scene_inputs_from_stac(dir_->file("items")); });
  EXPECT_TRUE(contains(what, "is a folder")) << what;

  const std::string wrong_field =
      write_text(R"({"type": "Feature", "stac_version": "1.0.0", "assets": {"b": {"href": 3}}})",
                 "wrong_field.json");
  what = error_of<RasterError>([&] { scene_inputs_from_stac(wrong_field); });
  EXPECT_TRUE(contains(what, "asset 'b': \"href\" is not a string")) << what;
}

TEST_F(StacItem, AssetsThatCannotBeStackedAreRefused) {
  // The chosen asset's file is missing: named, with its href (no silent fallback to blue-jp2).
  Json item = earth_search_item();
  item["assets"]["blue"]["href"] = "../data/gone.tif";
  std::string what = error_of<RasterError>(
      [&] { scene_inputs_from_stac(write_item(item, "gone.json"), {"S2L2A"}); });
  EXPECT_TRUE(contains(what, "asset 'blue' (../data/gone.tif) cannot be opened")) << what;

  // Another CRS.
  TestRaster utm33;
  utm33.width = utm33.height = kSize;
  utm33.data_type = "UInt16";
  utm33.geotransform = georef_.geotransform;
  utm33.crs = "EPSG:32633";
  write_raster(dir_->file("data/B02_33.tif"), utm33, [](int, int x, int) { return float(x); });
  item = earth_search_item();
  item["assets"]["blue"]["href"] = "../data/B02_33.tif";
  what = error_of<RasterError>([&] { scene_inputs_from_stac(write_item(item, "crs.json")); });
  EXPECT_TRUE(contains(what, "assets 'coastal' and 'blue' of S2L2A are in different CRSs")) << what;

  // Another data type.
  TestRaster float_band = utm33;
  float_band.crs = georef_.crs_wkt;
  float_band.data_type = "Float32";
  write_raster(dir_->file("data/B02_f.tif"), float_band, [](int, int x, int) { return float(x); });
  item["assets"]["blue"]["href"] = "../data/B02_f.tif";
  what = error_of<RasterError>([&] { scene_inputs_from_stac(write_item(item, "type.json")); });
  EXPECT_TRUE(contains(what,
                       "S2L2A would mix data types: asset 'coastal' is UInt16, asset "
                       "'blue' is Float32"))
      << what;
}

TEST_F(StacItem, ModalityNamesAreChecked) {
  const std::string item = write_item(earth_search_item(), "names.json");
  EXPECT_TRUE(
      contains(error_of<UnknownModality>([&] { scene_inputs_from_stac(item, {"S3"}); }), "S3"));
  EXPECT_TRUE(
      contains(error_of<std::invalid_argument>([&] { scene_inputs_from_stac(item, {"coords"}); }),
               "coords is not an image modality"));
  // Aliases and repeats: one input per modality, in the order asked.
  const StacInputs in = scene_inputs_from_stac(item, {"rgb", "sentinel2_l2a", "S2RGB"});
  ASSERT_EQ(in.inputs.size(), 2u);
  EXPECT_EQ(in.inputs[0].modality, "S2RGB");
  EXPECT_EQ(in.inputs[1].modality, "S2L2A");
}
