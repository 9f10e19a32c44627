// tm_locate's pieces (tm/evaluation.h): great-circle distances, the 0.25 degree probability map
// and the whole locate_scene path on an untrained model with a coordinates decoder.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "test_paths.h"
#include "tm/evaluation.h"
#include "tm/network.h"
#include "tm/raster_io.h"
#include "tm/text.h"

using namespace terramind;
using namespace terramind::eval;
namespace fs = std::filesystem;

namespace {

using terramind::testing::contains;
using terramind::testing::error_of;

std::string vocabulary_path() {
  return terramind::testing::data_dir() + "/text_tokenizer/terramind_v1_wordpiece_30k.json";
}

// A georeferenced 12-band S2L2A raster (UTM 33N around Rome) of reflectance-like values.
std::string write_scene(const fs::path& folder, int size) {
  RasterSpec spec;
  spec.width = spec.height = size;
  spec.bands = 12;
  spec.data_type = "Float32";
  spec.georef.crs_wkt = crs_to_wkt("EPSG:32633");
  spec.georef.geotransform = {290000.0, 10.0, 0.0, 4645000.0, 0.0, -10.0};
  spec.georef.has_geotransform = true;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> reflectance(200.f, 3000.f);
  std::vector<float> values(static_cast<std::size_t>(12) * size * size);
  for (auto& v : values) v = reflectance(rng);
  const std::string path = (folder / "scene.tif").string();
  AtomicRasterWriter writer(path, spec);
  writer.write(PixelWindow{0, 0, size, size}, values.data());
  writer.commit();
  return path;
}

ModelCard coords_card() {
  ModelCard c =
      ModelCard::from_file(TM_SOURCE_DIR "/sample_data/fixture_models/terramind_fixture.json");
  c.name = "coords_test";
  c.encoder_modalities = {"untok_sen2l2a@224"};
  c.decoder_modalities = {"coords"};
  c.tokenizers.clear();
  return c;
}

}  // namespace

TEST(geolocation, great_circle_distances) {
  // A quarter of the equator, a pole to the equator, and Paris-London (about 344 km).
  EXPECT_NEAR(great_circle_km({0, 0}, {90, 0}), 6371.0088 * M_PI / 2, 1e-6);
  EXPECT_NEAR(great_circle_km({10, 90}, {-50, 0}), 6371.0088 * M_PI / 2, 1e-6);
  EXPECT_NEAR(great_circle_km({2.3522, 48.8566}, {-0.1276, 51.5072}), 343.6, 1.0);
  EXPECT_DOUBLE_EQ(great_circle_km({12.5, 41.9}, {12.5, 41.9}), 0.0);
  // The antimeridian is no wall: 179.9 E to 179.9 W is 0.2 degrees of longitude.
  EXPECT_NEAR(great_circle_km({179.9, 0}, {-179.9, 0}), 6371.0088 * 0.2 * M_PI / 180, 1e-6);
}

TEST(geolocation, heatmap_sums_to_one_and_peaks_where_the_draws_concentrate) {
  // A synthetic "model": 60 % of its draws near Rome (12.49 E, 41.89 N, sd 0.05 degrees), the
  // rest uniform over the globe, some undecodable.
  std::mt19937 rng(11);
  std::normal_distribution<double> lon(12.49, 0.05), lat(41.89, 0.05);
  std::uniform_real_distribution<double> u(0, 1);
  LocationHeatmap map;
  for (int i = 0; i < 5000; ++i) {
    const double r = u(rng);
    if (r < 0.6)
      map.add({lon(rng), lat(rng)});
    else if (r < 0.95)
      map.add({-180 + 360 * u(rng), -90 + 180 * u(rng)});
    else
      map.add({});  // decoded to no coordinate
  }
  EXPECT_EQ(map.samples(), 5000u);
  EXPECT_LT(map.located(), 5000u);
  const std::vector<double> p = map.probabilities();
  ASSERT_EQ(p.size(), static_cast<std::size_t>(LocationHeatmap::kCols) * LocationHeatmap::kRows);
  EXPECT_NEAR(std::accumulate(p.begin(), p.end(), 0.0), 1.0, 1e-9);
  const GeoPoint peak = map.peak();
  // The peak is the 0.25 degree cell holding Rome: (12.375, 41.875).
  EXPECT_DOUBLE_EQ(peak.lon, 12.375);
  EXPECT_DOUBLE_EQ(peak.lat, 41.875);
  EXPECT_GT(map.peak_probability(), 0.2);
  EXPECT_LT(great_circle_km(peak, {12.49, 41.89}), 20.0);
  // The expected distance mixes the cluster (near 0) with the uniform rest (~10,000 km mean).
  const double expected = map.expected_distance_km({12.49, 41.89});
  EXPECT_GT(expected, 2000.0);
  EXPECT_LT(expected, 6000.0);
  // Cell centres and edges: the grid starts at 180 W / 90 N.
  EXPECT_DOUBLE_EQ(LocationHeatmap::cell_centre(0, 0).lon, -179.875);
  EXPECT_DOUBLE_EQ(LocationHeatmap::cell_centre(0, 0).lat, 89.875);
  LocationHeatmap edges;
  edges.add({180, -90});
  edges.add({-180, 90});
  EXPECT_EQ(edges.located(), 2u);
  const auto q = edges.probabilities();
  EXPECT_DOUBLE_EQ(q.front(), 0.5);
  EXPECT_DOUBLE_EQ(q.back(), 0.5);
}

