// Training runs on a small real dataset: the bundled TerraMesh examples (S2L2A pixels) with LULC
// "tokens" from a stand-in tokenizer (each 16x16 block's majority class), so that the target is
// learnable from the input. A tiny model trains for real: its loss starts at log(vocabulary)
// and falls; checkpoints resume bit for bit; their card runs in the inference API.
#include <gtest/gtest.h>

#include "tiny_trainer_card.h"

#include <unistd.h>
#include <cmath>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_paths.h"
#include "tm/model.h"
#include "tm/registry.h"
#include "tm/shards.h"
#include "tm/trainer.h"
#include "tm/training_metrics.h"

using namespace terramind;
using namespace terramind::training;
using nlohmann::json;
using terramind::testing::contains;
using terramind::testing::error_of;
using terramind::testing::ScratchDir;
namespace fs = std::filesystem;

namespace {

// Majority class of each 16x16 block of a class raster, as a 14x14 "token" grid.
shards::TokenEncoder majority_class_encoder() {
  shards::TokenEncoder e;
  e.tokenizer_name = "majority-class-16px (test stand-in)";
  e.vocabulary = ModalityRegistry::instance().get("LULC").vocab_size;
  e.encode = [](const shards::Array& a, int& grid_h, int& grid_w) {
    grid_h = a.height / 16;
    grid_w = a.width / 16;
    std::vector<std::int64_t> ids;
    for (int by = 0; by < grid_h; ++by)
      for (int bx = 0; bx < grid_w; ++bx) {
        std::map<std::int64_t, int> counts;
        for (int y = 0; y < 16; ++y)
          for (int x = 0; x < 16; ++x)
            ++counts[static_cast<std::int64_t>(
                a.value(std::size_t(by * 16 + y) * a.width + bx * 16 + x))];
        std::int64_t best = 0;
        int n = -1;
        for (const auto& [c, k] : counts)
          if (k > n) best = c, n = k;
        ids.push_back(best);
      }
    return ids;
  };
  return e;
}

// One token dataset for the whole test program (building it takes a few seconds).
const std::string& token_dataset() {
  static ScratchDir* dir = new ScratchDir();  // outlives the tests; removed with the process' tmp
  static std::string path;
  if (path.empty()) {
    shards::BuildOptions b;
    b.inputs = {
        shards::ModalityInput{"S2L2A",
                              terramind::testing::data_dir() + "/terramesh_examples/S2L2A"},
        shards::ModalityInput{"LULC", terramind::testing::data_dir() + "/terramesh_examples/LULC"}};
    b.out = dir->file("pixels");
    b.val_fraction = 0;
    const auto report = shards::build_shards(b);
    if (report.refused) throw std::runtime_error("test dataset: " + report.problems.front().detail);
    shards::TokenizeOptions t;
    t.dataset = b.out;
    t.out = dir->file("tokens");
    t.encoders["LULC"] = majority_class_encoder();
    shards::tokenize_dataset(t);
    path = t.out;
  }
  return path;
}

ModelCard tiny_card() { return terramind::testing::tiny_trainer_card(); }

json run_file(const std::string& output, int steps) {
  return {{"model", {{"card", json::parse(tiny_card().to_json())}}},
          {"data",
           {{"shards", token_dataset()},
            {"shuffle_buffer", 4},
            {"modalities", {{"S2L2A", {{"pixels", true}}}, {"LULC", json::object()}}}}},
          {"budgets", {{"input_tokens", 48}, {"target_tokens", 48}, {"pixel_modality", "S2L2A"}}},
          {"optimiser", {{"lr", 3e-3}, {"min_lr", 1e-4}}},
          {"schedule", {{"steps", steps}, {"warmup_steps", 2}}},
          {"batch", {{"size", 2}}},
          {"seed", 7},
          {"output", output},
          {"checkpoints", {{"every", 4}, {"keep", 2}}},
          {"log", {{"every", 1}}}};
}

RunConfig config_of(const json& j) { return RunConfig::from_json(j.dump()); }

std::vector<StepReport> train(const RunConfig& c, bool resume = false,
                              std::optional<std::int64_t> max_steps = {}) {
  Trainer trainer(c, nullptr, resume);
  std::vector<StepReport> reports;
  trainer.run({[&](const StepReport& r) { reports.push_back(r); }, {}}, max_steps);
  return reports;
}

void expect_same_weights(const std::string& a, const std::string& b) {
  const TensorMap x = load_torch_checkpoint(a), y = load_torch_checkpoint(b);
  ASSERT_EQ(x.size(), y.size());
  for (const auto& [name, t] : x) EXPECT_TRUE(at::equal(t, y.at(name))) << name;
}

// Runs `tm_train WHAT run.json` as ranks 0 and 1 of a Gloo world on 127.0.0.1 in `dir` (one
// intra-op thread each), as a launcher would start them; returns the exit status, and both logs.
int run_two_ranks(const ScratchDir& dir, const std::string& what, int port_offset,
                  std::string& logs) {
  const int port = 20000 + static_cast<int>((::getpid() * 2 + port_offset) % 20000);
  std::string command = "cd " + dir.path() + " || exit 9; ";
  for (int rank = 0; rank < 2; ++rank)
    command += "OMP_NUM_THREADS=1 RANK=" + std::to_string(rank) +
               " LOCAL_RANK=" + std::to_string(rank) +
               " WORLD_SIZE=2 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" +
               std::to_string(port) + " " + TM_TRAIN_EXE + " " + what + " run.json -q > rank" +
               std::to_string(rank) + ".log 2>&1 & p" + std::to_string(rank) + "=$!; ";
  command += "wait $p0; a=$?; wait $p1; b=$?; exit $((a + b))";
  const int status = std::system(("bash -c '" + command + "'").c_str());
  for (int r = 0; r < 2; ++r) {
    std::ifstream in(dir.file("rank" + std::to_string(r) + ".log"));
    logs +=
        "rank " + std::to_string(r) + ":\n" + std::string(std::istreambuf_iterator<char>(in), {});
  }
  return status;
}

}  // namespace

