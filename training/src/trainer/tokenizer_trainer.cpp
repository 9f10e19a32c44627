// TokenizerTrainer: the first training stage. Pixels of the card's modality from tm shards,
// standardised with the card's statistics (class indices as they are for LULC), through
// TrainableTokenizer's objective; AdamW, warm-up + cosine, clipping, accumulation, bf16 autocast,
// EMA, data-parallel gradient sync, exact checkpoints and resume.
#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <filesystem>

#include "gradient_sync.h"
#include "masked_batches.h"
#include "run_checkpoint.h"
#include "tm/checkpoint.h"
#include "tm/registry.h"
#include "tm/trainer.h"
#include "tm/training_metrics.h"
#include "training_steps.h"

namespace terramind::training {
namespace fs = std::filesystem;

struct TokenizerTrainer::State {
  TokenizerRunConfig config;
  std::shared_ptr<ProcessGroup> group;
  at::Device device{at::kCPU};
  std::string modality;  // canonical registry name
  std::unique_ptr<TrainableTokenizer> model;
  std::unique_ptr<AdamW> optimiser;
  std::map<std::string, at::Tensor> ema;
  std::vector<shards::ShardRef> refs;
  std::unique_ptr<SlotStreams> streams;
  RunPosition position;
  std::unique_ptr<MetricsLog> metrics;

  int slots() const { return group->world_size() * config.accumulation; }

  // The micro-batch as the tokenizer takes it: z-scores [B, C, H, W] (NaN: the mean), or class
  // indices [B, H, W] for class-input tokenizers.
  at::Tensor images(const std::vector<shards::Sample>& samples) const {
    const TokenizerCard& card = config.card;
    std::vector<at::Tensor> out;
    for (const auto& sample : samples) {
      at::Tensor v = array_tensor(sample.arrays.at(modality), true);
      if (v.size(0) != card.channels && !(card.class_input && v.size(0) == 1))
        throw TrainingError(sample.shard + ": sample " + sample.record.key + ": " + modality +
                            " has " + std::to_string(v.size(0)) + " bands, the tokenizer takes " +
                            std::to_string(card.channels));
      if (card.class_input) {
        out.push_back(at::nan_to_num(v[0], 0.0).to(at::kLong));
      } else {
        const auto& stats = ModalityRegistry::instance().get(modality).stats(
            stats_version_from_string(card.stats_version));
        const auto mean = torch::tensor(stats.mean, torch::kFloat64).to(torch::kFloat32);
        const auto std = torch::tensor(stats.std, torch::kFloat64).to(torch::kFloat32);
        out.push_back(
            at::nan_to_num((v - mean.view({-1, 1, 1})) / std.view({-1, 1, 1}), 0.0, 0.0, 0.0));
      }
    }
    return torch::stack(out).to(device);
  }
};

TokenizerTrainer::TokenizerTrainer(TokenizerRunConfig config, std::shared_ptr<ProcessGroup> group,
                                   bool resume)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.config = std::move(config);
  s.group = group ? std::move(group) : std::shared_ptr<ProcessGroup>(single_process());
  check_device(s.config.device);
  s.device = at::Device(s.config.device);
  share_cores_among_local_ranks(s.device);
  s.modality = ModalityRegistry::instance().get(s.config.card.modality).name;
  shards::Manifest manifest;
  try {
    manifest = shards::read_manifest(s.config.shards);
  } catch (const shards::FormatError& e) {
    throw TrainingError("data.shards: " + std::string(e.what()));
  }
  if (std::find(manifest.modalities.begin(), manifest.modalities.end(), s.modality) ==
      manifest.modalities.end())
    throw TrainingError(s.config.shards + ": has no " + s.modality + " pixels for the " +
                        s.config.card.name + " tokenizer");
  s.refs = shards_of(s.config.shards, s.config.split);

