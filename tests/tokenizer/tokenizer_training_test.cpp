// TrainableTokenizer: the tokenizers' training objectives learn on small cards, the weights keep
// the official layout (ImageTokenizer loads them and encodes the same tokens), bad inputs throw.
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tm/model.h"

using namespace terramind;
using nlohmann::json;

namespace {

json fixture_card(const std::string& file) {
  return json::parse(std::ifstream(std::string(TM_FIXTURE_MODELS_DIR) + "/" + file));
}

// The fixture cards at 64 px with one block each: seconds per step on a CPU.
TokenizerCard small_lulc_card() {
  json j = fixture_card("tokenizer_lulc_fixture.json");
  j.erase("checkpoint");
  j["image_size"] = 64;
  j["encoder"]["dim"] = 32;
  j["encoder"]["depth"] = 1;
  j["decoder"]["dim"] = 32;
  j["decoder"]["depth"] = 1;
  return TokenizerCard::from_json(j.dump());
}

TokenizerCard small_s1grd_card() {
  json j = fixture_card("tokenizer_s1grd_fixture.json");
  j.erase("checkpoint");
  j["image_size"] = 64;
  j["encoder"]["dim"] = 32;
  j["encoder"]["depth"] = 1;
  j["decoder"]["num_res_blocks"] = 1;
  j["decoder"]["channel_mult"] = {1, 2};
  j["decoder"]["attention_resolutions"] = json::array();
  return TokenizerCard::from_json(j.dump());
}

// Class maps of four quadrants with per-sample classes: something a tokenizer can learn.
at::Tensor quadrant_classes(int64_t batch, int64_t side, int64_t classes, uint64_t seed) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Tensor out = torch::empty({batch, side, side}, torch::kLong);
  const int64_t h = side / 2;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t q = 0; q < 4; ++q)
      out[b]
          .narrow(0, (q / 2) * h, h)
          .narrow(1, (q % 2) * h, h)
          .fill_(at::randint(classes, {1}, g, torch::kLong).item<int64_t>());
  return out;
}

template <typename LossOf>
std::pair<double, double> train(TrainableTokenizer& t, int steps, double lr, LossOf loss_of) {
  torch::optim::AdamW opt(t.parameters(), torch::optim::AdamWOptions(lr).weight_decay(0));
  double first = 0, last = 0;
  for (int i = 0; i < steps; ++i) {
    opt.zero_grad();
    const at::Tensor loss = loss_of(i);
    loss.backward();
    opt.step();
    if (i < 3) first += loss.item<double>() / 3;
    if (i >= steps - 3) last += loss.item<double>() / 3;
  }
  return {first, last};
}

}  // namespace

TEST(tokenizer_training, vqvae_learns_class_maps_and_keeps_the_official_layout) {
  torch::manual_seed(0);
  const TokenizerCard card = small_lulc_card();
  TrainableTokenizer t = TrainableTokenizer::initialised(card, 3);
  const at::Tensor batch = quadrant_classes(8, 64, card.channels, 5);
  const auto [first, last] = train(t, 40, 3e-3, [&](int) { return t.loss(batch).loss; });
  EXPECT_NEAR(first, std::log(double(card.channels)), 0.6);  // chance level at the start
  EXPECT_LT(last, first / 3) << "first " << first << ", last " << last;

  // The trained weights load, strictly, into the inference tokenizer; same tokens.
  t.module().eval();
  const ImageTokenizer inference = ImageTokenizer::load(card, t.state_dict());
  EXPECT_TRUE(at::equal(inference.encode(batch), t.loss(batch).tokens));
  // Reproducible initialisation; a checkpoint of another card is refused.
  EXPECT_TRUE(at::equal(TrainableTokenizer::initialised(card, 3).parameters()[0],
                        TrainableTokenizer::initialised(card, 3).parameters()[0]));
  EXPECT_THROW(TrainableTokenizer::from_weights(small_s1grd_card(), t.state_dict()),
               CheckpointError);
  EXPECT_NO_THROW(TrainableTokenizer::from_weights(card, t.state_dict()));
}