TEST(trainer_run, loss_starts_at_log_vocabulary_and_falls) {
  ScratchDir run;
  const RunConfig c = config_of(run_file(run.path(), 24));
  const auto reports = train(c);
  ASSERT_EQ(reports.size(), 24u);
  const double log_v = std::log(double(ModalityRegistry::instance().get("LULC").vocab_size));
  EXPECT_NEAR(reports.front().loss, log_v, 0.5);
  double last = 0;
  for (std::size_t i = reports.size() - 4; i < reports.size(); ++i) last += reports[i].loss / 4;
  // Measured: 8.31 -> 6.49 over these 24 steps (deterministic on CPU); a broken gradient path
  // stays at log V.
  EXPECT_LT(last, log_v - 1.5) << "first " << reports.front().loss << ", last " << last;
  EXPECT_GT(reports.back().samples_per_s, 0);
  EXPECT_GT(reports.back().flops_per_s, 0);
  // The last step's lr: the cosine's last point before min_lr (reached at step == steps).
  EXPECT_DOUBLE_EQ(reports.back().lr, warmup_cosine(3e-3, 1e-4, 2, 24, 23));
  EXPECT_LT(reports.back().lr, 1.2e-4);

  // Run folder: keep 2 checkpoints, `latest` the last; metrics in JSONL/CSV and a loss plot.
  EXPECT_EQ(latest_checkpoint(run.path()), run.path() + "/checkpoints/step-000000024");
  std::vector<std::string> kept;
  for (const auto& e : fs::directory_iterator(run.path() + "/checkpoints"))
    if (e.is_directory()) kept.push_back(e.path().filename().string());
  std::sort(kept.begin(), kept.end());
  EXPECT_EQ(kept, (std::vector<std::string>{"step-000000020", "step-000000024"}));
  const auto rows = MetricsLog::read(run.path() + "/metrics.jsonl");
  ASSERT_EQ(rows.size(), 24u);
  EXPECT_DOUBLE_EQ(rows.back().values.at("loss"), reports.back().loss);
  EXPECT_TRUE(rows.back().values.count("loss/tok_lulc@224"));
  EXPECT_TRUE(fs::file_size(run.path() + "/metrics.csv") > 0);
  EXPECT_TRUE(fs::file_size(run.path() + "/loss.png") > 0);
}

