// The pre-training loop: data slots, gradient accumulation and all-reduce, clipping, AdamW with
// warm-up + cosine, mixed precision, EMA, metrics, checkpoints and exact resume.
#include <ATen/autocast_mode.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <set>
#include <thread>

#include "gradient_sync.h"
#include "masked_batches.h"
#include "run_checkpoint.h"
#include "tm/checkpoint.h"
#include "tm/launch_environment.h"
#include "tm/registry.h"
#include "tm/trainer.h"
#include "tm/training_metrics.h"
#include "training_steps.h"

namespace terramind::training {
namespace fs = std::filesystem;

struct Trainer::State {
  RunConfig config;
  std::shared_ptr<ProcessGroup> group;
  at::Device device{at::kCPU};
  std::unique_ptr<TrainableTerraMind> model;
  std::unique_ptr<AdamW> optimiser;
  std::unique_ptr<MaskedBatchMaker> batches;
  std::map<std::string, at::Tensor> ema;  // by parameter name
  std::vector<shards::ShardRef> shard_refs, val_refs;
  std::unique_ptr<SlotStreams> streams;  // one per local data slot
  RunPosition position;
  double loss_scale = 65536.0;  // fp16 only
  int64_t good_fp16_steps = 0;
  std::unique_ptr<MetricsLog> metrics;

  int slots() const { return group->world_size() * config.accumulation; }
  bool rank0() const { return group->rank() == 0; }

  shards::StreamOptions stream_options(const std::vector<shards::ShardRef>& refs, int slot,
                                       int world_slots, int epoch) const {
    shards::StreamOptions o;
    o.shards = refs;
    o.modalities = batches->pixel_modalities();
    o.token_modalities = batches->token_modalities();
    o.missing = shards::MissingModality::kSkip;
    o.seed = config.seed;
    o.epoch = epoch;
    o.shuffle_buffer = static_cast<std::size_t>(config.shuffle_buffer);
    o.rank = slot;
    o.world_size = world_slots;
    o.threads = 1;  // one loader per slot: the sample order is then deterministic (resume)
    o.batch_size = config.batch_size;
    o.drop_last = true;
    return o;
  }

  // Mean loss over up to val_batches batches of the validation split, the same masks every
  // time (epoch 0 seeds them), across all ranks.
  double validate() {
    torch::NoGradGuard no_grad;
    shards::SampleStream stream(stream_options(val_refs, group->rank(), group->world_size(), 0));
    double sum = 0, count = 0;
    for (int i = 0; i < config.val_batches; ++i) {
      auto b = stream.next();
      if (!b) break;
      const MaskedLoss out = model->loss(batches->make(b->samples, 0, device), config.loss);
      std::int64_t targets = 0;
      for (const auto& entry : out.targets) targets += entry.second;
      if (targets == 0) continue;  // nothing to predict in this batch
      sum += out.loss.item<double>();
      count += 1;
    }
    std::vector<at::Tensor> t{torch::tensor({sum, count}, torch::kFloat64)};
    group->all_reduce_sum(t);
    const double n = t[0][1].item<double>();
    if (n == 0)
      throw TrainingError(config.shards + ": validation split '" + config.val_split +
                          "' gives no full batch of " + std::to_string(config.batch_size));
    return t[0][0].item<double>() / n;
  }
};

namespace {

// Parameters split for weight decay: matrices decay; biases, norm scales and embeddings of
// modality/mask tokens do not (4M's rule: ndim <= 1 or an embedding token).
std::vector<AdamW::Group> optimiser_groups(const TrainableTerraMind& model, double weight_decay) {
  AdamW::Group decay, none;
  decay.weight_decay = weight_decay;
  const auto params = model.parameters();
  const auto names = model.parameter_names();
  for (std::size_t i = 0; i < params.size(); ++i) {
    const bool no_decay = params[i].dim() <= 1 || names[i].find("mod_emb") != std::string::npos ||
                          names[i] == "mask_token";
    auto& g = no_decay ? none : decay;
    g.params.push_back(params[i]);
    g.names.push_back(names[i]);
  }
  return {decay, none};
}

}  // namespace

Trainer::Trainer(RunConfig config, std::shared_ptr<ProcessGroup> group, bool resume)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.config = std::move(config);
  s.group = group ? std::move(group) : std::shared_ptr<ProcessGroup>(single_process());
  check_device(s.config.device);
  s.device = at::Device(s.config.device);
  share_cores_among_local_ranks(s.device);
  if (s.config.precision == "fp16" && !s.device.is_cuda())
    throw TrainingError(
        "precision fp16 needs a CUDA device (loss scaling is for GPU half precision); "
        "on CPU use bf16 or fp32");
  s.batches = std::make_unique<MaskedBatchMaker>(s.config);
  check_dataset(s.config, s.batches->pixel_modalities(), s.batches->token_modalities());
  s.shard_refs = shards_of(s.config.shards, s.config.split);
  if (!s.config.val_split.empty()) s.val_refs = shards_of(s.config.shards, s.config.val_split);

