#include "training_steps.h"

#include <cmath>
#include <cstdlib>
#include <thread>

#include <ATen/autocast_mode.h>

#include "tm/launch_environment.h"

namespace terramind::training {

void check_device(const std::string& device) {
  if (device == "cpu") return;
  if (device.rfind("cuda", 0) != 0)
    throw TrainingError("device '" + device + "': expected cpu, cuda or cuda:N");
  if (!torch::cuda::is_available())
    throw TrainingError(
        "device " + device + " was asked for, but this LibTorch has no CUDA device (" +
        std::string(torch::cuda::device_count() == 0 ? "a CPU build or no GPU" : "?") + ")");
}

void share_cores_among_local_ranks(const at::Device& device) {
  if (std::getenv("OMP_NUM_THREADS") || !device.is_cpu()) return;
  int local = 1;
  try {
    local = std::max(1, launch_environment_from_process().local_world_size);
  } catch (const std::invalid_argument&) {  // reported by the process group
  }
  at::set_num_threads(std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / local));
}

std::vector<shards::ShardRef> shards_of(const std::string& dataset, const std::string& split) {
  try {
    auto refs = shards::list_shards(dataset, split);
    if (refs.empty()) throw TrainingError(dataset + ": no shards in split '" + split + "'");
    return refs;
  } catch (const shards::FormatError& e) {
    throw TrainingError(e.what());
  }
}

std::string checkpoint_to_resume(const std::string& output, bool resume) {
  const std::string latest = latest_checkpoint(output);
  if (!latest.empty() && !resume)
    throw TrainingError(output + ": holds checkpoints (latest " + latest +
                        "); --resume continues the run, or choose another output folder");
  if (resume && latest.empty())
    throw TrainingError(output + ": --resume, but the folder holds no checkpoint");
  return latest;
}

TensorMap read_weights(const std::string& path) {
  return ends_with_safetensors(path) ? load_safetensors(path) : load_torch_checkpoint(path);
}

SlotStreams::SlotStreams(ProcessGroup& group, int accumulation, OptionsFor options_for)
    : group_(group), accumulation_(accumulation), options_for_(std::move(options_for)) {}

void SlotStreams::open(int epoch, std::int64_t skip) {
  streams_.clear();
  const int world_slots = group_.world_size() * accumulation_;
  for (int a = 0; a < accumulation_; ++a) {
    const int slot = group_.rank() * accumulation_ + a;
    streams_.push_back(
        std::make_unique<shards::SampleStream>(options_for_(slot, world_slots, epoch)));
    for (std::int64_t i = 0; i < skip; ++i)
      if (!streams_.back()->next())
        throw TrainingError("resume: the data ended before the checkpoint's position");
  }
}

std::vector<shards::Batch> SlotStreams::next(RunPosition& position, const std::string& too_small) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::vector<shards::Batch> out;
    bool all = true;
    for (auto& s : streams_) {
      auto b = s->next();
      if (!b) {
        all = false;
        break;
      }
      out.push_back(std::move(*b));
    }
    std::vector<at::Tensor> flag{torch::tensor({all ? 0.0f : 1.0f})};
    group_.all_reduce_sum(flag);
    if (flag[0].item<float>() == 0) {
      ++position.batches_in_epoch;
      return out;
    }
    ++position.epoch;
    position.batches_in_epoch = 0;
    open(position.epoch, 0);
  }
  throw TrainingError(too_small);
}

AutocastScope::AutocastScope(bool on, const at::Device& device, at::ScalarType dtype) : on_(on) {
  if (!on_) return;
  if (device.is_cuda()) {
    at::autocast::set_enabled(true);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_cpu_enabled(true);
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
}

AutocastScope::~AutocastScope() {
  if (!on_) return;
  at::autocast::set_enabled(false);
  at::autocast::set_cpu_enabled(false);
  at::autocast::clear_cache();
}

double reduce_gradients(std::vector<at::Tensor>& params, ProcessGroup& group, bool reduced,
                        double scale) {
  std::vector<at::Tensor> grads;
  for (auto& p : params) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  if (!reduced) group.all_reduce_sum(grads);  // a no-op for one process
  double norm_sq = 0;
  torch::NoGradGuard no_grad;
  for (auto& g : grads) {
    g.mul_(scale);
    norm_sq += g.to(torch::kFloat64).pow(2).sum().item<double>();
  }
  return std::sqrt(norm_sq);
}

void clip_gradients(std::vector<at::Tensor>& params, double norm, double clip) {
  if (!(clip > 0 && norm > clip)) return;
  torch::NoGradGuard no_grad;
  const double factor = clip / (norm + 1e-6);
  for (auto& p : params) p.mutable_grad().mul_(factor);
}

void update_ema(std::map<std::string, at::Tensor>& ema, const std::vector<at::Tensor>& params,
                const std::vector<std::string>& names, double decay) {
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < params.size(); ++i)
    ema[names[i]].lerp_(params[i].detach(), 1 - decay);
}

}  // namespace terramind::training