TEST(geolocation, nothing_located_is_an_error) {
  LocationHeatmap map;
  map.add({});
  map.add({std::nan(""), 10});
  map.add({10, 95});
  EXPECT_EQ(map.located(), 0u);
  EXPECT_PRED2(contains, error_of<std::invalid_argument>([&] { map.probabilities(); }),
               "none of the 3 draws");
}

TEST(geolocation, locate_scene_samples_the_coordinates_of_a_model) {
  if (!fs::exists(vocabulary_path())) GTEST_SKIP() << "no " << vocabulary_path();
  const fs::path folder =
      fs::temp_directory_path() / ("tm_locate_test_" + std::to_string(::getpid()));
  fs::remove_all(folder);
  fs::create_directories(folder);
  const std::string scene = write_scene(folder, 260);
  const TerraMindModel model = TerraMindModel::untrained(coords_card(), 4);
  const WordPieceTokenizer vocabulary = WordPieceTokenizer::from_file(vocabulary_path());
  LocateOptions options;
  options.samples = 6;
  options.batch = 4;  // two calls, the second of 2
  options.seed = 5;
  int last = 0;
  const LocateResult a = locate_scene(scene, model, vocabulary, options, [&](int done, int total) {
    EXPECT_EQ(total, 6);
    EXPECT_GT(done, last);
    last = done;
  });
  EXPECT_EQ(last, 6);
  EXPECT_EQ(a.draws.size(), 6u);
  EXPECT_EQ(a.map.samples(), 6u);
  // The centre 224-px window of a 260-px scene, and its centre in longitude/latitude: pixel 130
  // is 291300 E, 4643700 N in UTM 33N, about 12.50 E, 41.93 N.
  EXPECT_EQ(a.window.x, 18);
  EXPECT_EQ(a.window.y, 18);
  EXPECT_EQ(a.window.width, 224);
  ASSERT_TRUE(a.truth.has_value());
  EXPECT_NEAR(a.truth->lon, 12.50, 0.02);
  EXPECT_NEAR(a.truth->lat, 41.93, 0.02);
  // Same seed, same draws (NaN-aware: undecodable draws are NaN in both).
  const LocateResult b = locate_scene(scene, model, vocabulary, options);
  for (std::size_t i = 0; i < a.draws.size(); ++i) {
    EXPECT_EQ(a.draws[i].valid(), b.draws[i].valid()) << i;
    if (a.draws[i].valid()) {
      EXPECT_EQ(a.draws[i].lon, b.draws[i].lon) << i;
      EXPECT_EQ(a.draws[i].lat, b.draws[i].lat) << i;
    }
  }
  // An untrained model's draws rarely decode to coordinates; with none located no report is
  // written (the report itself is tested on synthetic draws below).
  if (a.map.located() == 0) {
    EXPECT_THROW(write_locate_report(a, options, (folder / "report").string()),
                 std::invalid_argument);
    EXPECT_FALSE(fs::exists(folder / "report/location.json"));
  }
  fs::remove_all(folder);
}