// A VQVAE card with "class_input": false (tm's own tokenizers for NDVI, S1): the loss is the MSE
// between the ViT decoder's output and the standardised input, exactly what the inference
// tokenizer's decode(encode(x)) gives (the straight-through FSQ rounds the same way going forward).
TEST(tokenizer_training, vqvae_for_continuous_values_is_the_mse_of_the_reconstruction) {
  torch::manual_seed(0);
  json j = fixture_card("tokenizer_lulc_fixture.json");
  j.erase("checkpoint");
  j["modality"] = "NDVI";
  j["in_channels"] = 1;
  j["class_input"] = false;
  j["fsq_levels"] = {8, 8, 8, 6, 5};
  j["image_size"] = 64;
  j["encoder"]["dim"] = 32;
  j["encoder"]["depth"] = 1;
  j["decoder"]["dim"] = 32;
  j["decoder"]["depth"] = 1;
  const TokenizerCard card = TokenizerCard::from_json(j.dump());
  TrainableTokenizer t = TrainableTokenizer::initialised(card, 7);
  // Smooth fields: a ramp per sample with its own slope.
  const at::Tensor ramp = torch::linspace(-1, 1, 64).view({1, 1, 1, 64});
  const at::Tensor batch =
      ramp * torch::linspace(0.5, 2, 8).view({8, 1, 1, 1}).expand({8, 1, 64, 64});
  t.module().eval();
  const ImageTokenizer inference = ImageTokenizer::load(card, t.state_dict());
  const at::Tensor decoded = inference.decode(inference.encode(batch));
  ASSERT_EQ(decoded.sizes(), batch.sizes());  // values, not class logits
  EXPECT_NEAR(t.loss(batch).loss.item<double>(), torch::mse_loss(decoded, batch).item<double>(),
              1e-5);
  t.module().train();
  const auto [first, last] = train(t, 40, 3e-3, [&](int) { return t.loss(batch).loss; });
  EXPECT_LT(last, first / 3) << "first " << first << ", last " << last;
}

TEST(tokenizer_training, divae_denoising_loss_falls_with_per_sample_timesteps) {
  torch::manual_seed(0);
  const TokenizerCard card = small_s1grd_card();
  TrainableTokenizer t = TrainableTokenizer::initialised(card, 4);
  // Smooth standardised fields: a low-resolution random image upsampled.
  const at::Tensor images = at::upsample_bilinear2d(torch::randn({4, 2, 4, 4}), {64, 64}, false);
  auto g = at::make_generator<at::CPUGeneratorImpl>(11);
  const auto [first, last] = train(t, 30, 2e-3, [&](int) {
    const at::Tensor steps = at::randint(card.diffusion.train_timesteps, {4}, g, torch::kLong);
    const at::Tensor noise = at::randn(images.sizes(), g);
    return t.loss(images, steps, noise).loss;
  });
  EXPECT_LT(last, first / 2) << "first " << first << ", last " << last;
  const ImageTokenizer inference = ImageTokenizer::load(card, t.state_dict());
  EXPECT_EQ(inference.encode(images).sizes(), (std::vector<int64_t>{4, 4, 4}));
}

// The gradient reaches the encoder through FSQ's rounding (straight-through), for both kinds.
TEST(tokenizer_training, gradients_pass_the_quantizer_to_the_encoder) {
  for (const TokenizerCard& card : {small_lulc_card(), small_s1grd_card()}) {
    TrainableTokenizer t = TrainableTokenizer::initialised(card, 2);
    at::Tensor loss;
    if (card.class_input)
      loss = t.loss(quadrant_classes(2, 64, card.channels, 1)).loss;
    else
      loss = t.loss(torch::randn({2, 2, 64, 64}), torch::full({2}, 500, torch::kLong),
                    torch::randn({2, 2, 64, 64}))
                 .loss;
    loss.backward();
    const auto names = t.parameter_names();
    const auto params = t.parameters();
    int encoder = 0, moved = 0;
    for (std::size_t i = 0; i < names.size(); ++i)
      if (names[i].rfind("encoder.", 0) == 0 || names[i].rfind("quant_proj.", 0) == 0) {
        ++encoder;
        moved += params[i].grad().defined() && params[i].grad().abs().sum().item<double>() > 0;
      }
    EXPECT_GT(encoder, 0) << card.name;
    EXPECT_GT(moved, encoder / 2) << card.name << ": " << moved << " of " << encoder;
  }
}

TEST(tokenizer_training, bad_inputs_are_named) {
  TrainableTokenizer divae = TrainableTokenizer::initialised(small_s1grd_card(), 1);
  const at::Tensor images = torch::zeros({2, 2, 64, 64});
  EXPECT_THROW(divae.loss(images), std::invalid_argument);  // no timesteps
  EXPECT_THROW(divae.loss(images, torch::zeros({2}, torch::kLong), torch::zeros({2, 2, 32, 32})),
               std::invalid_argument);
  EXPECT_THROW(divae.loss(images, torch::full({2}, 1000, torch::kLong), torch::zeros_like(images)),
               std::invalid_argument);
  EXPECT_THROW(divae.loss(torch::zeros({2, 3, 64, 64}), torch::zeros({2}, torch::kLong),
                          torch::zeros({2, 3, 64, 64})),
               std::invalid_argument);
  TrainableTokenizer vqvae = TrainableTokenizer::initialised(small_lulc_card(), 1);
  EXPECT_THROW(vqvae.loss(torch::full({1, 64, 64}, 99, torch::kLong)), std::invalid_argument);
  EXPECT_THROW(vqvae.loss(torch::zeros({1, 48, 40}, torch::kLong)), std::invalid_argument);
}
