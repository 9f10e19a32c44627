// tm/trainer.h — TerraMind pre-training on LibTorch (public header of training/'s tm_trainer).
//
// A run is data: one JSON run file (RunConfig) names the model card, the token shards, the
// budgets, the optimiser, the schedule, the precision and the checkpoint cadence. The Trainer
// streams masked batches (tm/shards.h, tm/token_budgets.h) through TrainableTerraMind
// (tm/pretraining.h), averages gradients across processes with c10d (Gloo on CPU, NCCL on GPU)
// and writes atomic, exactly resumable checkpoints whose model.pt is the official key layout.
//
// Data slots: the global batch is world_size x accumulation micro-batches; micro-batch a of rank
// r reads stream partition r * accumulation + a of world_size * accumulation. One rank with
// accumulation 2 therefore sees the micro-batches two ranks see, and gets the same weights.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "tm/cards.h"
#include "tm/pretraining.h"

namespace terramind::training {

// A bad run file, mismatched data or checkpoint, or a diverged run: the message says which.
class TrainingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ModalityUse {
  std::string modality;  // canonical registry name
  bool pixels = false;   // raw pixels as encoder input (its "untok_" key)
  bool tokens = true;    // pre-tokenised ids, encoder input and decoder target (run files:
                         // true unless pixels is)
};

struct MixtureSpec {  // alphas by model key; keys absent get 0
  std::string name;
  std::map<std::string, double> input_alpha, target_alpha;
  double weight = 1;
};

// What every run file has: optimiser, schedule, batch, precision, device, output, checkpoints.
struct TrainingSettings {
  std::string source;  // the run file's path (messages), empty when parsed from text
  std::string text;    // the run file as given (stored in every checkpoint)
  // optimisation
  double lr = 2e-4, min_lr = 1e-6, weight_decay = 0.05, beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double clip_grad = 1.0;  // 0: none
  std::int64_t steps = 1000, warmup_steps = 100;
  int batch_size = 8;  // per micro-batch
  int accumulation = 1;
  std::string precision = "fp32";  // fp32, bf16 (autocast), fp16 (autocast + loss scaling, GPU)
  std::optional<double> ema;       // EMA decay of the weights (saved beside them)
  std::string device = "cpu";      // cpu, cuda, cuda:N
  std::uint64_t seed = 0;
  // output
  std::string output;  // run folder: checkpoints/, metrics.jsonl, metrics.csv, loss.png
  std::int64_t checkpoint_every = 100;
  int keep_checkpoints = 3;
  std::int64_t log_every = 10;
  // distributed: gradient buckets of about this many MiB, each all-reduced as soon as backward
  // has produced all its gradients (DDP's default 25)
  double bucket_mb = 25;
};

struct RunConfig : TrainingSettings {
  // model
  ModelCard card;
  std::string init = "random";  // "random" or a checkpoint (.pt / .safetensors) to continue
  // data
  std::string shards;  // a tm shards dataset with token arrays (tm_tokenize_shards)
  std::string split = "train";
  std::string val_split;  // empty: no validation
  std::vector<ModalityUse> modalities;
  int shuffle_buffer = 64;
  // budgets
  int input_tokens = 128, target_tokens = 128;
  std::string pixel_modality;  // for the "4m" mixture: the modality whose pixels are the input
  std::vector<MixtureSpec> mixture;  // empty: 4M's rgb2all + all2all
  LossReduction loss = LossReduction::kModality;
  std::int64_t val_every = 0;  // 0: only at the end (when val_split is set)
  int val_batches = 4;

  // Strict: unknown keys, wrong types and bad values throw TrainingError naming the key.
  static RunConfig from_json(const std::string& text, const std::string& what = "run file");
  static RunConfig from_file(const std::string& path);
};

// Learning rate at optimiser step `step` (0-based): linear warm-up over `warmup` steps to lr,
// then a cosine to min_lr at `steps`.
double warmup_cosine(double lr, double min_lr, std::int64_t warmup, std::int64_t steps,
                     std::int64_t step);
double learning_rate(const TrainingSettings& config, std::int64_t step);  // the run's schedule

// AdamW with decoupled weight decay, as torch.optim.AdamW; its state is plain tensors so that
// checkpoints hold it by parameter name.
class AdamW {
 public:
  struct Group {
    std::vector<at::Tensor> params;
    std::vector<std::string> names;
    double weight_decay = 0;
  };
  AdamW(std::vector<Group> groups, double beta1, double beta2, double eps);
  void step(double lr);  // uses each parameter's .grad(); parameters without one are skipped
  void zero_grad();
  std::int64_t steps() const { return steps_; }
  // "exp_avg/<name>", "exp_avg_sq/<name>", "step" (int64 scalar).
  std::map<std::string, at::Tensor> state() const;
  void load_state(const std::map<std::string, at::Tensor>& state);
  const std::vector<Group>& groups() const { return groups_; }

