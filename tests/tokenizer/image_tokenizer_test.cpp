// ImageTokenizer API beyond the fixtures: cards, loading paths, sizes, options and errors.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_paths.h"
#include "tm/model.h"
#include "tm/registry.h"
#include "tokenizer/ddim_sampler.h"
#include "tokenizer/tokenizer_network.h"
#include "tokenizer_fixtures.h"

using namespace terramind;
using terramind::testing::error_of;
using terramind::testing::fixture_card;
using terramind::testing::fixture_tensors;
using terramind::testing::fixture_tokenizer;
using terramind::testing::kDiVAE;
using terramind::testing::kVQVAE;
using terramind::testing::max_abs_diff;

namespace {

std::string card_path(const std::string& name) {
  return std::string(TM_TOKENIZER_CARDS_DIR) + "/terramind_v1_tokenizer_" + name + ".json";
}

at::Tensor fixture_image() { return fixture_tensors(kDiVAE).at("input/image"); }
at::Tensor fixture_tokens() { return fixture_tensors(kDiVAE).at("output/tokens"); }

}  // namespace

// ---------------------------------------------------------------------------------------------
TEST(tokenizer_card, OfficialCardsHaveTheReleasedArchitecture) {
  struct Expected {
    const char* name;
    TokenizerKind kind;
    int64_t channels, vocab, keys, elements;
  };
  // Key and element counts: spec section 8.2.
  for (const Expected& e : {Expected{"s2l2a", TokenizerKind::kDiVAE, 12, 15360, 601, 289290693},
                            Expected{"s1rtc", TokenizerKind::kDiVAE, 2, 15360, 601, 286587173},
                            Expected{"s1grd", TokenizerKind::kDiVAE, 2, 15360, 601, 286587173},
                            Expected{"dem", TokenizerKind::kDiVAE, 1, 15360, 601, 286316821},
                            Expected{"ndvi", TokenizerKind::kDiVAE, 1, 15360, 601, 286316821},
                            Expected{"lulc", TokenizerKind::kVQVAE, 10, 4375, 310, 183894021}}) {
    SCOPED_TRACE(e.name);
    const TokenizerCard card = TokenizerCard::from_file(card_path(e.name));
    EXPECT_EQ(card.kind, e.kind);
    EXPECT_EQ(card.channels, e.channels);
    EXPECT_EQ(card.vocab_size(), e.vocab);
    EXPECT_EQ(card.decode_size_multiple(), e.kind == TokenizerKind::kDiVAE ? 32 : 16);
    EXPECT_EQ(card.checkpoint.substr(card.checkpoint.rfind('/') + 1),
              ModalityRegistry::instance().get(card.modality).tokenizer);
    net::TokenizerNetwork network(card);
    const ExpectedShapes shapes = expected_shapes(*network);
    int64_t elements = 0;
    for (const auto& [name, shape] : shapes) {
      int64_t n = 1;
      for (int64_t d : shape) n *= d;
      elements += n;
    }
    EXPECT_EQ(static_cast<int64_t>(shapes.size()), e.keys);
    EXPECT_EQ(elements, e.elements);
  }
}

TEST(tokenizer_card, JsonRoundTrip) {
  for (const char* name : {"s2l2a", "lulc"}) {
    const TokenizerCard card = TokenizerCard::from_file(card_path(name));
    const TokenizerCard again = TokenizerCard::from_json(card.to_json());
    EXPECT_EQ(again.to_json(), card.to_json());
  }
}

