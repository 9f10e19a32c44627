// Image tokenizers against the reference fixtures tokenizer_divae_s1grd, tokenizer_vqvae_lulc and
// the tokenizer part of terramind_generation. Weights come from the official-format
// `_state_dict.pt`; inputs and expected values from `<fixture>.pt`; seeds, step counts, sizes and
// tolerances from `<fixture>.json` (so the tests follow a regenerated fixture set).
#include <gtest/gtest.h>

#include "model/weights.h"
#include "tm/model.h"
#include "tokenizer/ddim_sampler.h"
#include "tokenizer/tokenizer_network.h"
#include "tokenizer_fixtures.h"

using namespace terramind;
using terramind::testing::fixture_card;
using terramind::testing::fixture_json;
using terramind::testing::fixture_tensors;
using terramind::testing::fixture_token_margin;
using terramind::testing::fixture_tokenizer;
using terramind::testing::fixture_tolerance;
using terramind::testing::kDiVAE;
using terramind::testing::kVQVAE;
using terramind::testing::max_abs_diff;

namespace {

// `key` of the fixture's tensors within its suggested tolerance.
void expect_close(const at::Tensor& actual, const std::string& fixture, const std::string& key) {
  EXPECT_LE(max_abs_diff(actual, fixture_tensors(fixture).at(key)), fixture_tolerance(fixture, key))
      << fixture << " " << key;
}

void expect_encoding(const ImageTokenizer::Encoded& e, const std::string& fixture) {
  const TensorMap& fx = fixture_tensors(fixture);
  expect_close(e.features, fixture, "aux/encoder_out");
  expect_close(e.latent, fixture, "aux/latent");
  expect_close(e.codes, fixture, "output/quant");
  ASSERT_EQ(e.tokens.scalar_type(), at::kInt);
  EXPECT_TRUE(at::equal(e.tokens, fx.at("output/tokens")));
  // Tokens are exact where the FSQ margin exceeds the fixture's bound: everywhere in these.
  EXPECT_GT(fx.at("aux/tokens_margin").min().item<double>(), fixture_token_margin(fixture));
}

// The official-format checkpoint's key and parameter counts ("files" of the fixture JSON).
const nlohmann::json& state_dict_facts(const std::string& fixture) {
  return fixture_json(fixture).at("files").at(fixture + "_state_dict.pt");
}

// The DiVAE fixture's decode step counts (settings.timesteps: the short and the long run).
std::vector<int64_t> fixture_timesteps() {
  return fixture_json(kDiVAE).at("settings").at("timesteps").get<std::vector<int64_t>>();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
class parity_tokenizer_divae_s1grd : public ::testing::Test {
 protected:
  torch::NoGradGuard no_grad;
};

TEST_F(parity_tokenizer_divae_s1grd, LoadsOfficialCheckpointLayoutStrictly) {
  const ImageTokenizer& tok = fixture_tokenizer(kDiVAE);
  EXPECT_TRUE(tok.load_report().clean()) << tok.load_report().describe();
  const TensorMap weights = load_torch_checkpoint(fixture_card(kDiVAE).checkpoint);
  EXPECT_EQ(weights.size(), state_dict_facts(kDiVAE).at("num_keys").get<std::size_t>());
  EXPECT_EQ(tok.parameter_count(), state_dict_facts(kDiVAE).at("num_params").get<int64_t>());
  // The fixture `.pt` repeats the weights under weights/<official key>.
  const TensorMap& fx = fixture_tensors(kDiVAE);
  for (const auto& [name, tensor] : weights)
    EXPECT_TRUE(at::equal(tensor, fx.at("weights/" + name))) << name;
}

TEST_F(parity_tokenizer_divae_s1grd, EncoderLatentCodesAndTokens) {
  const TensorMap& fx = fixture_tensors(kDiVAE);
  expect_encoding(fixture_tokenizer(kDiVAE).encode_detailed(fx.at("input/image")), kDiVAE);
}

TEST_F(parity_tokenizer_divae_s1grd, NoiseScheduleAndTimesteps) {
  const TensorMap& fx = fixture_tensors(kDiVAE);
  const net::DdimSampler sampler(fixture_card(kDiVAE).diffusion);
  EXPECT_LE(max_abs_diff(sampler.alphas_cumprod(), fx.at("aux/alphas_cumprod")), 1e-7);
  EXPECT_EQ(sampler.alphas_cumprod()[999].item<float>(), 0.0f);
  ASSERT_FALSE(fixture_timesteps().empty());
  for (int64_t steps : fixture_timesteps()) {
    const auto expected = fx.at("aux/T" + std::to_string(steps) + "/timesteps");
    const auto actual = ddim_timesteps(steps);
    ASSERT_EQ(static_cast<int64_t>(actual.size()), expected.numel());
    for (std::size_t i = 0; i < actual.size(); ++i)
      EXPECT_EQ(actual[i], expected[static_cast<int64_t>(i)].item<int64_t>());
  }
}

TEST_F(parity_tokenizer_divae_s1grd, DecodeShortRunWithIntermediates) {
  const TensorMap& fx = fixture_tensors(kDiVAE);
  const int64_t count = fixture_timesteps().front();  // the run recorded step by step
  const std::string run = "aux/T" + std::to_string(count) + "/";
  ASSERT_TRUE(fx.contains(run + "timesteps")) << run;
  DecodeOptions options;
  options.steps = count;
  options.noise = fx.at("input/noise");
  std::vector<DiffusionStep> steps;
  options.on_step = [&steps](const DiffusionStep& s) { steps.push_back(s); };
  const auto decoded = fixture_tokenizer(kDiVAE).decode(fx.at("output/tokens"), options);
  ASSERT_EQ(static_cast<int64_t>(steps.size()), fx.at(run + "timesteps").numel());
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const std::string prefix = run + "step" + std::to_string(i) + "/";
    EXPECT_EQ(steps[i].timestep, fx.at(run + "timesteps")[static_cast<int64_t>(i)].item<int64_t>());
    expect_close(steps[i].model_output, kDiVAE, prefix + "model_output");
    expect_close(steps[i].sample, kDiVAE, prefix + "prev_sample");
  }
  expect_close(decoded, kDiVAE, "output/decoded_T" + std::to_string(count));
}

TEST_F(parity_tokenizer_divae_s1grd, DecodeEveryRecordedStepCount) {
  const TensorMap& fx = fixture_tensors(kDiVAE);
  for (int64_t count : fixture_timesteps()) {
    DecodeOptions options;
    options.steps = count;
    options.noise = fx.at("input/noise");
    const auto decoded = fixture_tokenizer(kDiVAE).decode(fx.at("output/tokens"), options);
    expect_close(decoded, kDiVAE, "output/decoded_T" + std::to_string(count));
  }
}

TEST_F(parity_tokenizer_divae_s1grd, SeededNoiseIsTheReferenceGeneratorStream) {
  // input/noise was drawn with torch.Generator().manual_seed(settings.noise_seed).
  const TensorMap& fx = fixture_tensors(kDiVAE);
  DecodeOptions seeded;
  seeded.steps = fixture_timesteps().front();
  seeded.seed = fixture_json(kDiVAE).at("settings").at("noise_seed").get<uint64_t>();
  DecodeOptions given = seeded;
  given.noise = fx.at("input/noise");
  const ImageTokenizer& tok = fixture_tokenizer(kDiVAE);
  EXPECT_TRUE(at::equal(tok.decode(fx.at("output/tokens"), seeded),
                        tok.decode(fx.at("output/tokens"), given)));
}

// ---------------------------------------------------------------------------------------------
class parity_tokenizer_vqvae_lulc : public ::testing::Test {
 protected:
  torch::NoGradGuard no_grad;
};

TEST_F(parity_tokenizer_vqvae_lulc, LoadsOfficialCheckpointLayoutStrictly) {
  const ImageTokenizer& tok = fixture_tokenizer(kVQVAE);
  EXPECT_TRUE(tok.load_report().clean()) << tok.load_report().describe();
  EXPECT_EQ(load_torch_checkpoint(fixture_card(kVQVAE).checkpoint).size(),
            state_dict_facts(kVQVAE).at("num_keys").get<std::size_t>());
  EXPECT_EQ(tok.parameter_count(), state_dict_facts(kVQVAE).at("num_params").get<int64_t>());
}

TEST_F(parity_tokenizer_vqvae_lulc, EncodesClassIdsAsOneHot) {
  const TensorMap& fx = fixture_tensors(kVQVAE);
  const ImageTokenizer& tok = fixture_tokenizer(kVQVAE);
  expect_encoding(tok.encode_detailed(fx.at("input/lulc")), kVQVAE);
  // [B, H, W] integer maps and explicit one-hot input give the same tokens.
  const auto ids = fx.at("input/lulc").squeeze(1).to(at::kLong);
  EXPECT_TRUE(at::equal(tok.encode(ids), fx.at("output/tokens")));
  const int64_t classes =
      fixture_json(kVQVAE).at("config").at("kwargs").at("n_channels").get<int64_t>();
  const auto one_hot = at::one_hot(ids, classes).permute({0, 3, 1, 2}).to(at::kFloat);
  EXPECT_TRUE(at::equal(tok.encode(one_hot), fx.at("output/tokens")));
}

TEST_F(parity_tokenizer_vqvae_lulc, PostQuantProjection) {
  const TensorMap& fx = fixture_tensors(kVQVAE);
  const TokenizerCard card = fixture_card(kVQVAE);
  net::TokenizerNetwork network(card);
  const TensorMap weights = load_torch_checkpoint(card.checkpoint);
  ASSERT_TRUE(
      net::assign_weights(*network, net::NamedTensors(weights.begin(), weights.end())).complete());
  const auto codes =
      fixture_tokenizer(kVQVAE).quantizer().indices_to_embedding(fx.at("output/tokens"));
  expect_close(network->post_quant_proj->forward(codes), kVQVAE, "aux/post_quant_proj");
}

TEST_F(parity_tokenizer_vqvae_lulc, DecodesLogitsAndClasses) {
  const TensorMap& fx = fixture_tensors(kVQVAE);
  const auto logits = fixture_tokenizer(kVQVAE).decode(fx.at("output/tokens"));
  expect_close(logits, kVQVAE, "output/decoded");
  EXPECT_EQ(terramind::testing::argmax_disagreements(
                class_raster(logits), fx.at("output/decoded_argmax"), fx.at("output/decoded"),
                fixture_tolerance(kVQVAE, "output/decoded")),
            "");
}

// ---------------------------------------------------------------------------------------------
// terramind_generation decodes its generated tokens with the two tokenizer fixtures.
class parity_tokenizer_generation_decode : public ::testing::Test {
 protected:
  torch::NoGradGuard no_grad;
};

TEST_F(parity_tokenizer_generation_decode, LulcLogitsFromGeneratedTokens) {
  const TensorMap& fx = fixture_tensors("terramind_generation");
  const ImageTokenizer& tok = fixture_tokenizer(kVQVAE);
  const auto tokens = fx.at("generate_argmax/tokens/tok_lulc@224");  // [2, 196] int64
  const auto logits = tok.destandardise(tok.decode(tokens));
  expect_close(logits, "terramind_generation", "generate_argmax/output/tok_lulc@224");
}

TEST_F(parity_tokenizer_generation_decode, S1grdDecibelsFromGeneratedTokens) {
  const TensorMap& fx = fixture_tensors("terramind_generation");
  const ImageTokenizer& tok = fixture_tokenizer(kDiVAE);
  DecodeOptions options;
  options.steps = fixture_json("terramind_generation")
                      .at("settings")
                      .at("generate_argmax")
                      .at("timesteps(decode)")
                      .get<int64_t>();
  options.noise = fx.at("generate_argmax/decode_noise/tok_sen1grd@224");
  const auto decibels =
      tok.destandardise(tok.decode(fx.at("generate_argmax/tokens/tok_sen1grd@224"), options));
  expect_close(decibels, "terramind_generation", "generate_argmax/output/tok_sen1grd@224");
}