  const std::string latest = checkpoint_to_resume(s.config.output, resume);

  if (s.config.init == "random") {
    s.model = std::make_unique<TrainableTerraMind>(
        TrainableTerraMind::initialised(s.config.card, s.config.seed));
  } else {
    try {
      const TensorMap weights = read_weights(s.config.init);
      s.model = std::make_unique<TrainableTerraMind>(
          TrainableTerraMind::from_weights(s.config.card, weights));
    } catch (const CheckpointError& e) {
      throw TrainingError("model.init " + s.config.init + ": " + e.what());
    }
  }
  s.model->module().to(s.device);
  s.optimiser = std::make_unique<AdamW>(optimiser_groups(*s.model, s.config.weight_decay),
                                        s.config.beta1, s.config.beta2, s.config.eps);
  if (s.config.ema) {
    const auto params = s.model->parameters();
    const auto names = s.model->parameter_names();
    for (std::size_t i = 0; i < params.size(); ++i) s.ema[names[i]] = params[i].detach().clone();
  }
  int64_t skip = 0;
  if (resume) {
    RestoredRun r = restore_checkpoint(latest, s.config, s.slots(), s.group->world_size());
    try {
      s.model->load_state_dict(r.model);
    } catch (const CheckpointError& e) {
      throw TrainingError(latest + ": the checkpoint is of another model: " + e.what());
    }
    s.model->module().to(s.device);
    s.optimiser->load_state(r.optimiser);
    for (auto& [name, t] : r.ema) s.ema[name] = t.to(s.device);
    s.position = r.position;
    s.loss_scale = r.loss_scale;
    skip = s.position.batches_in_epoch;
  } else {
    // Every rank starts from rank 0's weights (initialisation is seeded, but be certain).
    auto params = s.model->parameters();
    std::vector<at::Tensor> data;
    for (auto& p : params) data.push_back(p.detach());
    s.group->broadcast(data, 0);
  }
  s.streams = std::make_unique<SlotStreams>(
      *s.group, s.config.accumulation, [&s](int slot, int world_slots, int epoch) {
        return s.stream_options(s.shard_refs, slot, world_slots, epoch);
      });
  s.streams->open(s.position.epoch, skip);
  if (s.rank0()) {
    fs::create_directories(s.config.output);
    s.metrics = std::make_unique<MetricsLog>(s.config.output + "/metrics.jsonl",
                                             resume ? s.position.step : -1);
  }
}

Trainer::~Trainer() = default;

int64_t Trainer::step() const { return state_->position.step; }
TrainableTerraMind& Trainer::model() { return *state_->model; }
const RunConfig& Trainer::config() const { return state_->config; }

std::string Trainer::write_checkpoint() {
  State& s = *state_;
  std::string folder;
  if (s.rank0()) {
    CheckpointContents c;
    c.model = s.model->state_dict();
    c.optimiser = s.optimiser->state();
    c.ema = s.ema;
    c.position = s.position;
    c.loss_scale = s.loss_scale;
    c.world_size = s.group->world_size();
    c.slots = s.slots();
    ModelCard card = s.config.card;
    card.checkpoint = "model.pt";
    folder = save_checkpoint(s.config, card.to_json(), c);
  }
  s.group->barrier();
  return folder;
}

