// TerraMind network against the reference fixtures terramind_vit and terramind_generation:
// weights come from the official-format `_state_dict.pt`, inputs and expected values from `.pt`.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "model/generation.h"
#include "model/terramind_network.h"
#include "model/weights.h"
#include "test_paths.h"
#include "tm/model.h"
#include "tm/registry.h"

using namespace terramind;

namespace {

std::string fixture_path(const std::string& file) {
  return terramind::testing::fixtures_dir() + "/" + file;
}

nlohmann::json fixture_json(const std::string& name) {
  std::ifstream in(fixture_path(name + ".json"));
  if (!in) throw std::runtime_error("fixture missing: " + fixture_path(name + ".json"));
  return nlohmann::json::parse(in);
}

// The fixture's reference configuration as a model card.
ModelCard card_from_fixture(const nlohmann::json& config, bool with_decoder) {
  nlohmann::json card = {{"name", "fixture"},
                         {"dim", config.at("dim")},
                         {"num_heads", config.at("num_heads")},
                         {"encoder_depth", config.at("encoder_depth")},
                         {"decoder_depth", with_decoder ? config.at("decoder_depth") : nlohmann::json(0)},
                         {"mlp_ratio", config.at("mlp_ratio")},
                         {"gated_mlp", config.at("gated_mlp")},
                         {"qkv_bias", config.at("qkv_bias")},
                         {"proj_bias", config.at("proj_bias")},
                         {"mlp_bias", config.at("mlp_bias")},
                         {"img_size", config.at("img_size")},
                         {"patch_size", config.at("patch_size")}};
  if (config.contains("mod_name_mapping")) {
    std::vector<std::string> keys;
    for (const auto& name : config.at("modalities")) keys.push_back(config["mod_name_mapping"][name.get<std::string>()]);
    card["encoder_modalities"] = keys;
  } else {
    card["encoder_modalities"] = config.at("modalities");
  }
  if (with_decoder) card["decoder_modalities"] = config.at("output_modalities");
  return ModelCard::from_json(card.dump());
}

net::NamedTensors named(const TensorMap& map) {
  return net::NamedTensors(map.begin(), map.end());
}

net::TerraMind load_network(const std::string& fixture, bool with_decoder) {
  const auto json = fixture_json(fixture);
  net::TerraMind model(card_from_fixture(json.at("config"), with_decoder));
  const TensorMap weights = load_torch_checkpoint(fixture_path(fixture + "_state_dict.pt"));
  const auto report = net::assign_weights(*model, named(weights));
  EXPECT_TRUE(report.complete()) << report.describe();
  model->eval();
  return model;
}

torch::Tensor standardise(const torch::Tensor& raw, const char* modality) {
  const auto& stats = ModalityRegistry::instance().get(modality).stats(StatsVersion::kV1);
  const auto mean = torch::tensor(stats.mean, torch::kFloat32).reshape({1, -1, 1, 1});
  const auto std_dev = torch::tensor(stats.std, torch::kFloat32).reshape({1, -1, 1, 1});
  return (raw.to(torch::kFloat32) - mean) / std_dev;
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

// `pattern` with '*' matching any run of characters.
bool glob_matches(const std::string& pattern, const std::string& text) {
  const auto star = pattern.find('*');
  if (star == std::string::npos) return pattern == text;
  if (text.compare(0, star, pattern, 0, star) != 0) return false;
  for (std::size_t at = star; at <= text.size(); ++at)
    if (glob_matches(pattern.substr(star + 1), text.substr(at))) return true;
  return false;
}

// The fixture's suggested tolerance for output `key`: the number after "max abs" of the entry of
// its "tolerance" table naming the key (names may contain '*').
double tolerance(const std::string& fixture, const std::string& key) {
  static std::map<std::string, nlohmann::json> tables;
  auto it = tables.find(fixture);
  if (it == tables.end()) it = tables.emplace(fixture, fixture_json(fixture).at("tolerance")).first;
  for (const auto& [pattern, text] : it->second.items()) {
    const std::string value = text.get<std::string>();
    if (glob_matches(pattern, key) && value.find("max abs ") != std::string::npos)
      return std::stod(value.substr(value.find("max abs ") + 8));
  }
  throw std::runtime_error(fixture + ".json has no tolerance for " + key);
}

// `actual` against tensor `key` of the fixture, within the tolerance its JSON gives for
// `tolerance_key` (the key itself by default).
void expect_close(const torch::Tensor& actual, const TensorMap& fx, const std::string& fixture,
                  const std::string& key, const std::string& tolerance_key = "") {
  EXPECT_LE(max_abs_diff(actual, fx.at(key)),
            tolerance(fixture, tolerance_key.empty() ? key : tolerance_key))
      << fixture << " " << key;
}

// Token grid side of the fixture model: img_size / patch_size of its configuration.
int64_t token_side(const std::string& fixture) {
  const nlohmann::json config = fixture_json(fixture).at("config");
  return config.at("img_size").get<int64_t>() / config.at("patch_size").get<int64_t>();
}

class Fixture : public ::testing::Test {
 protected:
  static const TensorMap& data(const std::string& name) {
    static std::map<std::string, TensorMap> cache;
    auto it = cache.find(name);
    if (it == cache.end()) it = cache.emplace(name, load_torch_checkpoint(fixture_path(name + ".pt"))).first;
    return it->second;
  }
  torch::NoGradGuard no_grad;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
class parity_terramind_vit : public Fixture {};

TEST_F(parity_terramind_vit, LayerFeaturesMeanMerged) {
  const TensorMap& fx = data("terramind_vit");
  auto model = load_network("terramind_vit", /*with_decoder=*/false);
  for (const std::string prefix : {"output", "output_crop192"}) {
    torch::Tensor s2 = fx.at("input/s2l2a"), s1 = fx.at("input/s1grd");
    if (prefix == "output_crop192") {
      s2 = s2.slice(2, 16, 208).slice(3, 16, 208);
      s1 = s1.slice(2, 16, 208).slice(3, 16, 208);
    }
    const auto a = model->embed_pixels("untok_sen2l2a@224", s2);
    const auto b = model->embed_pixels("untok_sen1grd@224", s1);
    const auto tokens = torch::cat({a.x + a.emb, b.x + b.emb}, 1);
    const auto layers = model->encode_layers(tokens);
    ASSERT_EQ(layers.size(), 3u);
    const int64_t n = a.x.size(1);
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const auto merged = torch::stack({layers[i].slice(1, 0, n), layers[i].slice(1, n, 2 * n)}, 1).mean(1);
      EXPECT_LE(max_abs_diff(merged, fx.at(prefix + "/layer" + std::to_string(i))),
                tolerance("terramind_vit", prefix + "/layer" + std::to_string(i)))
          << prefix << " layer " << i;
    }
    if (prefix == "output") {
      EXPECT_LE(max_abs_diff(layers.back(), fx.at("aux/last_layer_unmerged")),
                tolerance("terramind_vit", "aux/last_layer_unmerged"));
    }
  }
}

// ---------------------------------------------------------------------------------------------
class parity_terramind_generation : public Fixture {};

TEST_F(parity_terramind_generation, EncoderOutputAndContext) {
  const TensorMap& fx = data("terramind_generation");
  auto model = load_network("terramind_generation", /*with_decoder=*/true);
  const auto s2 = model->embed_pixels("untok_sen2l2a@224", standardise(fx.at("input/s2l2a_raw"), "S2L2A"));
  const auto s1 = model->embed_pixels("untok_sen1grd@224", standardise(fx.at("input/s1grd_raw"), "S1GRD"));
  expect_close(s2.x, fx, "terramind_generation", "encoder/untok_sen2l2a@224/x");
  expect_close(s2.emb.expand_as(s2.x), fx, "terramind_generation", "encoder/untok_sen2l2a@224/emb");
  expect_close(s1.x, fx, "terramind_generation", "encoder/untok_sen1grd@224/x");
  const auto x = torch::cat({s2.x, s1.x}, 1);
  const auto emb = torch::cat({s2.emb, s1.emb}, 1).expand_as(x);
  const auto encoded = model->encode(x + emb);
  expect_close(encoded, fx, "terramind_generation", "encoder/output");
  expect_close(model->context(encoded, emb), fx, "terramind_generation", "encoder/context");
}

TEST_F(parity_terramind_generation, ArgmaxChainedGenerationNetworkPath) {
  const TensorMap& fx = data("terramind_generation");
  const int64_t side = token_side("terramind_generation");  // tokens per image side
  auto model = load_network("terramind_generation", /*with_decoder=*/true);
  const auto s2 = model->embed_pixels("untok_sen2l2a@224", standardise(fx.at("input/s2l2a_raw"), "S2L2A"));

  // Step 1: LULC from S2L2A alone.
  auto x = s2.x;
  auto emb = s2.emb.expand_as(x);
  auto decoded =
      model->decode_image("tok_lulc@224", model->context(model->encode(x + emb), emb), side, side);
  const std::string lulc = "generate_argmax/tok_lulc@224/";
  expect_close(decoded, fx, "terramind_generation", lulc + "decoder_out");
  auto logits = model->logits("tok_lulc@224", decoded);
  expect_close(logits.select(1, 0), fx, "terramind_generation", lulc + "logits_pos0", "logits");
  const auto lulc_tokens = logits.argmax(-1);
  EXPECT_TRUE(torch::equal(lulc_tokens, fx.at("generate_argmax/tokens/tok_lulc@224")));

  // Step 2: S1GRD from S2L2A followed by the generated LULC tokens.
  const auto t = model->embed_tokens("tok_lulc@224", lulc_tokens, side, side);
  x = torch::cat({s2.x, t.x}, 1);
  emb = torch::cat({s2.emb.expand_as(s2.x), t.emb.expand_as(t.x)}, 1);
  decoded = model->decode_image("tok_sen1grd@224", model->context(model->encode(x + emb), emb),
                                side, side);
  const std::string s1 = "generate_argmax/tok_sen1grd@224/";
  expect_close(decoded, fx, "terramind_generation", s1 + "decoder_out");
  logits = model->logits("tok_sen1grd@224", decoded);
  expect_close(logits.select(1, 0), fx, "terramind_generation", s1 + "logits_pos0", "logits");
  EXPECT_TRUE(torch::equal(logits.argmax(-1), fx.at("generate_argmax/tokens/tok_sen1grd@224")));
}

TEST_F(parity_terramind_generation, GreedyGenerateReproducesArgmaxTokens) {
  const TensorMap& fx = data("terramind_generation");
  auto model = load_network("terramind_generation", /*with_decoder=*/true);
  net::GenerationRequest request;
  request.inputs = {{"untok_sen2l2a@224", standardise(fx.at("input/s2l2a_raw"), "S2L2A")}};
  request.targets = {"tok_lulc@224", "tok_sen1grd@224"};
  request.sampling.temperature = 0.0;
  request.seed = 12345;  // irrelevant for greedy decoding
  const auto tokens = net::generate_tokens(*model, request);
  EXPECT_TRUE(torch::equal(tokens.at("tok_lulc@224"), fx.at("generate_argmax/tokens/tok_lulc@224")));
  EXPECT_TRUE(torch::equal(tokens.at("tok_sen1grd@224"), fx.at("generate_argmax/tokens/tok_sen1grd@224")));
}

TEST_F(parity_terramind_generation, SampledTokensWithTheReferenceSeed) {
  const TensorMap& fx = data("terramind_generation");
  const auto settings = fixture_json("terramind_generation").at("settings").at("generate_sampled");
  auto model = load_network("terramind_generation", /*with_decoder=*/true);
  net::GenerationRequest request;
  request.inputs = {{"untok_sen2l2a@224", standardise(fx.at("input/s2l2a_raw"), "S2L2A")}};
  request.targets = {"tok_lulc@224", "tok_sen1grd@224"};
  request.sampling.temperature = settings.at("temps").get<double>();
  request.sampling.top_p = settings.at("top_p").get<double>();
  request.seed = settings.at("generate_seed_drawn").get<int64_t>();
  const auto tokens = net::generate_tokens(*model, request);
  // Same LibTorch (1.13.1) CPU generator and kernels as the reference: identical draws.
  EXPECT_TRUE(torch::equal(tokens.at("tok_lulc@224"), fx.at("generate_sampled/tokens/tok_lulc@224")));
  EXPECT_TRUE(torch::equal(tokens.at("tok_sen1grd@224"), fx.at("generate_sampled/tokens/tok_sen1grd@224")));
}

TEST_F(parity_terramind_generation, SampledDecoderOutputGivenReferenceTokens) {
  // Independent of the RNG: feed the reference's sampled LULC tokens into step 2.
  const TensorMap& fx = data("terramind_generation");
  const int64_t side = token_side("terramind_generation");  // tokens per image side
  auto model = load_network("terramind_generation", /*with_decoder=*/true);
  const auto s2 = model->embed_pixels("untok_sen2l2a@224", standardise(fx.at("input/s2l2a_raw"), "S2L2A"));
  auto emb = s2.emb.expand_as(s2.x);
  auto decoded = model->decode_image("tok_lulc@224", model->context(model->encode(s2.x + emb), emb),
                                     side, side);
  expect_close(decoded, fx, "terramind_generation", "generate_sampled/tok_lulc@224/decoder_out");
  const auto t = model->embed_tokens("tok_lulc@224", fx.at("generate_sampled/tokens/tok_lulc@224"),
                                     side, side);
  const auto x = torch::cat({s2.x, t.x}, 1);
  emb = torch::cat({s2.emb.expand_as(s2.x), t.emb.expand_as(t.x)}, 1);
  decoded = model->decode_image("tok_sen1grd@224", model->context(model->encode(x + emb), emb),
                                side, side);
  expect_close(decoded, fx, "terramind_generation", "generate_sampled/tok_sen1grd@224/decoder_out");
}
