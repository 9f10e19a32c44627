// The tokenizers' ViT stacks (spec: terramind-tokenizers.md sections 3 and 7), named like the
// reference modules so that named_parameters() yields the official checkpoint keys. Unlike the
// TerraMind blocks, their LayerNorms carry a learned bias (nn.LayerNorm, eps 1e-6).
#pragma once

#include <torch/torch.h>

#include "model/layers.h"
#include "tm/model.h"

namespace terramind::net {

// Pre-norm block: x + attn(norm1 x), then x + mlp(norm2 x); attention and GELU MLP are the
// TerraMind layers (same key names, same arithmetic).
class TokenizerBlockImpl : public torch::nn::Module {
 public:
  explicit TokenizerBlockImpl(const BlockOptions& o);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  SelfAttention attn{nullptr};
  FeedForward mlp{nullptr};
};
TORCH_MODULE(TokenizerBlock);

// fc2(tanh(fc1 x)): the post-MLP in front of the quantizer and behind the ViT decoder.
class TanhMlpImpl : public torch::nn::Module {
 public:
  TanhMlpImpl(int64_t dim, int64_t hidden);
  torch::Tensor forward(const torch::Tensor& x);
  Dense fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(TanhMlp);

// Position table [1, D, g, g] (stored in checkpoints) bicubically resized to gh x gw, as tokens
// [1, gh*gw, D] in row-major grid order.
torch::Tensor grid_position_tokens(const torch::Tensor& pos_emb, int64_t gh, int64_t gw);

// Blocks plus the residual post-MLP, shared by encoder and decoder.
class VitStackImpl : public torch::nn::Module {
 public:
  explicit VitStackImpl(const VitCoderConfig& config);
  torch::Tensor forward(const torch::Tensor& tokens);  // [B, N, D] -> [B, N, D]
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm_mlp{nullptr};
  TanhMlp post_mlp{nullptr};
};

// Image [B, C, H, W] -> features [B, D, H/p, W/p]: strided-conv patches + positions, blocks,
// post-MLP (spec section 3).
class VitEncoderImpl : public VitStackImpl {
 public:
  VitEncoderImpl(int64_t in_channels, const VitCoderConfig& config, int64_t patch,
                 int64_t image_size);
  torch::Tensor forward(const torch::Tensor& image);
  int64_t patch;
  torch::Tensor pos_emb;
  torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(VitEncoder);

// Features [B, D, h, w] -> image [B, C, p*h, p*w] (spec section 7; no output convolutions).
class VitDecoderImpl : public VitStackImpl {
 public:
  VitDecoderImpl(int64_t out_channels, const VitCoderConfig& config, int64_t patch,
                 int64_t image_size);
  torch::Tensor forward(const torch::Tensor& features);
  int64_t out_channels, patch;
  torch::Tensor pos_emb;
  Dense out_proj{nullptr};
};
TORCH_MODULE(VitDecoder);

}  // namespace terramind::net
