// Image tokenizers against the reference fixtures tokenizer_divae_s1grd, tokenizer_vqvae_lulc and
// the tokenizer part of terramind_generation. Weights come from the official-format
// `_state_dict.pt`; inputs and expected values from `<fixture>.pt`. Tolerances: fixtures/README.md.
#include <gtest/gtest.h>

#include "model/weights.h"
#include "tm/model.h"
#include "tokenizer/ddim_sampler.h"
#include "tokenizer/tokenizer_network.h"
#include "tokenizer_fixtures.h"

using namespace terramind;
using terramind::testing::fixture_card;
using terramind::testing::fixture_tensors;
using terramind::testing::fixture_tokenizer;
using terramind::testing::kDiVAE;
using terramind::testing::kVQVAE;
using terramind::testing::max_abs_diff;

namespace {

constexpr double kEncoderTolerance = 1e-4;  // aux/encoder_out, aux/latent, output/quant
constexpr double kStepTolerance = 1e-4;     // DiVAE aux/T2/*, output/decoded_T2, VQVAE decoded
constexpr double kT10Tolerance = 2e-4;      // DiVAE output/decoded_T10

void expect_encoding(const ImageTokenizer::Encoded& e, const TensorMap& fx) {
  EXPECT_LE(max_abs_diff(e.features, fx.at("aux/encoder_out")), kEncoderTolerance);
  EXPECT_LE(max_abs_diff(e.latent, fx.at("aux/latent")), kEncoderTolerance);
  EXPECT_LE(max_abs_diff(e.codes, fx.at("output/quant")), kEncoderTolerance);
  ASSERT_EQ(e.tokens.scalar_type(), at::kInt);
  EXPECT_TRUE(at::equal(e.tokens, fx.at("output/tokens")));
  // Every fixture token is at least 1e-4 from an FSQ rounding boundary.
  EXPECT_GT(fx.at("aux/tokens_margin").min().item<double>(), 1e-4);
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
  EXPECT_EQ(weights.size(), 369u);
  EXPECT_EQ(tok.parameter_count(), 2530501);
  // The fixture `.pt` repeats the weights under weights/<official key>.
  const TensorMap& fx = fixture_tensors(kDiVAE);
  for (const auto& [name, tensor] : weights)
    EXPECT_TRUE(at::equal(tensor, fx.at("weights/" + name))) << name;
}

TEST_F(parity_tokenizer_divae_s1grd, EncoderLatentCodesAndTokens) {
  const TensorMap& fx = fixture_tensors(kDiVAE);
  expect_encoding(fixture_tokenizer(kDiVAE).encode_detailed(fx.at("input/image")), fx);
}

TEST_F(parity_tokenizer_divae_s1grd, NoiseScheduleAndTimesteps) {
  const TensorMap& fx = fixture_tensors(kDiVAE);
  const net::DdimSampler sampler(fixture_card(kDiVAE).diffusion);
  EXPECT_LE(max_abs_diff(sampler.alphas_cumprod(), fx.at("aux/alphas_cumprod")), 1e-7);
  EXPECT_EQ(sampler.alphas_cumprod()[999].item<float>(), 0.0f);
  for (int steps : {2, 10}) {
    const auto expected = fx.at("aux/T" + std::to_string(steps) + "/timesteps");
    const auto actual = ddim_timesteps(steps);
    ASSERT_EQ(static_cast<int64_t>(actual.size()), expected.numel());
    for (std::size_t i = 0; i < actual.size(); ++i)
      EXPECT_EQ(actual[i], expected[static_cast<int64_t>(i)].item<int64_t>());
  }
}

TEST_F(parity_tokenizer_divae_s1grd, DecodeTwoStepsWithIntermediates) {
  const TensorMap& fx = fixture_tensors(kDiVAE);
  DecodeOptions options;
  options.steps = 2;
  options.noise = fx.at("input/noise");
  std::vector<DiffusionStep> steps;
  options.on_step = [&steps](const DiffusionStep& s) { steps.push_back(s); };
  const auto decoded = fixture_tokenizer(kDiVAE).decode(fx.at("output/tokens"), options);
  ASSERT_EQ(steps.size(), 2u);
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const std::string prefix = "aux/T2/step" + std::to_string(i) + "/";
    EXPECT_EQ(steps[i].timestep,
              fx.at("aux/T2/timesteps")[static_cast<int64_t>(i)].item<int64_t>());
    EXPECT_LE(max_abs_diff(steps[i].model_output, fx.at(prefix + "model_output")), kStepTolerance)
        << prefix;
    EXPECT_LE(max_abs_diff(steps[i].sample, fx.at(prefix + "prev_sample")), kStepTolerance)
        << prefix;
  }
  EXPECT_LE(max_abs_diff(decoded, fx.at("output/decoded_T2")), kStepTolerance);
}