TEST(tokenizer_card, BadCardsNameTheField) {
  const std::string good = fixture_card(kDiVAE).to_json();
  auto with = [&good](const std::string& key, const nlohmann::json& value) {
    auto j = nlohmann::json::parse(good);
    if (value.is_null())
      j.erase(key);
    else
      j[key] = value;
    return j.dump();
  };
  EXPECT_NE(error_of<std::invalid_argument>([&] {
              TokenizerCard::from_json(with("kind", nullptr));
            }).find("kind"),
            std::string::npos);
  EXPECT_NE(error_of<std::invalid_argument>([&] {
              TokenizerCard::from_json(with("kind", "uvit"));
            }).find("unknown tokenizer kind 'uvit'"),
            std::string::npos);
  EXPECT_NE(error_of<std::invalid_argument>([&] {
              TokenizerCard::from_json(with("modality", "S3"));
            }).find("unknown modality 'S3'"),
            std::string::npos);
  EXPECT_NE(error_of<std::invalid_argument>([&] {
              TokenizerCard::from_json(with("in_channels", 3));
            }).find("S1GRD has 2 bands but in_channels is 3"),
            std::string::npos);
  EXPECT_NE(error_of<std::invalid_argument>([&] {
              TokenizerCard::from_json(with("fsq_levels", std::vector<int>{8, 1}));
            }).find("level"),
            std::string::npos);
  EXPECT_NE(error_of<std::invalid_argument>([&] {
              TokenizerCard::from_json(with("encoder", {{"dim", 64}, {"num_heads", 3}}));
            }).find("encoder.dim"),
            std::string::npos);
  EXPECT_NE(
      error_of<std::invalid_argument>([&] { TokenizerCard::from_json("{"); }).find("invalid JSON"),
      std::string::npos);
  EXPECT_NE(error_of<std::invalid_argument>([] {
              TokenizerCard::from_file("/nonexistent/card.json");
            }).find("not found"),
            std::string::npos);
}