void Trainer::run(const TrainerCallbacks& callbacks, std::optional<int64_t> max_steps) {
  State& s = *state_;
  const RunConfig& c = s.config;
  const int64_t last = max_steps ? std::min(c.steps, s.position.step + *max_steps) : c.steps;
  const auto autocast_dtype = c.precision == "fp16" ? at::kHalf : at::kBFloat16;
  const bool autocast = c.precision != "fp32";
  const double flops_per_sample = 3 * s.model->forward_flops(c.input_tokens, c.target_tokens);
  auto params = s.model->parameters();
  const auto names = s.model->parameter_names();
  // Several processes: gradients are reduced in buckets during the last micro-batch's backward.
  std::unique_ptr<GradientSync> sync;
  if (s.group->world_size() > 1)
    sync = std::make_unique<GradientSync>(*s.group, params,
                                          static_cast<std::size_t>(c.bucket_mb * 1048576.0));
  auto started = std::chrono::steady_clock::now();
  const int64_t first_step = s.position.step;
  double window_loss = 0;
  std::map<std::string, double> window_mod;
  int64_t window_steps = 0;
  auto window_start = started;

  while (s.position.step < last) {
    const auto batches = s.streams->next(
        s.position, c.shards + ": split '" + c.split + "' gives no full batch of " +
                        std::to_string(c.batch_size) + " per data slot (" +
                        std::to_string(s.slots()) + " slots): fewer samples than the global batch");
    double loss_sum = 0;
    std::map<std::string, double> mod_sum;
    std::vector<std::string> keys_seen;
    bool finite = true;
    int counted = 0;  // micro-batches with targets
    for (std::size_t a = 0; a < batches.size(); ++a) {
      MaskedBatch batch = s.batches->make(batches[a].samples, s.position.epoch, s.device);
      // The decoder modality order, shuffled per micro-batch as the reference does.
      // Seeded by the global data slot, so the order does not depend on how slots map to ranks.
      const int slot = s.group->rank() * c.accumulation + static_cast<int>(a);
      TokenRng order_rng(c.seed * 1000003 + static_cast<uint64_t>(s.position.step) * 131 + slot);
      for (const auto& k : s.batches->keys())
        if (k.target) batch.decoder_order.push_back(k.key);
      for (std::size_t i = batch.decoder_order.size(); i > 1; --i)
        std::swap(batch.decoder_order[i - 1], batch.decoder_order[order_rng.below(i)]);
      MaskedLoss out;
      {
        AutocastScope scope(autocast, s.device, autocast_dtype);
        out = s.model->loss(batch, c.loss);
      }
      std::int64_t targets = 0;
      for (const auto& entry : out.targets) targets += entry.second;
      if (targets == 0) continue;  // nothing to predict: a zero-gradient micro-batch
      if (sync && a + 1 == batches.size()) sync->arm();
      ++counted;
      const double value = out.loss.item<double>();
      if (!std::isfinite(value)) finite = false;
      loss_sum += value;
      for (const auto& [k, v] : out.per_modality) mod_sum[k] += v.item<double>();
      for (const auto& smp : batches[a].samples) keys_seen.push_back(smp.record.key);
      const double scale = (c.precision == "fp16" ? s.loss_scale : 1.0) / double(batches.size());
      if (finite) (out.loss * scale).backward();
    }
    // Before any other collective of the step: every rank issues its buckets in the same order.
    if (sync) sync->finish();
    // Losses, and whether every rank's were finite, summed across ranks in one reduction.
    std::vector<at::Tensor> stats{
        torch::tensor({loss_sum, finite ? 0.0 : 1.0, double(counted)}, torch::kFloat64)};
    s.group->all_reduce_sum(stats);
    if (stats[0][1].item<double>() > 0) {
      std::string list;
      for (const auto& k : keys_seen) list += (list.empty() ? "" : " ") + k;
      throw TrainingError("non-finite loss at step " + std::to_string(s.position.step + 1) +
                          (finite ? " on another rank" : " (batch samples: " + list + ")") +
                          "; stopped, the last checkpoint (" +
                          (latest_checkpoint(c.output).empty() ? std::string("none yet")
                                                               : latest_checkpoint(c.output)) +
                          ") is kept");
    }
    // The mean over the micro-batches that had targets (all but rare ones with tiny budgets).
    const double loss = stats[0][0].item<double>() / std::max(1.0, stats[0][2].item<double>());

    // Gradients: summed over ranks (during backward when several), divided by the world size
    // (micro-batches were divided already) and by the fp16 loss scale.
    const double grad_norm = reduce_gradients(
        params, *s.group, sync != nullptr,
        1.0 / (double(s.group->world_size()) * (c.precision == "fp16" ? s.loss_scale : 1.0)));
    if (c.precision == "fp16" && !std::isfinite(grad_norm)) {  // overflow: skip, lower the scale
      s.loss_scale /= 2;
      s.good_fp16_steps = 0;
      s.optimiser->zero_grad();
      continue;
    }
    clip_gradients(params, grad_norm, c.clip_grad);
    const double lr = learning_rate(c, s.position.step);
    s.optimiser->step(lr);
    s.optimiser->zero_grad();
    if (c.precision == "fp16" && ++s.good_fp16_steps % 2000 == 0) s.loss_scale *= 2;
    if (c.ema) update_ema(s.ema, params, names, *c.ema);
    ++s.position.step;

    window_loss += loss;
    for (const auto& [k, v] : mod_sum) window_mod[k] += v / double(batches.size());
    ++window_steps;
    const bool log_now = s.position.step % c.log_every == 0 || s.position.step == last;
    const bool checkpoint_now =
        s.position.step % c.checkpoint_every == 0 || s.position.step == c.steps;
    std::optional<double> val_loss;
    if (!s.val_refs.empty() &&
        ((c.val_every > 0 && s.position.step % c.val_every == 0) || s.position.step == last))
      val_loss = s.validate();
    if (log_now) {
      const auto now = std::chrono::steady_clock::now();
      const double window_s = std::chrono::duration<double>(now - window_start).count();
      const double total_s = std::chrono::duration<double>(now - started).count();
      StepReport r;
      r.step = s.position.step;
      r.steps = c.steps;
      r.loss = window_loss / double(window_steps);
      for (const auto& [k, v] : window_mod) r.per_modality[k] = v / double(window_steps);
      r.lr = lr;
      r.grad_norm = grad_norm;
      const double samples = double(window_steps) * s.slots() * c.batch_size;
      r.samples_per_s = samples / window_s;
      r.tokens_per_s = r.samples_per_s * double(c.input_tokens + c.target_tokens);
      r.flops_per_s = r.samples_per_s * flops_per_sample;
      const double per_step = total_s / double(s.position.step - first_step);
      r.eta_s = per_step * double(c.steps - s.position.step);
      r.val_loss = val_loss;
      if (s.metrics) {
        MetricsRow row;
        row.step = r.step;
        row.values = {{"loss", r.loss},
                      {"lr", r.lr},
                      {"grad_norm", r.grad_norm},
                      {"samples_per_s", r.samples_per_s},
                      {"tokens_per_s", r.tokens_per_s}};
        for (const auto& [k, v] : r.per_modality) row.values["loss/" + k] = v;
        if (sync) {  // how much of the all-reduce ran during backward (the last step's)
          row.values["grad_buckets"] = double(sync->buckets());
          row.values["grad_buckets_during_backward"] = double(sync->started_during_backward());
        }
        s.metrics->append(row);
        if (val_loss) s.metrics->append({r.step, "val", {{"loss", *val_loss}}});
      }
      if (callbacks.on_log) callbacks.on_log(r);
      window_loss = 0;
      window_mod.clear();
      window_steps = 0;
      window_start = now;
    }
    if (checkpoint_now) {
      const std::string folder = write_checkpoint();
      if (s.metrics) write_run_plots(c, *s.metrics);
      if (callbacks.on_checkpoint && s.rank0()) callbacks.on_checkpoint(folder);
    }
  }
}

}  // namespace terramind::training