// The checkpoint's card.json runs in the inference API and generates what the trained weights
// generate in memory.
TEST(trainer_run, checkpoint_card_runs_in_the_inference_api) {
  ScratchDir run;
  const RunConfig c = config_of(run_file(run.path(), 4));
  Trainer trainer(c, nullptr, false);
  trainer.run();
  const std::string folder = latest_checkpoint(run.path());
  const TerraMindModel in_memory = TerraMindModel::load(c.card, trainer.model().state_dict());
  const TerraMindModel opened = TerraMindModel::open(folder + "/card.json");
  torch::manual_seed(1);
  ModalityInputs inputs;
  inputs.emplace_back("S2L2A", torch::randn({1, 12, 224, 224}));
  GenerationOptions g;
  g.temperature = 0;
  g.inputs_standardised = true;
  const auto a = in_memory.generate(inputs, {"LULC"}, g);
  const auto b = opened.generate(inputs, {"LULC"}, g);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_TRUE(at::equal(a.begin()->second, b.at(a.begin()->first)));
  const json trainer_json = json::parse(std::ifstream(folder + "/trainer.json"));
  EXPECT_EQ(trainer_json.at("step"), 4);
  EXPECT_EQ(trainer_json.at("data_slots"), 1);
  EXPECT_TRUE(contains(trainer_json.at("run_file").get<std::string>(), "tiny-test"));
}

// tm_generate runs the checkpoint's card on a real S2L2A tile (the card names the fixture LULC
// tokenizer, whose 4375 codes match the registry's LULC vocabulary) and writes a georeferenced
// LULC raster.
TEST(trainer_run, tm_generate_runs_the_trained_checkpoint) {
  ScratchDir run;
  json j = run_file(run.path(), 2);
  j["model"]["card"]["tokenizers"] = {
      {"LULC",
       std::string(TM_SOURCE_DIR) + "/sample_data/fixture_models/tokenizer_lulc_fixture.json"}};
  Trainer(config_of(j), nullptr, false).run();
  const std::string card = latest_checkpoint(run.path()) + "/card.json";
  const std::string tile =
      terramind::testing::data_dir() + "/terramesh_examples/S2L2A/282D_485L_3_3.tif";
  const std::string out = run.file("generated");
  const std::string command = std::string(TM_GENERATE_EXE) + " --input S2L2A=" + tile +
                              " --to LULC --model " + card + " --out-dir " + out + " > " +
                              run.file("generate.log") + " 2>&1";
  const int status = std::system(command.c_str());
  std::ifstream log(run.file("generate.log"));
  ASSERT_EQ(status, 0) << std::string(std::istreambuf_iterator<char>(log), {});
  int rasters = 0;
  for (const auto& e : fs::directory_iterator(out))
    rasters += e.path().extension() == ".tif" && fs::file_size(e.path()) > 0;
  EXPECT_GE(rasters, 1);
}

// Stopping after step 4 and resuming gives the weights, optimiser state and losses of a run
// that never stopped.
TEST(trainer_resume, resumed_run_equals_uninterrupted_run) {
  ScratchDir straight, stopped;
  const auto all = train(config_of(run_file(straight.path(), 8)));
  const auto first = train(config_of(run_file(stopped.path(), 8)), false, 4);
  ASSERT_EQ(first.size(), 4u);
  EXPECT_EQ(latest_checkpoint(stopped.path()), stopped.path() + "/checkpoints/step-000000004");
  const auto rest = train(config_of(run_file(stopped.path(), 8)), true);
  ASSERT_EQ(rest.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(first[i].loss, all[i].loss) << i;
    EXPECT_EQ(rest[i].loss, all[i + 4].loss) << i + 4;
  }
  expect_same_weights(straight.path() + "/checkpoints/step-000000008/model.pt",
                      stopped.path() + "/checkpoints/step-000000008/model.pt");
  expect_same_weights(straight.path() + "/checkpoints/step-000000008/optimiser.pt",
                      stopped.path() + "/checkpoints/step-000000008/optimiser.pt");
  // The resumed metrics log holds each step once.
  EXPECT_EQ(MetricsLog::read(stopped.path() + "/metrics.jsonl").size(), 8u);
}