TEST(tokenizer_card, InferredFromCheckpoints) {
  const TokenizerCard divae = infer_tokenizer_card(
      load_torch_checkpoint(fixture_card(kDiVAE).checkpoint), "S1GRD", /*head_dim=*/32);
  TokenizerCard expected = fixture_card(kDiVAE);
  expected.name = divae.name;
  expected.checkpoint = divae.checkpoint;
  EXPECT_EQ(divae.to_json(), expected.to_json());

  const TokenizerCard vqvae = infer_tokenizer_card(
      load_torch_checkpoint(fixture_card(kVQVAE).checkpoint), "LULC", /*head_dim=*/32);
  expected = fixture_card(kVQVAE);
  expected.name = vqvae.name;
  expected.checkpoint = vqvae.checkpoint;
  EXPECT_EQ(vqvae.to_json(), expected.to_json());
  EXPECT_TRUE(vqvae.class_input);

  const TensorMap s1 = load_torch_checkpoint(fixture_card(kDiVAE).checkpoint);
  EXPECT_NE(error_of<std::invalid_argument>([&] {
              infer_tokenizer_card(s1, "DEM", 32);
            }).find("DEM has 1 bands"),
            std::string::npos);
  EXPECT_NE(error_of<std::invalid_argument>([&] {
              infer_tokenizer_card(s1, "S2RGB", 32);
            }).find("no image tokenizer"),
            std::string::npos);
  EXPECT_NE(error_of<CheckpointError>([&] {
              infer_tokenizer_card(s1, "S1GRD", 48);
            }).find("not a multiple of the head width 48"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------
TEST(tokenizer_loading, OpenCheckpointCardAndSafetensors) {
  torch::NoGradGuard no_grad;
  const TokenizerCard card = fixture_card(kDiVAE);
  const ImageTokenizer inferred = ImageTokenizer::open(card.checkpoint, "S1GRD", 32);
  EXPECT_TRUE(at::equal(inferred.encode(fixture_image()), fixture_tokens()));

  terramind::testing::ScratchDir scratch;
  save_safetensors(scratch.file("s1.safetensors"), load_torch_checkpoint(card.checkpoint));
  TokenizerCard local = card;
  local.checkpoint = "s1.safetensors";  // relative to the card's folder
  std::ofstream(scratch.file("s1.json")) << local.to_json();
  const ImageTokenizer from_card = ImageTokenizer::open(scratch.file("s1.json"));
  EXPECT_EQ(from_card.card().checkpoint, scratch.file("s1.safetensors"));
  EXPECT_TRUE(at::equal(from_card.encode(fixture_image()), fixture_tokens()));
}

TEST(tokenizer_loading, MismatchesListEveryKey) {
  const TokenizerCard s1 = fixture_card(kDiVAE);
  const std::string wrong_kind =
      error_of<CheckpointError>([&] { ImageTokenizer::load(s1, fixture_card(kVQVAE).checkpoint); });
  EXPECT_NE(wrong_kind.find("tokenizer_vqvae_lulc_state_dict.pt"), std::string::npos) << wrong_kind;
  EXPECT_NE(wrong_kind.find("decoder.time_embed.0.weight"), std::string::npos) << wrong_kind;
  EXPECT_NE(wrong_kind.find("post_quant_proj.weight"), std::string::npos) << wrong_kind;

  TokenizerCard deeper = s1;
  deeper.encoder.depth = 3;
  const std::string missing =
      error_of<CheckpointError>([&] { ImageTokenizer::load(deeper, s1.checkpoint); });
  EXPECT_NE(missing.find("encoder.blocks.2.attn.qkv.weight"), std::string::npos) << missing;

  TokenizerCard wider = s1;
  wider.unet.model_channels = 64;
  const std::string shapes =
      error_of<CheckpointError>([&] { ImageTokenizer::load(wider, s1.checkpoint); });
  EXPECT_NE(shapes.find("decoder.input_blocks.0.0.weight"), std::string::npos) << shapes;

  EXPECT_NE(error_of<std::invalid_argument>([&] {
              ImageTokenizer::open(s1.checkpoint, /*modality=*/"", 32);
            }).find("cannot tell the tokenizer's modality"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------
class tokenizer_api : public ::testing::Test {
 protected:
  torch::NoGradGuard no_grad;
};

TEST_F(tokenizer_api, EncodesOtherSizesWithResizedPositions) {
  const ImageTokenizer& tok = fixture_tokenizer(kDiVAE);
  const auto crop = fixture_image().slice(2, 16, 208).slice(3, 32, 192);  // 192 x 160
  const auto tokens = tok.encode(crop);
  EXPECT_EQ(tokens.sizes(), (std::vector<int64_t>{2, 12, 10}));
  // 256: the training size, where the position table is used as stored.
  const auto padded = at::constant_pad_nd(fixture_image(), {16, 16, 16, 16});
  EXPECT_EQ(tok.encode(padded).sizes(), (std::vector<int64_t>{2, 16, 16}));
}

TEST_F(tokenizer_api, SeedsMakeDecodingReproducible) {
  const ImageTokenizer& tok = fixture_tokenizer(kDiVAE);
  const auto tokens = fixture_tokens().slice(1, 0, 4).slice(2, 0, 4);  // 64 x 64 px
  DecodeOptions options;
  options.steps = 2;
  options.seed = 7;
  const auto a = tok.decode(tokens, options);
  EXPECT_TRUE(at::equal(a, tok.decode(tokens, options)));
  options.seed = 8;
  EXPECT_FALSE(at::equal(a, tok.decode(tokens, options)));
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{2, 2, 64, 64}));
}

TEST_F(tokenizer_api, ClampBoundsOutputsAndCanBeTurnedOff) {
  const ImageTokenizer& tok = fixture_tokenizer(kDiVAE);
  const TensorMap& fx = fixture_tensors(kDiVAE);
  DecodeOptions options;
  options.steps = 2;
  options.noise = fx.at("input/noise");
  const auto clamped = tok.decode(fixture_tokens(), options);
  EXPECT_LE(clamped.abs().max().item<float>(), 1.0f);  // mean +- 1 std in physical units
  options.clamp = false;
  const auto free = tok.decode(fixture_tokens(), options);
  EXPECT_GT(free.abs().max().item<float>(), 1.0f);  // these random weights overshoot
}

TEST_F(tokenizer_api, StepCountsThatDoNotDivideRunAnExtraStep) {
  const ImageTokenizer& tok = fixture_tokenizer(kDiVAE);
  DecodeOptions options;
  options.steps = 3;
  options.seed = 1;
  std::vector<int64_t> timesteps;
  options.on_step = [&timesteps](const DiffusionStep& s) { timesteps.push_back(s.timestep); };
  tok.decode(fixture_tokens().slice(1, 0, 2).slice(2, 0, 2), options);
  EXPECT_EQ(timesteps, (std::vector<int64_t>{999, 666, 333, 0}));
}

TEST_F(tokenizer_api, FlatSquareTokenRowsAsTerraMindGeneratesThem) {
  const ImageTokenizer& tok = fixture_tokenizer(kVQVAE);
  const auto grid = fixture_tensors(kVQVAE).at("output/tokens");
  EXPECT_TRUE(
      at::equal(tok.decode(grid), tok.decode(grid.reshape({grid.size(0), -1}).to(at::kLong))));
}

TEST_F(tokenizer_api, StandardisationUsesTheRegistry) {
  const ImageTokenizer& s1 = fixture_tokenizer(kDiVAE);
  const auto db = at::tensor({-12.599f, -20.293f}).reshape({1, 2, 1, 1});
  EXPECT_LE(s1.standardise(db).abs().max().item<float>(), 1e-6f);
  const auto one_std = at::tensor({-12.599f + 5.195f, -20.293f + 5.89f}).reshape({1, 2, 1, 1});
  EXPECT_LE(max_abs_diff(s1.standardise(one_std), at::ones({1, 2, 1, 1})), 1e-5);
  const auto x = at::randn({1, 2, 4, 4});
  EXPECT_LE(max_abs_diff(s1.standardise(s1.destandardise(x)), x), 1e-5);
  const ImageTokenizer& lulc = fixture_tokenizer(kVQVAE);
  EXPECT_TRUE(at::equal(lulc.destandardise(x), x));  // logits stay logits
}

TEST_F(tokenizer_api, ClassRasterAndProbabilities) {
  auto logits = at::zeros({1, 3, 2, 2});
  logits[0][2][0][0] = 5.0f;
  logits[0][1][1][1] = 1.0f;
  const auto classes = class_raster(logits);
  EXPECT_EQ(classes.scalar_type(), at::kByte);
  EXPECT_EQ(classes[0][0][0].item<int>(), 2);
  EXPECT_EQ(classes[0][1][1].item<int>(), 1);
  const auto p = class_probabilities(logits);
  EXPECT_LE(max_abs_diff(p.sum(1), at::ones({1, 2, 2})), 1e-6);
  EXPECT_NEAR(p[0][0][0][1].item<float>(), 1.0f / 3.0f, 1e-6f);
}

TEST_F(tokenizer_api, UntrainedTokenizersRun) {
  TokenizerCard card = fixture_card(kDiVAE);
  const ImageTokenizer a = ImageTokenizer::untrained(card, 3);
  const ImageTokenizer b = ImageTokenizer::untrained(card, 3);
  const auto tokens = a.encode(fixture_image());
  EXPECT_TRUE(at::equal(tokens, b.encode(fixture_image())));
  DecodeOptions options;
  options.steps = 1;
  options.seed = 0;
  EXPECT_EQ(a.decode(tokens.slice(1, 0, 2).slice(2, 0, 2), options).sizes(),
            (std::vector<int64_t>{2, 2, 32, 32}));
}

// ---------------------------------------------------------------------------------------------
class tokenizer_errors : public ::testing::Test {
 protected:
  torch::NoGradGuard no_grad;
};

TEST_F(tokenizer_errors, WrongChannelsOrSizes) {
  const ImageTokenizer& tok = fixture_tokenizer(kDiVAE);
  EXPECT_NE(error_of<std::invalid_argument>([&] {
              tok.encode(at::zeros({1, 3, 224, 224}));
            }).find("expected an image [B, 2, H, W], got [1, 3, 224, 224]"),
            std::string::npos);
  EXPECT_NE(error_of<std::invalid_argument>([&] {
              tok.encode(at::zeros({1, 2, 200, 224}));
            }).find("image size 200x224 is not a multiple of 16"),
            std::string::npos);
  EXPECT_NE(error_of<std::invalid_argument>([&] {
              tok.encode(at::zeros({2, 224, 224}));
            }).find("expected an image"),
            std::string::npos);
  // 7 x 7 tokens = 112 px: fine for the ViTs, not for the UNet (multiples of 32).
  EXPECT_NE(error_of<std::invalid_argument>([&] {
              tok.decode(at::zeros({1, 7, 7}, at::kInt));
            }).find("multiples of 32"),
            std::string::npos);
  EXPECT_EQ(fixture_tokenizer(kVQVAE).decode(at::zeros({1, 7, 7}, at::kInt)).sizes(),
            (std::vector<int64_t>{1, 10, 112, 112}));
}

TEST_F(tokenizer_errors, TokensOutsideTheVocabulary) {
  const ImageTokenizer& s1 = fixture_tokenizer(kDiVAE);
  EXPECT_NE(error_of<std::invalid_argument>([&] {
              s1.decode(at::full({1, 2, 2}, 15360));
            }).find("token value 15360 is outside the vocabulary [0, 15360)"),
            std::string::npos);
  EXPECT_NE(error_of<std::invalid_argument>([&] {
              s1.decode(at::full({1, 2, 2}, -1));
            }).find("token value -1"),
            std::string::npos);
  const ImageTokenizer& lulc = fixture_tokenizer(kVQVAE);
  EXPECT_NE(error_of<std::invalid_argument>([&] {
              lulc.decode(at::full({1, 2, 2}, 4375));
            }).find("[0, 4375)"),
            std::string::npos);
  EXPECT_NE(error_of<std::invalid_argument>([&] {
              lulc.decode(at::zeros({1, 2, 2}));
            }).find("tokens must be integers"),
            std::string::npos);
  EXPECT_NE(error_of<std::invalid_argument>([&] {
              lulc.decode(at::zeros({1, 195}, at::kLong));
            }).find("do not form a square grid"),
            std::string::npos);
}

TEST_F(tokenizer_errors, BadClassInputsAndDecodeOptions) {
  const ImageTokenizer& lulc = fixture_tokenizer(kVQVAE);
  EXPECT_NE(error_of<std::invalid_argument>([&] {
              lulc.encode(at::full({1, 16, 16}, 10));
            }).find("class values must lie in [0, 9], found 10"),
            std::string::npos);
  EXPECT_NE(error_of<std::invalid_argument>([&] {
              lulc.encode(at::full({1, 1, 16, 16}, 2.5));
            }).find("whole numbers"),
            std::string::npos);
  const ImageTokenizer& s1 = fixture_tokenizer(kDiVAE);
  const auto tokens = at::zeros({1, 2, 2}, at::kInt);
  DecodeOptions options;
  options.steps = 1001;
  EXPECT_NE(error_of<std::invalid_argument>([&] {
              s1.decode(tokens, options);
            }).find("steps must be in [1, 1000], got 1001"),
            std::string::npos);
  options.steps = 2;
  options.noise = at::zeros({1, 2, 16, 16});
  EXPECT_NE(error_of<std::invalid_argument>([&] {
              s1.decode(tokens, options);
            }).find("noise must be [1, 2, 32, 32]"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------
TEST(ddim_schedule, TrailingTimesteps) {
  const auto fifty = ddim_timesteps(50);
  ASSERT_EQ(fifty.size(), 50u);
  EXPECT_EQ(fifty.front(), 999);
  EXPECT_EQ(fifty[1], 979);
  EXPECT_EQ(fifty.back(), 19);
  EXPECT_EQ(ddim_timesteps(1), (std::vector<int64_t>{999}));
  EXPECT_EQ(ddim_timesteps(3), (std::vector<int64_t>{999, 666, 333, 0}));
  EXPECT_THROW(ddim_timesteps(0), std::invalid_argument);
  EXPECT_THROW(ddim_timesteps(1001), std::invalid_argument);
}

TEST(ddim_schedule, ZeroTerminalSnrTable) {
  const net::DdimSampler sampler{DiffusionConfig{}};
  const auto& a = sampler.alphas_cumprod();
  // Double-precision values of spec section 6.1; float32 differs in the last digits.
  EXPECT_NEAR(a[0].item<double>(), 0.9999, 1e-6);
  EXPECT_NEAR(a[19].item<double>(), 0.994195, 1e-5);
  EXPECT_NEAR(a[99].item<double>(), 0.896378, 1e-5);
  EXPECT_NEAR(a[199].item<double>(), 0.657087, 1e-5);
  EXPECT_NEAR(a[499].item<double>(), 0.0760288, 1e-5);
  EXPECT_NEAR(a[899].item<double>(), 1.0613e-4, 1e-6);
  EXPECT_EQ(a[999].item<double>(), 0.0);
  DiffusionConfig plain;
  plain.zero_terminal_snr = false;
  EXPECT_GT(net::DdimSampler(plain).alphas_cumprod()[999].item<double>(), 0.0);
}

TEST(ddim_schedule, StepsUseUnclampedNoiseAndEndOnTheClampedEstimate) {
  const net::DdimSampler sampler{DiffusionConfig{}};
  const auto x_t = at::full({1, 1, 2, 2}, 0.5f);
  const auto x0 = at::full({1, 1, 2, 2}, 3.0f);
  // Last step (t' < 0, alpha' = 1): the clamped x0 itself.
  EXPECT_TRUE(at::equal(sampler.step(x0, 99, x_t, 10, true), at::ones({1, 1, 2, 2})));
  EXPECT_TRUE(at::equal(sampler.step(x0, 99, x_t, 10, false), x0));
  // First step (alpha = 0): eps is x_t whatever x0 is.
  const double a = sampler.alphas_cumprod()[899].item<double>();
  const auto first = sampler.step(x0, 999, x_t, 10, true);
  EXPECT_NEAR(first[0][0][0][0].item<double>(), std::sqrt(a) * 1.0 + std::sqrt(1 - a) * 0.5, 1e-6);
}
