// The training-time forward (tm/pretraining.h): with every target position asked for, its logits
// are the reference's generation logits (fixture terramind_generation); masking, truncation and
// modality separation behave as the reference's rules say; the loss is the cross-entropy; fresh
// weights start at log(vocabulary); the state dict loads in TerraMindModel.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_paths.h"
#include "tm/model.h"
#include "tm/registry.h"

using namespace terramind;
using terramind::testing::contains;
using terramind::testing::error_of;

namespace {

std::string fixture(const std::string& file) {
  return terramind::testing::fixtures_dir() + "/" + file;
}

const nlohmann::json& generation_facts() {
  static const nlohmann::json facts =
      nlohmann::json::parse(std::ifstream(fixture("terramind_generation.json")));
  return facts;
}

const TensorMap& generation_data() {
  static const TensorMap data = load_torch_checkpoint(fixture("terramind_generation.pt"));
  return data;
}

// The fixture network's card, inferred from its weights with the head count of its config.
ModelCard generation_card() {
  const auto& config = generation_facts().at("config");
  const TensorMap weights = load_torch_checkpoint(fixture("terramind_generation_state_dict.pt"));
  return infer_model_card(weights,
                          config.at("dim").get<int64_t>() / config.at("num_heads").get<int64_t>());
}

double tolerance(const std::string& key) {  // "max abs 1e-4" -> 1e-4
  const std::string text = generation_facts().at("tolerance").at(key).get<std::string>();
  return std::stod(text.substr(text.rfind(' ') + 1));
}

struct Fixture {
  ModelCard card = generation_card();
  TrainableTerraMind model = TrainableTerraMind::from_weights(
      card, load_torch_checkpoint(fixture("terramind_generation_state_dict.pt")));
  TerraMindModel reference =
      TerraMindModel::load(card, fixture("terramind_generation_state_dict.pt"));
  at::Tensor s2 =
      reference.standardise("S2L2A", generation_data().at("input/s2l2a_raw").to(torch::kFloat32));
  at::Tensor s1 =
      reference.standardise("S1GRD", generation_data().at("input/s1grd_raw").to(torch::kFloat32));
  int64_t B = s2.size(0), N = (s2.size(2) / card.patch_size) * (s2.size(3) / card.patch_size);

  at::Tensor none() const { return torch::zeros({B, N}, torch::kBool); }  // nothing masked
  at::Tensor all() const { return torch::ones({B, N}, torch::kBool); }
  at::Tensor tokens(const std::string& key) const {
    return generation_data().at("generate_argmax/tokens/" + key);
  }
};

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

// Logits of every position of `key`, back in spatial order [B, N, V].
at::Tensor spatial_logits(const TargetLogits& t, int64_t B, int64_t N) {
  auto out = torch::full({B, N, t.logits.size(1)}, std::nan(""));
  out.index_put_({t.samples, t.positions}, t.logits);
  return out;
}

}  // namespace