TEST(trainer_resume, mismatches_are_refused_by_name) {
  ScratchDir run;
  train(config_of(run_file(run.path(), 4)));
  // Starting again over a run's checkpoints, or resuming an empty folder.
  EXPECT_TRUE(contains(error_of<TrainingError>([&] { train(config_of(run_file(run.path(), 8))); }),
                       "holds checkpoints"));
  ScratchDir empty;
  EXPECT_TRUE(
      contains(error_of<TrainingError>([&] { train(config_of(run_file(empty.path(), 8)), true); }),
               "holds no checkpoint"));
  // Another layout of data slots: the data order would differ.
  json j = run_file(run.path(), 8);
  j["batch"]["accumulation"] = 2;
  EXPECT_TRUE(contains(error_of<TrainingError>([&] { train(config_of(j), true); }),
                       "1 data slots (world size 1 x accumulation 1), this run has 2"));
  // Another model.
  j = run_file(run.path(), 8);
  j["model"]["card"]["dim"] = 64;
  EXPECT_TRUE(contains(error_of<TrainingError>([&] { train(config_of(j), true); }),
                       "the checkpoint is of another model"));
  // An EMA the checkpoint does not have.
  j = run_file(run.path(), 8);
  j["ema"] = 0.99;
  EXPECT_TRUE(contains(error_of<TrainingError>([&] { train(config_of(j), true); }), "no EMA"));
}

TEST(trainer_run, ema_weights_are_saved_beside_the_model) {
  ScratchDir run;
  json j = run_file(run.path(), 4);
  j["ema"] = 0.5;
  train(config_of(j));
  const std::string folder = latest_checkpoint(run.path());
  const TensorMap model = load_torch_checkpoint(folder + "/model.pt");
  const TensorMap ema = load_torch_checkpoint(folder + "/ema.pt");
  ASSERT_EQ(model.size(), ema.size());
  int differ = 0;
  for (const auto& [name, t] : model) differ += !at::equal(t, ema.at(name));
  EXPECT_GT(differ, 0);
  EXPECT_NO_THROW(TerraMindModel::load(tiny_card(), folder + "/ema.pt"));
}

TEST(trainer_run, a_non_finite_loss_stops_naming_step_and_samples) {
  ScratchDir run, weights;
  TensorMap broken;
  const auto fresh = TrainableTerraMind::initialised(tiny_card(), 1).state_dict();
  for (const auto& [name, t] : fresh)
    broken.insert(name, name == "encoder_norm.weight" ? torch::full_like(t, NAN) : t);
  save_torch_checkpoint(weights.file("nan.pt"), broken);
  json j = run_file(run.path(), 4);
  j["model"]["init"] = weights.file("nan.pt");
  const std::string error = error_of<TrainingError>([&] { train(config_of(j)); });
  EXPECT_TRUE(contains(error, "non-finite loss at step 1")) << error;
  EXPECT_TRUE(contains(error, "batch samples: ")) << error;
  EXPECT_TRUE(latest_checkpoint(run.path()).empty());
}