TEST_F(parity_tokenizer_divae_s1grd, DecodeTenSteps) {
  const TensorMap& fx = fixture_tensors(kDiVAE);
  DecodeOptions options;
  options.steps = 10;
  options.noise = fx.at("input/noise");
  const auto decoded = fixture_tokenizer(kDiVAE).decode(fx.at("output/tokens"), options);
  EXPECT_LE(max_abs_diff(decoded, fx.at("output/decoded_T10")), kT10Tolerance);
}

TEST_F(parity_tokenizer_divae_s1grd, SeededNoiseIsTheReferenceGeneratorStream) {
  // input/noise was drawn with torch.Generator().manual_seed(noise_seed = 1021).
  const TensorMap& fx = fixture_tensors(kDiVAE);
  DecodeOptions seeded;
  seeded.steps = 2;
  seeded.seed = 1021;
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
  EXPECT_EQ(load_torch_checkpoint(fixture_card(kVQVAE).checkpoint).size(), 70u);
  EXPECT_EQ(tok.parameter_count(), 630149);
}

TEST_F(parity_tokenizer_vqvae_lulc, EncodesClassIdsAsOneHot) {
  const TensorMap& fx = fixture_tensors(kVQVAE);
  const ImageTokenizer& tok = fixture_tokenizer(kVQVAE);
  expect_encoding(tok.encode_detailed(fx.at("input/lulc")), fx);
  // [B, H, W] integer maps and explicit one-hot input give the same tokens.
  const auto ids = fx.at("input/lulc").squeeze(1).to(at::kLong);
  EXPECT_TRUE(at::equal(tok.encode(ids), fx.at("output/tokens")));
  const auto one_hot = at::one_hot(ids, 10).permute({0, 3, 1, 2}).to(at::kFloat);
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
  EXPECT_LE(max_abs_diff(network->post_quant_proj->forward(codes), fx.at("aux/post_quant_proj")),
            kEncoderTolerance);
}

TEST_F(parity_tokenizer_vqvae_lulc, DecodesLogitsAndClasses) {
  const TensorMap& fx = fixture_tensors(kVQVAE);
  const auto logits = fixture_tokenizer(kVQVAE).decode(fx.at("output/tokens"));
  EXPECT_LE(max_abs_diff(logits, fx.at("output/decoded")), kStepTolerance);
  EXPECT_TRUE(at::equal(class_raster(logits).to(at::kLong), fx.at("output/decoded_argmax")));
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
  const auto logits = tok.destandardize(tok.decode(tokens));
  EXPECT_LE(max_abs_diff(logits, fx.at("generate_argmax/output/tok_lulc@224")), 1e-4);
}

TEST_F(parity_tokenizer_generation_decode, S1grdDecibelsFromGeneratedTokens) {
  const TensorMap& fx = fixture_tensors("terramind_generation");
  const ImageTokenizer& tok = fixture_tokenizer(kDiVAE);
  DecodeOptions options;
  options.steps = 2;  // timesteps(decode) of the fixture
  options.noise = fx.at("generate_argmax/decode_noise/tok_sen1grd@224");
  const auto decibels =
      tok.destandardize(tok.decode(fx.at("generate_argmax/tokens/tok_sen1grd@224"), options));
  EXPECT_LE(max_abs_diff(decibels, fx.at("generate_argmax/output/tok_sen1grd@224")), 1e-3);
}