TEST(pretraining, full_targets_give_the_reference_generation_logits) {
  torch::NoGradGuard no_grad;
  Fixture f;
  f.model.module().eval();
  const double tol = tolerance("logits");
  // LULC from S2L2A pixels: the first (only) ROAR step of the argmax run.
  MaskedBatch lulc;
  lulc.modalities = {{"untok_sen2l2a@224", f.s2, f.none(), {}},
                     {"tok_lulc@224", f.tokens("tok_lulc@224"), {}, f.none()}};
  lulc.num_encoder_tokens = f.N;
  lulc.num_decoder_tokens = f.N;
  const auto out = f.model.target_logits(lulc);
  const auto logits = spatial_logits(out.at("tok_lulc@224"), f.B, f.N);
  const TensorMap& fx = generation_data();
  EXPECT_LE(max_abs_diff(logits.select(1, 0), fx.at("generate_argmax/tok_lulc@224/logits_pos0")),
            tol);
  const auto top5 = std::get<0>(logits.topk(5, -1));
  EXPECT_LE(max_abs_diff(top5, fx.at("generate_argmax/tok_lulc@224/logits_top5_values")), tol);
  // The targets' ids come back with them.
  EXPECT_TRUE(
      at::equal(out.at("tok_lulc@224").ids,
                f.tokens("tok_lulc@224")
                    .index({out.at("tok_lulc@224").samples, out.at("tok_lulc@224").positions})));

  // S1GRD from S2L2A pixels and the generated LULC tokens (the chained second target).
  MaskedBatch s1;
  s1.modalities = {{"untok_sen2l2a@224", f.s2, f.none(), {}},
                   {"tok_lulc@224", f.tokens("tok_lulc@224"), f.none(), {}},
                   {"tok_sen1grd@224", f.tokens("tok_sen1grd@224"), {}, f.none()}};
  s1.num_encoder_tokens = 2 * f.N;
  s1.num_decoder_tokens = f.N;
  const auto s1_logits = spatial_logits(f.model.target_logits(s1).at("tok_sen1grd@224"), f.B, f.N);
  EXPECT_LE(
      max_abs_diff(s1_logits.select(1, 0), fx.at("generate_argmax/tok_sen1grd@224/logits_pos0")),
      tol);
}

TEST(pretraining, masked_inputs_and_separated_targets_change_nothing_they_should_not) {
  torch::NoGradGuard no_grad;
  Fixture f;
  f.model.module().eval();
  MaskedBatch base;
  base.modalities = {{"untok_sen2l2a@224", f.s2, f.none(), {}},
                     {"tok_lulc@224", f.tokens("tok_lulc@224"), {}, f.none()}};
  base.num_encoder_tokens = f.N;
  base.num_decoder_tokens = f.N;
  const auto expected = spatial_logits(f.model.target_logits(base).at("tok_lulc@224"), f.B, f.N);

  // A fully masked S1GRD input, kept (num_encoder_tokens covers it) or cut: zeroed and unseen.
  MaskedBatch hidden = base;
  hidden.modalities.insert(hidden.modalities.begin() + 1, {"untok_sen1grd@224", f.s1, f.all(), {}});
  for (int64_t keep : {f.N, 2 * f.N}) {
    hidden.num_encoder_tokens = keep;
    const auto got = spatial_logits(f.model.target_logits(hidden).at("tok_lulc@224"), f.B, f.N);
    EXPECT_LE(max_abs_diff(got, expected), 1e-5) << keep;
  }

  // A second target modality in the same decoder sequence: separated, so LULC is unchanged,
  // in either order; and S1GRD equals S1GRD decoded alone.
  MaskedBatch both = base;
  both.modalities.push_back({"tok_sen1grd@224", f.tokens("tok_sen1grd@224"), {}, f.none()});
  both.num_decoder_tokens = 2 * f.N;
  MaskedBatch s1_only = base;
  s1_only.modalities[1] = both.modalities[2];
  const auto s1_expected =
      spatial_logits(f.model.target_logits(s1_only).at("tok_sen1grd@224"), f.B, f.N);
  for (const auto& order : std::vector<std::vector<std::string>>{
           {"tok_lulc@224", "tok_sen1grd@224"}, {"tok_sen1grd@224", "tok_lulc@224"}}) {
    both.decoder_order = order;
    const auto out = f.model.target_logits(both);
    EXPECT_LE(max_abs_diff(spatial_logits(out.at("tok_lulc@224"), f.B, f.N), expected), 1e-5);
    EXPECT_LE(max_abs_diff(spatial_logits(out.at("tok_sen1grd@224"), f.B, f.N), s1_expected), 1e-5);
  }

  // Partial targets: a subset of positions (different per sample), padded decoder sequence.
  // Non-causal decoding: the subset's logits depend on which targets are present, so compare
  // with the subset decoded exactly (num_decoder_tokens = the largest count) and padded.
  auto subset = f.all();
  subset.index_put_({0, torch::indexing::Slice(0, 40)}, false);
  subset.index_put_({1, torch::indexing::Slice(100, 130)}, false);
  MaskedBatch partial = base;
  partial.modalities[1].target_mask = subset;
  partial.num_decoder_tokens = 40;
  const auto exact = f.model.target_logits(partial).at("tok_lulc@224");
  EXPECT_EQ(exact.logits.size(0), 70);
  partial.num_decoder_tokens = f.N;
  const auto padded = f.model.target_logits(partial).at("tok_lulc@224");
  EXPECT_TRUE(at::equal(padded.positions, exact.positions));
  EXPECT_LE(max_abs_diff(padded.logits, exact.logits), 1e-5);
  // Sample 1's 30 targets see only each other: the same as sample 1 decoded alone.
  MaskedBatch one = partial;
  one.modalities[0].values = f.s2.narrow(0, 1, 1);
  one.modalities[0].input_mask = f.none().narrow(0, 1, 1);
  one.modalities[1].values = f.tokens("tok_lulc@224").narrow(0, 1, 1);
  one.modalities[1].target_mask = subset.narrow(0, 1, 1);
  one.num_decoder_tokens = 30;
  const auto alone = f.model.target_logits(one).at("tok_lulc@224");
  EXPECT_LE(max_abs_diff(alone.logits, exact.logits.narrow(0, 40, 30)), 1e-5);
}

