// The trainer's pieces that need no data: run files (strict, named errors), AdamW against
// torch::optim::AdamW, the warm-up + cosine learning rate.
#include <gtest/gtest.h>

#include "tiny_trainer_card.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_paths.h"
#include "tm/trainer.h"

using namespace terramind;
using namespace terramind::training;
using nlohmann::json;
using terramind::testing::contains;
using terramind::testing::error_of;
using terramind::testing::ScratchDir;

namespace {

json tiny_card() { return json::parse(terramind::testing::tiny_trainer_card("tiny").to_json()); }

json minimal_run() {
  return {{"model", {{"card", tiny_card()}}},
          {"data", {{"shards", "shards"}, {"modalities", {{"LULC", json::object()}}}}},
          {"output", "run"}};
}

std::string config_error(const json& j) {
  return error_of<TrainingError>([&] { RunConfig::from_json(j.dump()); });
}

}  // namespace

TEST(run_file, minimal_file_gets_documented_defaults) {
  const RunConfig c = RunConfig::from_json(minimal_run().dump());
  EXPECT_EQ(c.card.name, "tiny");
  ASSERT_EQ(c.modalities.size(), 1u);
  EXPECT_EQ(c.modalities[0].modality, "LULC");
  EXPECT_TRUE(c.modalities[0].tokens);
  EXPECT_FALSE(c.modalities[0].pixels);
  EXPECT_EQ(c.split, "train");
  EXPECT_EQ(c.init, "random");
  EXPECT_EQ(c.precision, "fp32");
  EXPECT_EQ(c.loss, LossReduction::kModality);
  EXPECT_FALSE(c.ema.has_value());
  EXPECT_EQ(c.batch_size, 8);
  EXPECT_EQ(c.accumulation, 1);
}

TEST(run_file, paths_resolve_against_the_run_files_folder) {
  ScratchDir dir;
  std::ofstream(dir.file("run.json")) << minimal_run().dump();
  const RunConfig c = RunConfig::from_file(dir.file("run.json"));
  EXPECT_EQ(c.shards, dir.file("shards"));
  EXPECT_EQ(c.output, dir.file("run"));
  EXPECT_EQ(c.source, dir.file("run.json"));
  EXPECT_TRUE(contains(c.text, "\"shards\""));
}

TEST(run_file, pixels_alone_need_no_tokens) {
  json j = minimal_run();
  j["data"]["modalities"]["S2L2A"] = {{"pixels", true}};
  const RunConfig c = RunConfig::from_json(j.dump());
  ASSERT_EQ(c.modalities.size(), 2u);
  for (const auto& m : c.modalities)
    if (m.modality == "S2L2A") {
      EXPECT_TRUE(m.pixels && !m.tokens);
    }
}

TEST(run_file, errors_name_the_key) {
  json j = minimal_run();
  j["optimiser"] = {{"lr", 1e-3}, {"learning_rate", 1}};
  EXPECT_TRUE(contains(config_error(j), "unknown key 'optimiser.learning_rate'"))
      << config_error(j);

  j = minimal_run();
  j["batch"] = {{"size", "eight"}};
  EXPECT_TRUE(contains(config_error(j), "batch.size must be a number")) << config_error(j);

  j = minimal_run();
  j["batch"] = {{"size", 2.5}};
  EXPECT_TRUE(contains(config_error(j), "batch.size must be an integer")) << config_error(j);

  j = minimal_run();
  j["precision"] = "fp8";
  EXPECT_TRUE(contains(config_error(j), "precision must be one of bf16, fp16, fp32"))
      << config_error(j);

  j = minimal_run();
  j["data"]["modalities"] = {{"S2L3", json::object()}};
  EXPECT_TRUE(contains(config_error(j), "data.modalities.S2L3 is not a modality"))
      << config_error(j);

  j = minimal_run();
  j["data"]["modalities"]["LULC"] = {{"pixels", true}};
  EXPECT_TRUE(contains(config_error(j), "data.modalities.LULC has no pixel input"))
      << config_error(j);

  j = minimal_run();
  j["data"]["modalities"] = {{"caption", json::object()}};
  EXPECT_TRUE(contains(config_error(j), "sequence training is not supported")) << config_error(j);

  j = minimal_run();
  j.erase("output");
  EXPECT_TRUE(contains(config_error(j), "output is required")) << config_error(j);

  j = minimal_run();
  j["schedule"] = {{"steps", 10}, {"warmup_steps", 20}};
  EXPECT_TRUE(contains(config_error(j), "schedule.warmup_steps must not exceed"))
      << config_error(j);

  j = minimal_run();
  j["ema"] = 1.5;
  EXPECT_TRUE(contains(config_error(j), "ema must be a decay in (0, 1)")) << config_error(j);

  j = minimal_run();
  j["model"]["card"]["decoder_modalities"] = json::array();
  EXPECT_TRUE(contains(config_error(j), "no decoder modalities")) << config_error(j);

  EXPECT_TRUE(
      contains(error_of<TrainingError>([] { RunConfig::from_json("{\"model\":"); }), "not JSON"));
  EXPECT_TRUE(
      contains(error_of<TrainingError>([] { RunConfig::from_file("/nonexistent/run.json"); }),
               "/nonexistent/run.json: cannot read"));
}