TEST(trainer_run, bad_setups_are_refused_by_name) {
  ScratchDir run, weights;
  // Initial weights of another model.
  ModelCard other = tiny_card();
  other.dim = 64;
  save_torch_checkpoint(weights.file("other.pt"),
                        TrainableTerraMind::initialised(other, 1).state_dict());
  json j = run_file(run.path(), 4);
  j["model"]["init"] = weights.file("other.pt");
  EXPECT_TRUE(contains(error_of<TrainingError>([&] { train(config_of(j)); }), "model.init"));
  // fp16 loss scaling is for GPUs; a CUDA device on a machine without one.
  j = run_file(run.path(), 4);
  j["precision"] = "fp16";
  EXPECT_TRUE(contains(error_of<TrainingError>([&] { train(config_of(j)); }), "fp16 needs a CUDA"));
  if (!torch::cuda::is_available()) {
    j = run_file(run.path(), 4);
    j["device"] = "cuda";
    EXPECT_TRUE(contains(error_of<TrainingError>([&] { train(config_of(j)); }), "no CUDA device"));
  }
  // Tokens the dataset does not have; a split it does not have; more slots than samples.
  j = run_file(run.path(), 4);
  j["data"]["modalities"]["S1RTC"] = json::object();
  j["model"]["card"]["decoder_modalities"] = {"tok_lulc@224", "tok_sen1rtc@224"};
  EXPECT_TRUE(contains(error_of<TrainingError>([&] { train(config_of(j)); }),
                       "has no S1RTC tokens; pre-tokenise it with `tm_tokenize_shards"));
  j = run_file(run.path(), 4);
  j["data"]["val_split"] = "val";
  EXPECT_TRUE(contains(error_of<TrainingError>([&] { train(config_of(j)); }),
                       "has no samples in split 'val'"));
  j = run_file(run.path(), 4);
  j["batch"]["size"] = 64;
  EXPECT_TRUE(contains(error_of<TrainingError>([&] { train(config_of(j)); }),
                       "fewer samples than the global batch"));
  EXPECT_TRUE(latest_checkpoint(run.path()).empty());
}

// Two tm_train processes under a launcher's environment (Gloo over 127.0.0.1) train the weights
// that one process accumulating two micro-batches trains: the same data slots, the same masks.
TEST(trainer_distributed, two_gloo_ranks_equal_one_rank_accumulating_two) {
  ScratchDir two, one;
  json j = run_file(two.path() + "/run", 6);
  j["distributed"] = {{"bucket_mb", 0.01}};  // many buckets: most start during backward
  std::ofstream(two.file("run.json")) << j.dump(2);
  std::string logs;
  const int status = run_two_ranks(two, "terramind", 0, logs);
  ASSERT_EQ(status, 0) << logs;

  json single = run_file(one.path(), 6);
  single["batch"]["accumulation"] = 2;
  // The ranks ran one intra-op thread each (OMP_NUM_THREADS above); so does the
  // comparison run: another thread count sums matmuls in another order, and Adam amplifies
  // those last-bit differences of near-zero gradients beyond float tolerance within 6 steps.
  const int threads = at::get_num_threads();
  ::setenv("OMP_NUM_THREADS", "1", 1);
  at::set_num_threads(1);
  train(config_of(single));
  ::unsetenv("OMP_NUM_THREADS");
  at::set_num_threads(threads);
  const TensorMap a =
      load_torch_checkpoint(two.path() + "/run/checkpoints/step-000000006/model.pt");
  const TensorMap b = load_torch_checkpoint(one.path() + "/checkpoints/step-000000006/model.pt");
  const TensorMap start = TrainableTerraMind::initialised(tiny_card(), 7).state_dict();
  ASSERT_EQ(a.size(), b.size());
  int moved = 0;
  for (const auto& [name, t] : a) {
    EXPECT_TRUE(at::allclose(t, b.at(name), 1e-5, 1e-6))
        << name << ": max diff " << (t - b.at(name)).abs().max().item<double>();
    moved += !at::equal(t, start.at(name));
  }
  EXPECT_GT(moved, 0);  // they trained
  const json meta =
      json::parse(std::ifstream(two.path() + "/run/checkpoints/step-000000006/trainer.json"));
  EXPECT_EQ(meta.at("world_size"), 2);
  EXPECT_EQ(meta.at("data_slots"), 2);
  // The gradient all-reduce overlapped backward: buckets started by the accumulator hooks.
  const auto rows = MetricsLog::read(two.path() + "/run/metrics.jsonl");
  ASSERT_FALSE(rows.empty());
  const auto& last = rows.back().values;
  EXPECT_GT(last.at("grad_buckets"), 5);
  EXPECT_GT(last.at("grad_buckets_during_backward"), last.at("grad_buckets") / 2);
}

// ---------------------------------------------------------------------------------------------
// Tokenizer training (tm_train tokenizer): small fixture-shaped cards on the bundled samples.

