// The diffusion decoder "unet_patched" (spec: terramind-tokenizers.md section 5): 4x4
// space-to-depth patching, FSQ codes upsampled (nearest) and concatenated, the guided-diffusion
// UNet with its sinusoidal timestep embedding, and the inverse patching. It predicts the clean
// (standardised) image x0 from a noisy one.
#pragma once

#include <torch/torch.h>

#include "tm/model.h"
#include "unet_blocks.h"

namespace terramind::net {

// [cos(t f_0 .. t f_{d/2-1}), sin(...)] with f_i = exp(-ln(10000) i / (d/2)), float32.
torch::Tensor timestep_embedding(const torch::Tensor& timesteps, int64_t dim);

class PatchedUNetImpl : public torch::nn::Module {
 public:
  PatchedUNetImpl(int64_t image_channels, int64_t cond_channels, const UNetConfig& config);
  // x_t [B, C, H, W] (H, W multiples of size_multiple()), integer timestep t, codes
  // [B, L, h, w] -> x0 estimate [B, C, H, W].
  torch::Tensor forward(const torch::Tensor& x_t, int64_t timestep, const torch::Tensor& codes);
  // One timestep per sample ([B] int64): what training draws.
  torch::Tensor forward(const torch::Tensor& x_t, const torch::Tensor& timesteps,
                        const torch::Tensor& codes);
  int64_t size_multiple() const;

  torch::nn::Sequential time_embed{nullptr};
  torch::nn::ModuleList input_blocks{nullptr}, output_blocks{nullptr};
  UNetStage middle_block{nullptr};
  torch::nn::Sequential out{nullptr};

 private:
  UNetConfig config_;
  int64_t image_channels_;
};
TORCH_MODULE(PatchedUNet);

}  // namespace terramind::net
