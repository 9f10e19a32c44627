// TerraMind through the tiling engine: georeferencing, determinism, batch independence, and the
// plugin's settings JSON.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "test_paths.h"
#include "tm/runtime.h"
#include "tm/tiling.h"

using namespace terramind;
using terramind::testing::ScratchDir;

namespace {

RuntimeSettings fixture_settings() {
  RuntimeSettings s;
  s.model = TM_FIXTURE_MODEL_CARD;
  s.diffusion_steps = 2;
  s.seed = 17;
  return s;
}

std::vector<float> read_all(const std::string& path) {
  const SceneReader r = SceneReader::open(path);
  return r.read({0, 0, r.info().width, r.info().height}).values;
}

}  // namespace

TEST(terramind_runtime, OffersTheCardsTargets) {
  const auto model = open_terramind_window_model(fixture_settings());
  EXPECT_EQ(model->targets(), (std::vector<std::string>{"LULC", "S1GRD"}));
  EXPECT_TRUE(model->accepts_input("S2L2A"));
  EXPECT_TRUE(model->accepts_input("S1GRD"));
  EXPECT_FALSE(model->accepts_input("DEM"));
  EXPECT_EQ(model->window_size_multiple(), 32);
  EXPECT_TRUE(model->spec("LULC").is_classes);
  EXPECT_EQ(model->spec("S1GRD").channels, 2);
}

TEST(terramind_runtime, SceneIsGeoreferencedDeterministicAndBatchIndependent) {
  ScratchDir dir;
  const std::vector<SceneInput> inputs = {
      {terramind::testing::data_dir() + "/terramesh_examples/S2L2A/282D_485L_3_3.tif", "S2L2A"}};
  auto model = open_terramind_window_model(fixture_settings());
  TilingOptions options;
  options.window_size = 128;  // several windows on a 224 px tile
  options.overlap = 32;
  for (int batch : {1, 3}) {
    options.batch_size = batch;
    const std::string tag = std::to_string(batch);
    generate_scene(inputs, *model,
                   {TargetRequest("S1GRD", dir.file("s1_" + tag + ".tif")),
                    TargetRequest("LULC", dir.file("lulc_" + tag + ".tif"))},
                   options);
  }
  const RasterInfo in = inspect_raster(inputs[0].path);
  const RasterInfo out = inspect_raster(dir.file("s1_1.tif"));
  EXPECT_EQ(std::memcmp(in.georef.geotransform.data(), out.georef.geotransform.data(),
                        6 * sizeof(double)),
            0);
  EXPECT_TRUE(in.georef.same_grid_as(out.georef));
  EXPECT_EQ(out.band_count, 2);
  // Per-window seeds: the batch size does not change a single pixel.
  EXPECT_EQ(read_all(dir.file("s1_1.tif")), read_all(dir.file("s1_3.tif")));
  EXPECT_EQ(read_all(dir.file("lulc_1.tif")), read_all(dir.file("lulc_3.tif")));
  // Decoded backscatter is in dB within the reference's clamp: mean +- 1 std per band.
  const std::vector<float> s1 = read_all(dir.file("s1_1.tif"));
  const std::size_t plane = s1.size() / 2;
  const float mean[] = {-12.599f, -20.293f}, std_dev[] = {5.195f, 5.890f};
  for (std::size_t i = 0; i < s1.size(); ++i) {
    const int band = i < plane ? 0 : 1;
    ASSERT_GE(s1[i], mean[band] - std_dev[band] - 1e-3f) << "band " << band;
    ASSERT_LE(s1[i], mean[band] + std_dev[band] + 1e-3f) << "band " << band;
  }
}

TEST(terramind_runtime, SettingsJsonAndErrors) {
  const RuntimeSettings s = runtime_settings_from_json(
      R"({"model": "m.json", "steps": 3, "seed": 5, "threads": 1,
          "options": {"temperature": "0", "targets": "LULC,S1GRD", "clamp": "false"}})");
  EXPECT_EQ(s.model, "m.json");
  EXPECT_EQ(s.diffusion_steps, 3);
  EXPECT_EQ(s.temperature, 0.0);
  EXPECT_FALSE(s.clamp);
  EXPECT_EQ(s.targets, (std::vector<std::string>{"LULC", "S1GRD"}));
  EXPECT_THROW(runtime_settings_from_json(R"({"options": {"colour": "red"}})"),
               std::invalid_argument);
  EXPECT_THROW(runtime_settings_from_json("{"), std::invalid_argument);
  RuntimeSettings bad = fixture_settings();
  bad.targets = {"DEM"};
  EXPECT_THROW(open_terramind_window_model(bad), std::invalid_argument);
  bad = fixture_settings();
  bad.device = "cuda";
  try {
    open_terramind_window_model(bad);
    FAIL() << "CUDA must not fall back silently";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("cuda"), std::string::npos);
  }
}