namespace {

json small_tokenizer_card(const std::string& fixture, const std::string& modality, int channels) {
  json c = json::parse(
      std::ifstream(std::string(TM_SOURCE_DIR) + "/sample_data/fixture_models/" + fixture));
  c.erase("checkpoint");
  c["modality"] = modality;
  c["in_channels"] = channels;
  c["image_size"] = 224;
  c["encoder"]["dim"] = 32;
  c["encoder"]["depth"] = 1;
  if (c["decoder"]["type"] == "vit") {
    c["decoder"]["dim"] = 32;
    c["decoder"]["depth"] = 1;
  } else {
    c["decoder"]["num_res_blocks"] = 1;
    c["decoder"]["channel_mult"] = {1, 2};
    c["decoder"]["attention_resolutions"] = json::array();
  }
  return c;
}

json tokenizer_run_file(const std::string& output, int steps, bool diffusion) {
  return {{"tokenizer",
           {{"card", diffusion ? small_tokenizer_card("tokenizer_s1grd_fixture.json", "S2L2A", 12)
                               : small_tokenizer_card("tokenizer_lulc_fixture.json", "LULC", 10)}}},
          {"data", {{"shards", token_dataset()}, {"shuffle_buffer", 4}}},
          {"optimiser", {{"lr", 3e-3}, {"min_lr", 1e-4}}},
          {"schedule", {{"steps", steps}, {"warmup_steps", 2}}},
          {"batch", {{"size", 2}}},
          {"seed", 5},
          {"output", output},
          {"checkpoints", {{"every", 4}, {"keep", 2}}},
          {"log", {{"every", 1}}}};
}

std::vector<StepReport> train_tokenizer(const json& j, bool resume = false,
                                        std::optional<std::int64_t> max_steps = {}) {
  TokenizerTrainer trainer(TokenizerRunConfig::from_json(j.dump()), nullptr, resume);
  std::vector<StepReport> reports;
  trainer.run({[&](const StepReport& r) { reports.push_back(r); }, {}}, max_steps);
  return reports;
}

}  // namespace

// The VQVAE's class cross-entropy starts near log(classes) and falls; the checkpoint's card is
// a tokenizer card that ImageTokenizer opens and tm_tokenize_shards uses.
TEST(tokenizer_trainer, vqvae_loss_falls_and_the_checkpoint_tokenizes) {
  ScratchDir run;
  const auto reports = train_tokenizer(tokenizer_run_file(run.path(), 12, false));
  ASSERT_EQ(reports.size(), 12u);
  EXPECT_NEAR(reports.front().loss, std::log(10.0), 0.5);
  // Measured 2.42 -> 2.03 over these 12 steps; a dead gradient path stays at the start.
  EXPECT_LT(reports.back().loss, reports.front().loss - 0.2);
  const std::string folder = latest_checkpoint(run.path());
  const ImageTokenizer opened = ImageTokenizer::open(folder + "/card.json");
  EXPECT_EQ(opened.card().modality, "LULC");
  EXPECT_EQ(opened.encode(torch::zeros({1, 224, 224}, torch::kLong)).sizes(),
            (std::vector<int64_t>{1, 14, 14}));
  EXPECT_TRUE(fs::exists(run.path() + "/loss.png"));
  EXPECT_EQ(MetricsLog::read(run.path() + "/metrics.jsonl").size(), 12u);
}

// A VQVAE card with "class_input": false (the demo model's NDVI and S1 tokenizers): the ViT
// decoder is trained on the MSE of standardised values and decodes values, not class logits.
namespace {
// The VQVAE run file retargeted at a continuous modality (15,360-code vocabulary).
json continuous_vqvae_run(const std::string& output, int steps, const std::string& modality,
                          int channels) {
  json j = tokenizer_run_file(output, steps, false);
  j["tokenizer"]["card"]["modality"] = modality;
  j["tokenizer"]["card"]["in_channels"] = channels;
  j["tokenizer"]["card"]["class_input"] = false;
  j["tokenizer"]["card"]["fsq_levels"] = {8, 8, 8, 6, 5};
  return j;
}
}  // namespace

