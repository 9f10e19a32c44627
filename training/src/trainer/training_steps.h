// The step machinery both trainers (TerraMind, tokenizers) share: device checks, the data slots'
// streams with their common epochs, the per-core thread share, and the optimiser step's gradient
// handling (reduce, unscale, norm, clip) and EMA.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "run_checkpoint.h"
#include "tm/shards.h"
#include "tm/trainer.h"

namespace terramind::training {

// "cpu", or a CUDA device this LibTorch has; TrainingError naming the device otherwise.
void check_device(const std::string& device);
// Torch's default here is one intra-op thread: share the cores among a node's processes unless
// OMP_NUM_THREADS says otherwise (CPU devices).
void share_cores_among_local_ranks(const at::Device& device);
// The split's shards; TrainingError when there are none.
std::vector<shards::ShardRef> shards_of(const std::string& dataset, const std::string& split);

// The run folder's latest checkpoint when resuming ("" for a fresh run); TrainingError when a
// fresh run would overwrite checkpoints or a resume finds none.
std::string checkpoint_to_resume(const std::string& output, bool resume);
// Weights to start from (.pt or .safetensors).
TensorMap read_weights(const std::string& path);

// One stream per local data slot (slot = rank * accumulation + a of world * accumulation).
class SlotStreams {
 public:
  using OptionsFor = std::function<shards::StreamOptions(int slot, int world_slots, int epoch)>;
  SlotStreams(ProcessGroup& group, int accumulation, OptionsFor options_for);
  // Opens every slot's stream for `epoch`, skipping `skip` batches each (a resumed run).
  void open(int epoch, std::int64_t skip);
  // A micro-batch per local slot; when any slot of any rank runs dry, a new epoch for every rank
  // at once. `too_small` is the error when even a fresh epoch has no full batch.
  std::vector<shards::Batch> next(RunPosition& position, const std::string& too_small);

 private:
  ProcessGroup& group_;
  int accumulation_;
  OptionsFor options_for_;
  std::vector<std::unique_ptr<shards::SampleStream>> streams_;
};

// Autocast for the scope (bf16 / fp16 on the device's autocast; off: nothing).
class AutocastScope {
 public:
  AutocastScope(bool on, const at::Device& device, at::ScalarType dtype);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool on_;
};

// Sums the parameters' gradients across ranks (unless already `reduced`; undefined ones become
// zeros so that ranks agree), scales them by `scale` and returns their global L2 norm.
double reduce_gradients(std::vector<at::Tensor>& params, ProcessGroup& group, bool reduced,
                        double scale);
// Scales the gradients to norm `clip` when `norm` exceeds it (clip 0: never).
void clip_gradients(std::vector<at::Tensor>& params, double norm, double clip);
// ema[name] <- decay * ema[name] + (1 - decay) * param.
void update_ema(std::map<std::string, at::Tensor>& ema, const std::vector<at::Tensor>& params,
                const std::vector<std::string>& names, double decay);

}  // namespace terramind::training