// Each target of a window has its own random stream: asking for more targets never changes one.
// Chaining (the reference's order) is an explicit option, and it does condition later targets.
TEST(terramind_runtime, TargetsAreIndependentUnlessChained) {
  ScratchDir dir;
  const std::vector<SceneInput> inputs = {
      {terramind::testing::data_dir() + "/terramesh_examples/S2L2A/282D_485L_3_3.tif", "S2L2A"}};
  TilingOptions options;
  options.window_size = 128;
  options.batch_size = 2;
  auto run = [&](RuntimeSettings settings, const std::vector<std::string>& targets,
                 const std::string& tag) {
    settings.targets = targets;
    auto model = open_terramind_window_model(settings);
    std::vector<TargetRequest> requests;
    for (const auto& t : targets) requests.emplace_back(t, dir.file(tag + "_" + t + ".tif"));
    generate_scene(inputs, *model, requests, options);
    return read_all(dir.file(tag + "_S1GRD.tif"));
  };
  const auto alone = run(fixture_settings(), {"S1GRD"}, "alone");
  EXPECT_EQ(run(fixture_settings(), {"LULC", "S1GRD"}, "both"), alone);
  EXPECT_EQ(run(fixture_settings(), {"S1GRD", "LULC"}, "reversed"), alone);
  RuntimeSettings chained = fixture_settings();
  chained.chain_targets = true;
  EXPECT_NE(run(chained, {"LULC", "S1GRD"}, "chained"), alone)
      << "chained generation must condition S1GRD on the LULC tokens generated before it";
}

// Every output says what made it: model and checksum, settings, inputs, and that it is generated.
TEST(terramind_runtime, OutputsCarryProvenance) {
  ScratchDir dir;
  const std::string scene =
      terramind::testing::data_dir() + "/terramesh_examples/S2L2A/282D_485L_3_3.tif";
  auto model = open_terramind_window_model(fixture_settings());
  generate_scene({{scene, "S2L2A"}}, *model, {TargetRequest("S1GRD", dir.file("s1.tif"))});
  const RasterInfo out = inspect_raster(dir.file("s1.tif"));
  EXPECT_EQ(out.provenance.at("AI_GENERATED"), "YES");
  EXPECT_EQ(out.provenance.at("TARGET"), "S1GRD");
  EXPECT_EQ(out.provenance.at("SEED"), "17");
  EXPECT_EQ(out.provenance.at("DIFFUSION_STEPS"), "2");
  EXPECT_EQ(out.provenance.at("VERSION"), tm_version());
  EXPECT_EQ(out.provenance.at("MODEL_SHA256").size(), 64u);
  EXPECT_NE(out.provenance.at("INPUT_S2L2A").find("282D_485L_3_3.tif"), std::string::npos);
  EXPECT_NE(out.tiff_tags.at("TIFFTAG_SOFTWARE").find("tm "), std::string::npos);
  EXPECT_NE(out.tiff_tags.at("TIFFTAG_IMAGEDESCRIPTION").find("AI-generated S1GRD"),
            std::string::npos);
  EXPECT_EQ(out.band_units, (std::vector<std::string>{"dB", "dB"}));
}

// Impossible sampling settings are refused with the valid range instead of running.
TEST(terramind_runtime, RefusesOutOfRangeSettings) {
  auto refused = [](auto change, const std::string& expected) {
    RuntimeSettings s = fixture_settings();
    change(s);
    try {
      validate(s);
      ADD_FAILURE() << "accepted; expected: " << expected;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  };
  refused([](RuntimeSettings& s) { s.temperature = -1; }, "temperature must be");
  refused([](RuntimeSettings& s) { s.top_p = 2; }, "top-p must be in [0, 1]");
  refused([](RuntimeSettings& s) { s.top_p = std::nan(""); }, "top-p must be in [0, 1]");
  refused([](RuntimeSettings& s) { s.threads = -5; }, "threads must be in");
  refused([](RuntimeSettings& s) { s.diffusion_steps = 0; }, "steps (diffusion decoder)");
  refused([](RuntimeSettings& s) { s.decoding_steps = 0; }, "decoding steps");
  EXPECT_NO_THROW(validate(fixture_settings()));
}