TEST(tokenizer_trainer, vqvae_for_continuous_values_trains_on_mse_and_decodes_values) {
  ScratchDir run;
  const json j = continuous_vqvae_run(run.path(), 12, "S2L2A", 12);
  const auto reports = train_tokenizer(j);
  ASSERT_EQ(reports.size(), 12u);
  // Measured 2.44 -> 2.16 over these 12 steps (the objective itself: tokenizer_training).
  EXPECT_LT(reports.back().loss, reports.front().loss - 0.15);
  const ImageTokenizer opened = ImageTokenizer::open(latest_checkpoint(run.path()) + "/card.json");
  EXPECT_FALSE(opened.card().class_input);
  EXPECT_FALSE(opened.is_diffusion());
  const at::Tensor tokens = opened.encode(torch::zeros({1, 12, 224, 224}));
  const at::Tensor decoded = opened.decode(tokens);
  EXPECT_EQ(decoded.sizes(), (std::vector<int64_t>{1, 12, 224, 224}));
  // Physical values come back through the card's statistics (S2L2A means are ~1000-3000 DN).
  const double mean = opened.destandardise(decoded).mean().item<double>();
  EXPECT_GT(mean, 100.0);
}

// DiVAE: timesteps and noise come from (seed, step, slot), so a resumed run and two Gloo ranks
// train the weights of one uninterrupted process.
TEST(tokenizer_trainer, divae_resume_and_two_ranks_equal_one_process) {
  ScratchDir straight, stopped, two;
  train_tokenizer(tokenizer_run_file(straight.path(), 6, true));
  train_tokenizer(tokenizer_run_file(stopped.path(), 6, true), false, 4);
  train_tokenizer(tokenizer_run_file(stopped.path(), 6, true), true);
  expect_same_weights(straight.path() + "/checkpoints/step-000000006/model.pt",
                      stopped.path() + "/checkpoints/step-000000006/model.pt");

  ScratchDir one;
  json j = tokenizer_run_file(two.path() + "/run", 4, true);
  std::ofstream(two.file("run.json")) << j.dump(2);
  std::string logs;
  ASSERT_EQ(run_two_ranks(two, "tokenizer", 1, logs), 0) << logs;
  json single = tokenizer_run_file(one.path(), 4, true);
  single["batch"]["accumulation"] = 2;
  const int threads = at::get_num_threads();
  ::setenv("OMP_NUM_THREADS", "1", 1);
  at::set_num_threads(1);
  train_tokenizer(single);
  ::unsetenv("OMP_NUM_THREADS");
  at::set_num_threads(threads);
  const TensorMap a =
      load_torch_checkpoint(two.path() + "/run/checkpoints/step-000000004/model.pt");
  const TensorMap b = load_torch_checkpoint(one.path() + "/checkpoints/step-000000004/model.pt");
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a)
    EXPECT_TRUE(at::allclose(t, b.at(name), 1e-4, 1e-6))
        << name << ": max diff " << (t - b.at(name)).abs().max().item<double>();
}

TEST(tokenizer_trainer, bad_run_files_and_data_are_named) {
  ScratchDir run;
  json j = continuous_vqvae_run(run.path(), 2, "DEM", 1);
  const std::string no_dem = error_of<TrainingError>([&] { train_tokenizer(j); });
  EXPECT_TRUE(contains(no_dem, "has no DEM pixels")) << no_dem;
  j = tokenizer_run_file(run.path(), 2, false);
  j["data"]["flip"] = true;
  EXPECT_TRUE(
      contains(error_of<TrainingError>([&] { train_tokenizer(j); }), "unknown key 'data.flip'"));
  j = tokenizer_run_file(run.path(), 2, false);
  j["precision"] = "fp16";
  EXPECT_TRUE(contains(error_of<TrainingError>([&] { train_tokenizer(j); }), "fp16"));
  j = tokenizer_run_file(run.path(), 2, false);
  j["tokenizer"]["init"] = TM_SOURCE_DIR "/../shared/fixtures/tokenizer_divae_s1grd_state_dict.pt";
  EXPECT_TRUE(contains(error_of<TrainingError>([&] { train_tokenizer(j); }), "tokenizer.init"));
  EXPECT_TRUE(latest_checkpoint(run.path()).empty());
}