TEST(pretraining, loss_is_the_cross_entropy_of_the_targets) {
  Fixture f;
  f.model.module().eval();
  auto subset = torch::rand({f.B, f.N}) > 0.5;
  MaskedBatch batch;
  batch.modalities = {{"untok_sen2l2a@224", f.s2, f.none(), {}},
                      {"tok_lulc@224", f.tokens("tok_lulc@224"), {}, subset},
                      {"tok_sen1grd@224", f.tokens("tok_sen1grd@224"), {}, subset.logical_not()}};
  batch.num_encoder_tokens = f.N;
  batch.num_decoder_tokens = f.N;
  const auto logits = f.model.target_logits(batch);
  double sum = 0, mod_mean = 0;
  int64_t count = 0;
  for (const auto& [key, t] : logits) {
    const auto ce = torch::nn::functional::cross_entropy(
        t.logits, t.ids, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
    sum += ce.item<double>();
    count += t.ids.size(0);
    mod_mean += ce.item<double>() / double(t.ids.size(0)) / double(logits.size());
  }
  EXPECT_EQ(count, f.B * f.N);  // the two subsets partition the positions
  const auto mod = f.model.loss(batch, LossReduction::kModality);
  const auto token = f.model.loss(batch, LossReduction::kToken);
  EXPECT_NEAR(mod.loss.item<double>(), mod_mean, 1e-4);
  EXPECT_NEAR(token.loss.item<double>(), sum / double(count), 1e-4);
  EXPECT_NE(mod.loss.item<double>(), token.loss.item<double>());
  EXPECT_EQ(mod.targets.at("tok_lulc@224") + mod.targets.at("tok_sen1grd@224"), count);
  EXPECT_EQ(loss_reduction_from_string("token"), LossReduction::kToken);
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([] { loss_reduction_from_string("mean"); }),
                       "expected mod or token"));
}