TEST(lr_schedule, linear_warmup_then_cosine_to_min_lr) {
  RunConfig c = RunConfig::from_json(minimal_run().dump());
  c.lr = 1e-3;
  c.min_lr = 1e-5;
  c.steps = 110;
  c.warmup_steps = 10;
  EXPECT_DOUBLE_EQ(learning_rate(c, 0), 1e-4);
  EXPECT_DOUBLE_EQ(learning_rate(c, 4), 5e-4);
  EXPECT_DOUBLE_EQ(learning_rate(c, 10), 1e-3);  // the cosine's top
  EXPECT_NEAR(learning_rate(c, 60), 0.5 * (1e-3 + 1e-5), 1e-12);
  EXPECT_NEAR(learning_rate(c, 110), 1e-5, 1e-15);
  for (int s = 11; s < 110; ++s) EXPECT_LT(learning_rate(c, s), learning_rate(c, s - 1));
  c.warmup_steps = 0;
  EXPECT_DOUBLE_EQ(learning_rate(c, 0), 1e-3);
}

// Same parameters, gradients and hyper-parameters: our AdamW and LibTorch's agree step for step
// (with and without weight decay), and a state round trip continues identically.
TEST(adamw, matches_torch_optim_adamw_and_resumes) {
  torch::manual_seed(3);
  const auto init_a = torch::randn({5, 4}), init_b = torch::randn({4});
  std::vector<at::Tensor> grads_seq;
  for (int i = 0; i < 12; ++i) grads_seq.push_back(torch::randn({5, 4}) * (i + 1));
  std::vector<at::Tensor> grads_b;
  for (int i = 0; i < 12; ++i) grads_b.push_back(torch::randn({4}));

  auto ours_a = init_a.clone().requires_grad_(), ours_b = init_b.clone().requires_grad_();
  auto ref_a = init_a.clone().requires_grad_(), ref_b = init_b.clone().requires_grad_();
  AdamW ours({{{ours_a}, {"a"}, 0.05}, {{ours_b}, {"b"}, 0.0}}, 0.9, 0.95, 1e-8);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(
      std::vector<at::Tensor>{ref_a},
      std::make_unique<torch::optim::AdamWOptions>(
          torch::optim::AdamWOptions(1e-2).betas({0.9, 0.95}).eps(1e-8).weight_decay(0.05)));
  groups.emplace_back(
      std::vector<at::Tensor>{ref_b},
      std::make_unique<torch::optim::AdamWOptions>(
          torch::optim::AdamWOptions(1e-2).betas({0.9, 0.95}).eps(1e-8).weight_decay(0.0)));
  torch::optim::AdamW ref(groups);

  std::unique_ptr<AdamW> resumed;
  for (int i = 0; i < 12; ++i) {
    const double lr = 1e-2 * (1.0 + 0.1 * i);
    for (auto& g : ref.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
    ours_a.mutable_grad() = grads_seq[i].clone();
    ours_b.mutable_grad() = grads_b[i].clone();
    ref_a.mutable_grad() = grads_seq[i].clone();
    ref_b.mutable_grad() = grads_b[i].clone();
    ours.step(lr);
    ref.step();
    EXPECT_TRUE(torch::allclose(ours_a, ref_a, 1e-6, 1e-7)) << "step " << i;
    EXPECT_TRUE(torch::allclose(ours_b, ref_b, 1e-6, 1e-7)) << "step " << i;
  }
  EXPECT_EQ(ours.steps(), 12);

  // State round trip: a fresh optimiser loaded with the state continues exactly as the original.
  auto copy_a = ours_a.detach().clone().requires_grad_(),
       copy_b = ours_b.detach().clone().requires_grad_();
  AdamW copy({{{copy_a}, {"a"}, 0.05}, {{copy_b}, {"b"}, 0.0}}, 0.9, 0.95, 1e-8);
  copy.load_state(ours.state());
  EXPECT_EQ(copy.steps(), 12);
  const auto g = torch::randn({5, 4});
  ours.zero_grad();
  copy.zero_grad();
  const auto b_before = ours_b.detach().clone();
  ours_a.mutable_grad() = g.clone();
  copy_a.mutable_grad() = g.clone();
  ours.step(1e-3);
  copy.step(1e-3);
  EXPECT_TRUE(torch::equal(ours_a, copy_a));
  EXPECT_TRUE(torch::equal(ours_b, copy_b));
  EXPECT_TRUE(torch::equal(ours_b, b_before));  // no gradient: untouched

  // A state of another shape is refused, naming the parameter.
  auto other = torch::zeros({3}).requires_grad_();
  AdamW wrong({{{other}, {"a"}, 0.0}}, 0.9, 0.95, 1e-8);
  EXPECT_TRUE(contains(error_of<TrainingError>([&] { wrong.load_state(ours.state()); }),
                       "optimiser state of a has shape"));
}