TEST(geolocation, report_raster_sums_to_one_and_names_the_peak) {
  const fs::path folder =
      fs::temp_directory_path() / ("tm_locate_report_" + std::to_string(::getpid()));
  fs::remove_all(folder);
  LocateResult r;
  r.scene = "scene.tif";
  r.window = {0, 0, 224, 224};
  r.truth = GeoPoint{12.49, 41.89};
  for (const GeoPoint p :
       {GeoPoint{12.4, 41.9}, GeoPoint{12.45, 41.95}, GeoPoint{-70.1, -33.4}, GeoPoint{}}) {
    r.draws.push_back(p);
    r.map.add(p);
  }
  LocateOptions options;
  options.model = "synthetic";
  write_locate_report(r, options, folder.string());
  for (const char* f : {"location.tif", "location.png", "location.json", "location.html"})
    EXPECT_TRUE(fs::exists(folder / f)) << f;
  const SceneReader tif = SceneReader::open((folder / "location.tif").string());
  ASSERT_EQ(tif.info().width, 1440);
  ASSERT_EQ(tif.info().height, 720);
  ASSERT_TRUE(tif.info().georef.is_georeferenced());
  EXPECT_DOUBLE_EQ(tif.info().georef.geotransform[0], -180.0);
  EXPECT_DOUBLE_EQ(tif.info().georef.geotransform[1], 0.25);
  const WindowData d = tif.read({0, 0, 1440, 720});
  double sum = 0;
  for (const float v : d.values) sum += v;
  EXPECT_NEAR(sum, 1.0, 1e-6);
  // Rome's cell (row 192, column 769) holds two of the three located draws.
  EXPECT_NEAR(d.at(0, 192, 769), 2.0 / 3.0, 1e-6);
  std::ifstream in(folder / "location.json");
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j.at("samples").get<int>(), 4);
  EXPECT_EQ(j.at("located").get<int>(), 3);
  EXPECT_DOUBLE_EQ(j.at("peak").at("lon").get<double>(), 12.375);
  EXPECT_LT(j.at("distance_km").get<double>(), 15.0);
  EXPECT_TRUE(j.at("draws").at(3).is_null());
  std::ifstream html(folder / "location.html");
  const std::string page((std::istreambuf_iterator<char>(html)), {});
  EXPECT_PRED2(contains, page, "data:image/png;base64,");
  fs::remove_all(folder);
}

TEST(geolocation, bad_inputs_are_named) {
  const fs::path folder =
      fs::temp_directory_path() / ("tm_locate_bad_" + std::to_string(::getpid()));
  fs::remove_all(folder);
  fs::create_directories(folder);
  const std::string small = write_scene(folder, 200);
  LocateOptions options;
  options.model = TM_SOURCE_DIR "/sample_data/fixture_models/terramind_fixture.json";
  // No vocabulary.
  EXPECT_PRED2(contains, error_of<std::invalid_argument>([&] { locate_scene(small, options); }),
               "no text vocabulary");
  if (fs::exists(vocabulary_path())) {
    const WordPieceTokenizer vocabulary = WordPieceTokenizer::from_file(vocabulary_path());
    // A model without a coordinates decoder (the fixture model generates LULC and S1GRD only).
    ModelCard no_coords = coords_card();
    no_coords.decoder_modalities = {"tok_lulc@224"};
    const auto lulc_only = TerraMindModel::untrained(no_coords, 1);
    const auto with_coords = TerraMindModel::untrained(coords_card(), 1);
    EXPECT_PRED2(contains, error_of<std::invalid_argument>([&] {
                   locate_scene(small, lulc_only, vocabulary, options);
                 }),
                 "no coordinates decoder");
    // A scene smaller than the model's window.
    EXPECT_PRED2(contains, error_of<std::invalid_argument>([&] {
                   locate_scene(small, with_coords, vocabulary, options);
                 }),
                 "smaller than the model's 224-px window");
    // The scene is not what --modality says (S1GRD has 2 bands, the scene 12).
    options.modality = "S1GRD";
    EXPECT_PRED2(contains, error_of([&] { locate_scene(small, with_coords, vocabulary, options); }),
                 "band");
  }
  fs::remove_all(folder);
}
