// The gradient all-reduce of data-parallel training, overlapped with backward as DDP does it:
// parameters are grouped into buckets (reverse registration order, about bucket_bytes each); a
// post-hook on each parameter's gradient accumulator counts it ready, and a bucket whose
// parameters are all ready starts its asynchronous all-reduce while backward goes on. Buckets
// start strictly in index order, so every rank issues the same collectives in the same order
// whichever parameters its batch reached.
#pragma once

#include <torch/torch.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "tm/trainer.h"

namespace terramind::training {

class GradientSync {
 public:
  GradientSync(ProcessGroup& group, std::vector<at::Tensor> params, std::size_t bucket_bytes);
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  // Call before the backward of the step's last micro-batch: only that backward's hooks start
  // reductions (earlier micro-batches accumulate locally).
  void arm();
  // After that backward (also when it was skipped): starts the buckets not started yet (parameters
  // no batch reached get zero gradients), waits for every reduction and writes the sums into the
  // parameters' .grad.
  void finish();
  std::size_t buckets() const { return buckets_.size(); }
  // Buckets started by hooks during the last armed backward (the overlapped ones).
  std::size_t started_during_backward() const { return overlapped_; }

 private:
  struct Bucket {
    std::vector<std::size_t> members;  // parameter indices
    std::size_t pending = 0;
    at::Tensor flat;
    std::function<void()> wait;
  };
  void ready(std::size_t param);
  void start_ready_buckets(bool all);

  ProcessGroup& group_;
  std::vector<at::Tensor> params_;
  std::vector<std::size_t> bucket_of_;
  std::vector<Bucket> buckets_;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;
  std::vector<std::uintptr_t> hook_keys_;
  std::vector<bool> seen_;
  std::size_t next_ = 0;  // the next bucket to start
  std::size_t overlapped_ = 0;
  bool armed_ = false;
};

}  // namespace terramind::training