  const std::string latest = checkpoint_to_resume(s.config.output, resume);
  if (s.config.init == "random") {
    s.model = std::make_unique<TrainableTokenizer>(
        TrainableTokenizer::initialised(s.config.card, s.config.seed));
  } else {
    try {
      const TensorMap weights = read_weights(s.config.init);
      s.model = std::make_unique<TrainableTokenizer>(
          TrainableTokenizer::from_weights(s.config.card, weights));
    } catch (const CheckpointError& e) {
      throw TrainingError("tokenizer.init " + s.config.init + ": " + e.what());
    }
  }
  s.model->module().to(s.device);
  // Weight decay on matrices and kernels, not on biases and norm scales.
  AdamW::Group decay, none;
  decay.weight_decay = s.config.weight_decay;
  const auto params = s.model->parameters();
  const auto names = s.model->parameter_names();
  for (std::size_t i = 0; i < params.size(); ++i) {
    auto& g = params[i].dim() <= 1 ? none : decay;
    g.params.push_back(params[i]);
    g.names.push_back(names[i]);
  }
  s.optimiser = std::make_unique<AdamW>(std::vector<AdamW::Group>{decay, none}, s.config.beta1,
                                        s.config.beta2, s.config.eps);
  if (s.config.ema)
    for (std::size_t i = 0; i < params.size(); ++i) s.ema[names[i]] = params[i].detach().clone();
  std::int64_t skip = 0;
  if (resume) {
    RestoredRun r = restore_checkpoint(latest, s.config, s.slots(), s.group->world_size());
    try {
      s.model->load_state_dict(r.model);
    } catch (const CheckpointError& e) {
      throw TrainingError(latest + ": the checkpoint is of another tokenizer: " + e.what());
    }
    s.model->module().to(s.device);
    s.optimiser->load_state(r.optimiser);
    for (auto& [name, t] : r.ema) s.ema[name] = t.to(s.device);
    s.position = r.position;
    skip = s.position.batches_in_epoch;
  } else {
    std::vector<at::Tensor> data;
    for (auto& p : s.model->parameters()) data.push_back(p.detach());
    s.group->broadcast(data, 0);
  }
  s.streams = std::make_unique<SlotStreams>(
      *s.group, s.config.accumulation, [&s](int slot, int world_slots, int epoch) {
        shards::StreamOptions o;
        o.shards = s.refs;
        o.modalities = {s.modality};
        o.seed = s.config.seed;
        o.epoch = epoch;
        o.shuffle_buffer = static_cast<std::size_t>(s.config.shuffle_buffer);
        o.rank = slot;
        o.world_size = world_slots;
        o.threads = 1;  // deterministic order per slot (resume)
        o.horizontal_flip = s.config.flips;
        o.batch_size = s.config.batch_size;
        o.drop_last = true;
        return o;
      });
  s.streams->open(s.position.epoch, skip);
  if (s.group->rank() == 0) {
    fs::create_directories(s.config.output);
    s.metrics = std::make_unique<MetricsLog>(s.config.output + "/metrics.jsonl",
                                             resume ? s.position.step : -1);
  }
}

TokenizerTrainer::~TokenizerTrainer() = default;
std::int64_t TokenizerTrainer::step() const { return state_->position.step; }
TrainableTokenizer& TokenizerTrainer::model() { return *state_->model; }