TEST(pretraining, fresh_weights_start_at_log_vocabulary_and_learn) {
  Fixture f;
  auto model = TrainableTerraMind::initialised(f.card, 7);
  auto same = TrainableTerraMind::initialised(f.card, 7);
  for (const auto& [name, t] : model.state_dict())
    EXPECT_TRUE(at::equal(t, same.state_dict().at(name))) << name;
  MaskedBatch batch;
  batch.modalities = {{"untok_sen2l2a@224", f.s2, f.none(), {}},
                      {"tok_lulc@224", f.tokens("tok_lulc@224"), {}, f.none()},
                      {"tok_sen1grd@224", f.tokens("tok_sen1grd@224"), {}, f.none()}};
  batch.num_encoder_tokens = f.N;
  batch.num_decoder_tokens = 2 * f.N;
  const auto first = model.loss(batch);
  // Near-zero logits at initialisation: each modality's loss is about log(its vocabulary).
  for (const auto& [key, value] : first.per_modality) {
    const double log_v =
        std::log(double(ModalityRegistry::instance().find_by_key(key)->vocab_size));
    EXPECT_NEAR(value.item<double>(), log_v, 0.05 * log_v) << key;
  }
  // Gradients reach every parameter the batch uses, finite; a few SGD steps lower the loss.
  first.loss.backward();
  int with_grad = 0;
  for (const auto& p : model.parameters())
    if (p.grad().defined()) {
      EXPECT_TRUE(torch::isfinite(p.grad()).all().item<bool>());
      ++with_grad;
    }
  EXPECT_GT(with_grad, 20);
  torch::optim::AdamW optimiser(model.parameters(), torch::optim::AdamWOptions(1e-3));
  double last = first.loss.item<double>();
  for (int step = 0; step < 5; ++step) {
    optimiser.zero_grad();
    const auto l = model.loss(batch);
    l.loss.backward();
    optimiser.step();
    last = l.loss.item<double>();
  }
  EXPECT_LT(last, first.loss.item<double>() - 0.1);
}

TEST(pretraining, state_dict_is_the_official_layout) {
  Fixture f;
  const TensorMap official = load_torch_checkpoint(fixture("terramind_generation_state_dict.pt"));
  const TensorMap mine = f.model.state_dict();
  EXPECT_EQ(mine.size(), official.size());
  for (const auto& [name, t] : official) {
    ASSERT_TRUE(mine.contains(name)) << name;
    EXPECT_TRUE(at::equal(mine.at(name), t)) << name;
  }
  // Tied tensors are one parameter.
  const auto names = f.model.parameter_names();
  EXPECT_EQ(std::count(names.begin(), names.end(), "decoder_embeddings.tok_lulc@224.mod_emb"), 0);
  EXPECT_LT(names.size(), mine.size());
  // A fresh model saved and loaded by the inference API.
  terramind::testing::ScratchDir scratch;
  auto fresh = TrainableTerraMind::initialised(f.card, 3);
  save_torch_checkpoint(scratch.file("fresh.pt"), fresh.state_dict());
  const auto loaded = TerraMindModel::load(f.card, scratch.file("fresh.pt"));
  EXPECT_EQ(loaded.parameter_count(), fresh.parameter_count());
  // A checkpoint of another model is refused by name.
  ModelCard other = f.card;
  other.encoder_depth += 1;
  EXPECT_TRUE(contains(
      error_of<CheckpointError>([&] { TrainableTerraMind::from_weights(other, official); }),
      "encoder.2"));
}

TEST(pretraining, bad_batches_are_refused_by_name) {
  Fixture f;
  MaskedBatch no_targets;
  no_targets.modalities = {{"untok_sen2l2a@224", f.s2, f.none(), {}}};
  no_targets.num_encoder_tokens = f.N;
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([&] { f.model.loss(no_targets); }),
                       "without targets"));
  MaskedBatch pixel_target = no_targets;
  pixel_target.modalities[0].target_mask = f.none();
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([&] { f.model.loss(pixel_target); }),
                       "untok_sen2l2a@224: the model has no image-token target"));
  MaskedBatch bad_mask = no_targets;
  bad_mask.modalities.push_back(
      {"tok_lulc@224", f.tokens("tok_lulc@224"), {}, torch::zeros({f.B, 10}, torch::kBool)});
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([&] { f.model.loss(bad_mask); }),
                       "tok_lulc@224: target_mask must be [2, 196]"));
}
