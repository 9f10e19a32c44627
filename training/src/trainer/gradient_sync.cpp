#include "gradient_sync.h"

#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

namespace terramind::training {

GradientSync::GradientSync(ProcessGroup& group, std::vector<at::Tensor> params,
                           std::size_t bucket_bytes)
    : group_(group), params_(std::move(params)) {
  bucket_of_.resize(params_.size());
  seen_.assign(params_.size(), false);
  std::size_t bytes = 0;
  // Backward reaches the last layers first: bucket the parameters from the end.
  for (std::size_t n = params_.size(); n-- > 0;) {
    const std::size_t size =
        static_cast<std::size_t>(params_[n].numel()) * params_[n].element_size();
    if (buckets_.empty() || (bytes > 0 && bytes + size > bucket_bytes)) {
      buckets_.emplace_back();
      bytes = 0;
    }
    buckets_.back().members.push_back(n);
    bucket_of_[n] = buckets_.size() - 1;
    bytes += size;
  }
  for (std::size_t i = 0; i < params_.size(); ++i) {
    auto accumulator = torch::autograd::impl::grad_accumulator(params_[i]);
    hook_keys_.push_back(
        accumulator->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
            [this, i](const torch::autograd::variable_list& outputs,
                      const torch::autograd::variable_list&) {
              ready(i);
              return outputs;
            })));
    accumulators_.push_back(std::move(accumulator));  // the variable holds it only weakly
  }
}

GradientSync::~GradientSync() {
  for (std::size_t i = 0; i < accumulators_.size(); ++i)
    accumulators_[i]->del_post_hook(hook_keys_[i]);
}

void GradientSync::arm() {
  armed_ = true;
  next_ = 0;
  overlapped_ = 0;
  seen_.assign(params_.size(), false);
  for (auto& b : buckets_) {
    b.pending = b.members.size();
    b.wait = nullptr;
    b.flat = at::Tensor();
  }
}

void GradientSync::ready(std::size_t param) {
  if (!armed_ || seen_[param]) return;
  seen_[param] = true;
  --buckets_[bucket_of_[param]].pending;
  const std::size_t before = next_;
  start_ready_buckets(false);
  overlapped_ += next_ - before;
}

void GradientSync::start_ready_buckets(bool all) {
  torch::NoGradGuard no_grad;
  while (next_ < buckets_.size() && (all || buckets_[next_].pending == 0)) {
    Bucket& b = buckets_[next_];
    std::vector<at::Tensor> parts;
    parts.reserve(b.members.size());
    for (const std::size_t i : b.members) {
      at::Tensor& p = params_[i];
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      parts.push_back(p.grad().reshape({-1}));
    }
    b.flat = torch::cat(parts);
    b.wait = group_.all_reduce_sum_start(b.flat);
    ++next_;
  }
}

void GradientSync::finish() {
  if (!armed_) arm();  // the last micro-batch had no backward (nothing to predict)
  start_ready_buckets(true);
  armed_ = false;
  torch::NoGradGuard no_grad;
  for (Bucket& b : buckets_) {
    b.wait();
    int64_t offset = 0;
    for (const std::size_t i : b.members) {
      at::Tensor& g = params_[i].mutable_grad();
      g.copy_(b.flat.narrow(0, offset, g.numel()).view_as(g));
      offset += g.numel();
    }
    b.flat = at::Tensor();
  }
}

}  // namespace terramind::training
