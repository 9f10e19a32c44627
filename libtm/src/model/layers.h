// Transformer building blocks of TerraMind, named like the reference modules so that
// named_parameters() yields the official checkpoint keys (spec: terramind-model.md section 5).
#pragma once

#include <torch/torch.h>

namespace terramind::net {

// y = x W^T (+ b). Parameter names "weight" / "bias" as in torch.nn.Linear.
class DenseImpl : public torch::nn::Module {
 public:
  DenseImpl(int64_t in, int64_t out, bool bias);
  // Shares an existing weight (tied logits head, spec section 4.6).
  explicit DenseImpl(torch::Tensor shared_weight);
  torch::Tensor forward(const torch::Tensor& x) const;
  torch::Tensor weight, bias;
};
TORCH_MODULE(Dense);

// LayerNorm with a learnable scale and a constant zero bias buffer (stored in checkpoints).
class ZeroBiasLayerNormImpl : public torch::nn::Module {
 public:
  ZeroBiasLayerNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x) const;
  torch::Tensor weight, bias;
  double eps;
};
TORCH_MODULE(ZeroBiasLayerNorm);

struct BlockOptions {
  int64_t dim = 768;
  int64_t heads = 12;
  int64_t mlp_hidden = 3072;
  bool gated_mlp = false;  // SwiGLU fc2(SiLU(fc1 x) * fc3 x) instead of fc2(GELU(fc1 x))
  bool qkv_bias = true;
  bool proj_bias = true;
  bool mlp_bias = true;
  double norm_eps = 1e-6;
};

// Mask convention of the reference: true = masked; masked scores become -FLT_MAX (not -inf), so
// fully masked rows stay finite.
torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const torch::Tensor& mask);

// Keys and values of earlier positions, so autoregressive decoding computes one new position
// per step instead of re-running the whole prefix (the reference recomputes it).
struct KeyValueCache {
  torch::Tensor keys, values;  // [B, h, L, dh]
};

class SelfAttentionImpl : public torch::nn::Module {
 public:
  explicit SelfAttentionImpl(const BlockOptions& o);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask = {}) const;
  // New positions x [B, n, D] attend to the cache and to themselves causally; the cache grows.
  torch::Tensor forward_cached(const torch::Tensor& x, KeyValueCache& cache) const;
  int64_t heads;
  Dense qkv{nullptr}, proj{nullptr};
};
TORCH_MODULE(SelfAttention);

class CrossAttentionImpl : public torch::nn::Module {
 public:
  explicit CrossAttentionImpl(const BlockOptions& o);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context,
                        const torch::Tensor& mask = {}) const;
  // Context keys/values computed once for many decoding steps.
  KeyValueCache project_context(const torch::Tensor& context) const;
  torch::Tensor forward_projected(const torch::Tensor& x, const KeyValueCache& context,
                                  const torch::Tensor& mask = {}) const;
  int64_t heads;
  Dense q{nullptr}, kv{nullptr}, proj{nullptr};
};
TORCH_MODULE(CrossAttention);

class FeedForwardImpl : public torch::nn::Module {
 public:
  explicit FeedForwardImpl(const BlockOptions& o);
  torch::Tensor forward(const torch::Tensor& x) const;
  Dense fc1{nullptr}, fc2{nullptr}, fc3{nullptr};  // fc3 only when gated
};
TORCH_MODULE(FeedForward);

// Pre-norm encoder block: x + attn(norm1 x), then x + mlp(norm2 x).
class EncoderBlockImpl : public torch::nn::Module {
 public:
  explicit EncoderBlockImpl(const BlockOptions& o);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask = {}) const;
  ZeroBiasLayerNorm norm1{nullptr}, norm2{nullptr};
  SelfAttention attn{nullptr};
  FeedForward mlp{nullptr};
};
TORCH_MODULE(EncoderBlock);

// Decoder block with its own context_norm applied to the shared, un-updated context.
class DecoderBlockImpl : public torch::nn::Module {
 public:
  explicit DecoderBlockImpl(const BlockOptions& o);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context,
                        const torch::Tensor& self_mask = {},
                        const torch::Tensor& cross_mask = {}) const;
  // One autoregressive step: x [B, n, D] new positions, `context` from prepare_context().
  torch::Tensor step(const torch::Tensor& x, const KeyValueCache& context, KeyValueCache& cache,
                     const torch::Tensor& cross_mask = {}) const;
  KeyValueCache prepare_context(const torch::Tensor& context) const;
  ZeroBiasLayerNorm norm1{nullptr}, query_norm{nullptr}, context_norm{nullptr}, norm2{nullptr};
  SelfAttention self_attn{nullptr};
  CrossAttention cross_attn{nullptr};
  FeedForward mlp{nullptr};
};
TORCH_MODULE(DecoderBlock);

}  // namespace terramind::net