 private:
  std::vector<Group> groups_;
  std::map<std::string, at::Tensor> exp_avg_, exp_avg_sq_;
  double beta1_, beta2_, eps_;
  std::int64_t steps_ = 0;
};

// The process group of this run: one process (no c10d) or a c10d group bootstrapped from the
// launcher's environment (torchrun, srun, mpirun; tm/launch_environment.h).
class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual std::string backend() const = 0;  // "none", "gloo", "nccl"
  // Sums every tensor across ranks in place (bucketed: tensors are flattened into buckets of
  // about bucket_bytes, each reduced asynchronously, all waited for at the end).
  virtual void all_reduce_sum(std::vector<at::Tensor>& tensors) = 0;
  // Starts summing one tensor across ranks in place; the returned function waits for it.
  // Collectives must be started in the same order on every rank.
  virtual std::function<void()> all_reduce_sum_start(at::Tensor tensor) = 0;
  virtual void broadcast(std::vector<at::Tensor>& tensors, int root) = 0;
  virtual void barrier() = 0;
};
std::unique_ptr<ProcessGroup> single_process();
// backend "auto": NCCL for a CUDA device, else Gloo. A world of one needs no c10d and gets
// single_process(). Throws TrainingError for a bad environment or an unavailable backend.
std::unique_ptr<ProcessGroup> process_group_from_environment(const std::string& backend,
                                                             const std::string& device,
                                                             std::size_t bucket_bytes = 25u << 20);

struct StepReport {
  std::int64_t step = 0, steps = 0;  // optimiser steps done, planned
  double loss = 0;
  std::map<std::string, double> per_modality;
  double lr = 0, grad_norm = 0;
  double samples_per_s = 0, tokens_per_s = 0, eta_s = 0;
  double flops_per_s = 0;  // model FLOPs (forward + backward = 3x forward) per second
  std::optional<double> val_loss;
};

struct TrainerCallbacks {
  std::function<void(const StepReport&)> on_log;          // every log_every steps and the last
  std::function<void(const std::string&)> on_checkpoint;  // the checkpoint folder written
};

class Trainer {
 public:
  // resume: continue from the run folder's latest checkpoint (its run file's model and world
  // layout must match); else the run folder must hold no checkpoint.
  Trainer(RunConfig config, std::shared_ptr<ProcessGroup> group, bool resume);
  ~Trainer();
  // Trains until config.steps, or `max_steps` more steps when given (tests stop early).
  // Checkpoints every checkpoint_every steps and at config.steps, not at an early stop.
  // Throws TrainingError on a non-finite loss, naming the step and the batch's sample keys;
  // the last checkpoint written stays the latest.
  void run(const TrainerCallbacks& callbacks = {}, std::optional<std::int64_t> max_steps = {});
  std::int64_t step() const;
  TrainableTerraMind& model();
  const RunConfig& config() const;
  std::string write_checkpoint();  // rank 0 writes; returns its folder

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// A tokenizer run (`tm_train tokenizer`): the first training stage, on the pixels of one
// modality of a tm shards dataset. Defaults follow the reference's tokenizer training (AdamW
// with warm-up, clipping, horizontal flips; β2 0.99).
struct TokenizerRunConfig : TrainingSettings {
  TokenizerCard card;
  std::string init = "random";  // or a tokenizer checkpoint (.pt / .safetensors) to fine-tune
  std::string shards;           // a tm shards dataset holding the card's modality
  std::string split = "train";
  int shuffle_buffer = 64;
  bool flips = true;  // random horizontal flips

  TokenizerRunConfig() {
    lr = 1e-4;
    beta2 = 0.99;
  }
  static TokenizerRunConfig from_json(const std::string& text,
                                      const std::string& what = "run file");
  static TokenizerRunConfig from_file(const std::string& path);
};

// Trains a tokenizer: per optimiser step world x accumulation micro-batches of batch_size
// samples, DiVAE timesteps and noise drawn from (seed, step, data slot) so that resumed and
// data-parallel runs draw what an uninterrupted single process does. Checkpoints as Trainer's,
// with model.pt in the official tokenizer layout and a tokenizer card.json naming it.
class TokenizerTrainer {
 public:
  TokenizerTrainer(TokenizerRunConfig config, std::shared_ptr<ProcessGroup> group, bool resume);
  ~TokenizerTrainer();
  void run(const TrainerCallbacks& callbacks = {}, std::optional<std::int64_t> max_steps = {});
  std::int64_t step() const;
  TrainableTokenizer& model();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Latest checkpoint folder of a run folder, or "" when none.
std::string latest_checkpoint(const std::string& run_dir);

}  // namespace terramind::training
