// Building blocks of the diffusion decoder's ADM-style UNet (spec: terramind-tokenizers.md
// section 5.3). Sub-module names (in_layers.0, emb_layers.1, out_layers.3, skip_connection, op,
// conv, norm, qkv, proj_out) reproduce the official checkpoint keys.
#pragma once

#include <memory>
#include <vector>

#include <torch/torch.h>

namespace terramind::net {

// GroupNorm evaluated in float32 and cast back, as the reference's GroupNorm32.
class GroupNorm32Impl : public torch::nn::Module {
 public:
  GroupNorm32Impl(int64_t groups, int64_t channels);
  torch::Tensor forward(const torch::Tensor& x);
  int64_t groups;
  torch::Tensor weight, bias;
};
TORCH_MODULE(GroupNorm32);

// GN -> SiLU -> conv3x3, + Linear(SiLU(emb)) per channel, GN -> SiLU -> conv3x3, + skip.
class ResBlockImpl : public torch::nn::Module {
 public:
  ResBlockImpl(int64_t in_channels, int64_t out_channels, int64_t emb_channels, int64_t groups);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& emb);
  torch::nn::Sequential in_layers{nullptr}, emb_layers{nullptr}, out_layers{nullptr};
  torch::nn::Conv2d skip_connection{nullptr};  // only when the width changes
};
TORCH_MODULE(ResBlock);

// Spatial self-attention with the legacy head split ("split heads before q, k, v"); q and k are
// each scaled by ch^(-1/4) before the product, the softmax runs in float32.
class AttentionBlockImpl : public torch::nn::Module {
 public:
  AttentionBlockImpl(int64_t channels, int64_t heads, int64_t groups);
  torch::Tensor forward(const torch::Tensor& x);
  int64_t heads;
  GroupNorm32 norm{nullptr};
  torch::nn::Conv1d qkv{nullptr}, proj_out{nullptr};
};
TORCH_MODULE(AttentionBlock);

class DownsampleImpl : public torch::nn::Module {  // conv3x3 stride 2
 public:
  explicit DownsampleImpl(int64_t channels);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d op{nullptr};
};
TORCH_MODULE(Downsample);

class UpsampleImpl : public torch::nn::Module {  // nearest x2, then conv3x3
 public:
  explicit UpsampleImpl(int64_t channels);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(Upsample);

// One entry of input_blocks / middle_block / output_blocks: layers "0", "1", ... run in order,
// ResBlocks also receive the timestep embedding.
class UNetStageImpl : public torch::nn::Module {
 public:
  void add(const std::shared_ptr<torch::nn::Module>& layer);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& emb);

 private:
  std::vector<std::shared_ptr<torch::nn::Module>> layers_;
};
TORCH_MODULE(UNetStage);

torch::nn::Conv2d conv3x3(int64_t in, int64_t out, int64_t stride = 1);

}  // namespace terramind::net
