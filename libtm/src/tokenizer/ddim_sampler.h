// DDIM sampling as the reference tokenizers configure it (spec: terramind-tokenizers.md section
// 6): linear betas rescaled to zero terminal SNR, trailing timesteps, clean-image ("sample")
// prediction, eta = 0, and dynamic thresholding that degenerates to a clamp to [-1, 1]. All
// schedule arithmetic uses float32 tensors in the reference's operation order.
#pragma once

#include <functional>
#include <vector>

#include <torch/torch.h>

#include "tm/model.h"

namespace terramind::net {

class DdimSampler {
 public:
  explicit DdimSampler(const DiffusionConfig& config);

  const torch::Tensor& alphas_cumprod() const { return alphas_cumprod_; }  // [T] float32
  std::vector<int64_t> timesteps(int64_t steps) const;

  // x_{t'} from x_t and the model's x0 estimate, t' = t - T / steps (not the next list entry).
  // `clamp` false skips the reference's threshold (an opt-out, not reference behaviour).
  torch::Tensor step(const torch::Tensor& model_output, int64_t timestep, const torch::Tensor& x_t,
                     int64_t steps, bool clamp) const;

  // The whole loop from x_T; `denoise(x_t, t)` returns the x0 estimate.
  using Denoiser = std::function<torch::Tensor(const torch::Tensor&, int64_t)>;
  torch::Tensor sample(const torch::Tensor& noise, int64_t steps, const Denoiser& denoise,
                       bool clamp, const std::function<void(const DiffusionStep&)>& on_step) const;

 private:
  DiffusionConfig config_;
  torch::Tensor alphas_cumprod_;
};

}  // namespace terramind::net