void TokenizerTrainer::run(const TrainerCallbacks& callbacks,
                           std::optional<std::int64_t> max_steps) {
  State& s = *state_;
  const TokenizerRunConfig& c = s.config;
  const std::int64_t last = max_steps ? std::min(c.steps, s.position.step + *max_steps) : c.steps;
  auto params = s.model->parameters();
  const auto names = s.model->parameter_names();
  std::unique_ptr<GradientSync> sync;
  if (s.group->world_size() > 1)
    sync = std::make_unique<GradientSync>(*s.group, params,
                                          static_cast<std::size_t>(c.bucket_mb * 1048576.0));
  const bool diffusion = c.card.kind == TokenizerKind::kDiVAE;
  const auto started = std::chrono::steady_clock::now();
  const std::int64_t first_step = s.position.step;
  double window_loss = 0;
  std::int64_t window_steps = 0;
  auto window_start = started;
  std::int64_t tokens_per_sample = 0;
  while (s.position.step < last) {
    const auto batches =
        s.streams->next(s.position, c.shards + ": split '" + c.split + "' gives no full batch of " +
                                        std::to_string(c.batch_size) + " per data slot (" +
                                        std::to_string(s.slots()) + " slots)");
    double loss_sum = 0;
    bool finite = true;
    std::vector<std::string> keys_seen;
    for (std::size_t a = 0; a < batches.size(); ++a) {
      const at::Tensor x = s.images(batches[a].samples);
      tokens_per_sample = (x.size(-2) / c.card.patch_size) * (x.size(-1) / c.card.patch_size);
      at::Tensor timesteps, noise;
      if (diffusion) {  // drawn from (seed, step, global slot): the same whatever the world
        const int slot = s.group->rank() * c.accumulation + static_cast<int>(a);
        auto g = at::make_generator<at::CPUGeneratorImpl>(
            c.seed * 1000003 + static_cast<std::uint64_t>(s.position.step) * 4099 +
            static_cast<std::uint64_t>(slot));
        timesteps = at::randint(c.card.diffusion.train_timesteps, {x.size(0)}, g, torch::kLong);
        noise = at::randn(x.sizes(), g).to(s.device);
      }
      at::Tensor loss;
      {
        AutocastScope scope(c.precision == "bf16", s.device, at::kBFloat16);
        loss = s.model->loss(x, timesteps, noise).loss;
      }
      const double value = loss.item<double>();
      if (!std::isfinite(value)) finite = false;
      loss_sum += value;
      for (const auto& smp : batches[a].samples) keys_seen.push_back(smp.record.key);
      if (sync && a + 1 == batches.size()) sync->arm();
      if (finite) (loss / double(batches.size())).backward();
    }
    if (sync) sync->finish();
    std::vector<at::Tensor> stats{torch::tensor({loss_sum, finite ? 0.0 : 1.0}, torch::kFloat64)};
    s.group->all_reduce_sum(stats);
    if (stats[0][1].item<double>() > 0) {
      std::string list;
      for (const auto& k : keys_seen) list += (list.empty() ? "" : " ") + k;
      const std::string kept = latest_checkpoint(c.output);
      throw TrainingError("non-finite loss at step " + std::to_string(s.position.step + 1) +
                          (finite ? " on another rank" : " (batch samples: " + list + ")") +
                          "; stopped, the last checkpoint (" + (kept.empty() ? "none yet" : kept) +
                          ") is kept");
    }
    const double loss = stats[0][0].item<double>() / double(s.slots());
    const double grad_norm =
        reduce_gradients(params, *s.group, sync != nullptr, 1.0 / double(s.group->world_size()));
    clip_gradients(params, grad_norm, c.clip_grad);
    const double lr = learning_rate(c, s.position.step);
    s.optimiser->step(lr);
    s.optimiser->zero_grad();
    if (c.ema) update_ema(s.ema, params, names, *c.ema);
    ++s.position.step;
    window_loss += loss;
    ++window_steps;

    if (s.position.step % c.log_every == 0 || s.position.step == last) {
      const auto now = std::chrono::steady_clock::now();
      StepReport r;
      r.step = s.position.step;
      r.steps = c.steps;
      r.loss = window_loss / double(window_steps);
      r.lr = lr;
      r.grad_norm = grad_norm;
      r.samples_per_s = double(window_steps) * s.slots() * c.batch_size /
                        std::chrono::duration<double>(now - window_start).count();
      r.tokens_per_s = r.samples_per_s * double(tokens_per_sample);  // ids the encoder makes
      r.eta_s = std::chrono::duration<double>(now - started).count() /
                double(s.position.step - first_step) * double(c.steps - s.position.step);
      if (s.metrics) {
        s.metrics->append({r.step,
                           "train",
                           {{"loss", r.loss},
                            {"lr", r.lr},
                            {"grad_norm", r.grad_norm},
                            {"samples_per_s", r.samples_per_s}}});
      }
      if (callbacks.on_log) callbacks.on_log(r);
      window_loss = 0;
      window_steps = 0;
      window_start = now;
    }
    if (s.position.step % c.checkpoint_every == 0 || s.position.step == c.steps) {
      std::string folder;
      if (s.group->rank() == 0) {
        CheckpointContents cc;
        cc.model = s.model->state_dict();
        cc.optimiser = s.optimiser->state();
        cc.ema = s.ema;
        cc.position = s.position;
        cc.world_size = s.group->world_size();
        cc.slots = s.slots();
        TokenizerCard card = c.card;
        card.checkpoint = "model.pt";
        folder = save_checkpoint(c, card.to_json(), cc);
        if (s.metrics) {  // the curves with each checkpoint, not at every logged step
          write_metrics_csv(s.metrics->rows(), c.output + "/metrics.csv");
          PlotOptions plot;
          plot.title = c.card.name;
          plot.log_y = diffusion;
          plot_metrics(s.metrics->rows(), c.output + "/loss.png", {"loss"}, plot);
        }
      }
      s.group->barrier();
      if (callbacks.on_checkpoint && !folder.empty()) callbacks.on_checkpoint(folder);
    }
  }
}

}  // namespace terramind::training
