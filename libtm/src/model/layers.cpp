#include "layers.h"

#include <cfloat>
#include <cmath>

namespace terramind::net {

DenseImpl::DenseImpl(int64_t in, int64_t out, bool with_bias) {
  weight = register_parameter("weight", torch::zeros({out, in}));
  if (with_bias) bias = register_parameter("bias", torch::zeros({out}));
}

DenseImpl::DenseImpl(torch::Tensor shared_weight) {
  weight = register_parameter("weight", std::move(shared_weight));
}

torch::Tensor DenseImpl::forward(const torch::Tensor& x) const {
  return torch::linear(x, weight, bias);
}

ZeroBiasLayerNormImpl::ZeroBiasLayerNormImpl(int64_t dim, double eps_) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({dim}));
  bias = register_buffer("bias", torch::zeros({dim}));
}

torch::Tensor ZeroBiasLayerNormImpl::forward(const torch::Tensor& x) const {
  return torch::layer_norm(x, {weight.size(0)}, weight, bias, eps);
}

torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const torch::Tensor& mask) {
  // [B, h, N, dh] each. The scale multiplies the product, as in the reference.
  const double scale = std::pow(static_cast<double>(q.size(-1)), -0.5);
  auto scores = torch::matmul(q, k.transpose(-2, -1)) * scale;
  if (mask.defined()) scores = scores.masked_fill(mask, -FLT_MAX);
  scores = scores.softmax(-1);
  auto out = torch::matmul(scores, v);  // [B, h, N, dh]
  return out.transpose(1, 2).flatten(2);
}

namespace {
// Key-padding [B, 1, M] -> [B, 1, 1, M]; full [B, N, M] -> [B, 1, N, M].
torch::Tensor broadcast_mask(const torch::Tensor& mask) {
  return mask.defined() ? mask.unsqueeze(1) : mask;
}
}  // namespace

SelfAttentionImpl::SelfAttentionImpl(const BlockOptions& o) : heads(o.heads) {
  qkv = register_module("qkv", Dense(o.dim, 3 * o.dim, o.qkv_bias));
  proj = register_module("proj", Dense(o.dim, o.dim, o.proj_bias));
}

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) const {
  const int64_t B = x.size(0), N = x.size(1), D = x.size(2);
  auto parts = qkv->forward(x).reshape({B, N, 3, heads, D / heads}).permute({2, 0, 3, 1, 4});
  return proj->forward(attend(parts[0], parts[1], parts[2], broadcast_mask(mask)));
}

torch::Tensor SelfAttentionImpl::forward_cached(const torch::Tensor& x, KeyValueCache& cache) const {
  const int64_t B = x.size(0), n = x.size(1), D = x.size(2);
  auto parts = qkv->forward(x).reshape({B, n, 3, heads, D / heads}).permute({2, 0, 3, 1, 4});
  cache.keys = cache.keys.defined() ? torch::cat({cache.keys, parts[1]}, 2) : parts[1];
  cache.values = cache.values.defined() ? torch::cat({cache.values, parts[2]}, 2) : parts[2];
  torch::Tensor mask;
  if (n > 1) {  // causal among the new positions; all cached ones are visible
    const int64_t L = cache.keys.size(2);
    mask = torch::ones({n, L}, torch::kBool).triu(L - n + 1).unsqueeze(0).unsqueeze(0);
  }
  return proj->forward(attend(parts[0], cache.keys, cache.values, mask));
}

CrossAttentionImpl::CrossAttentionImpl(const BlockOptions& o) : heads(o.heads) {
  q = register_module("q", Dense(o.dim, o.dim, o.qkv_bias));
  kv = register_module("kv", Dense(o.dim, 2 * o.dim, o.qkv_bias));
  proj = register_module("proj", Dense(o.dim, o.dim, o.proj_bias));
}

torch::Tensor CrossAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& context,
                                          const torch::Tensor& mask) const {
  const int64_t B = x.size(0), N = x.size(1), D = x.size(2), M = context.size(1);
  auto query = q->forward(x).reshape({B, N, heads, D / heads}).permute({0, 2, 1, 3});
  auto parts = kv->forward(context).reshape({B, M, 2, heads, D / heads}).permute({2, 0, 3, 1, 4});
  return proj->forward(attend(query, parts[0], parts[1], broadcast_mask(mask)));
}

KeyValueCache CrossAttentionImpl::project_context(const torch::Tensor& context) const {
  const int64_t B = context.size(0), M = context.size(1), D = context.size(2);
  auto parts = kv->forward(context).reshape({B, M, 2, heads, D / heads}).permute({2, 0, 3, 1, 4});
  return {parts[0], parts[1]};
}

torch::Tensor CrossAttentionImpl::forward_projected(const torch::Tensor& x,
                                                    const KeyValueCache& context,
                                                    const torch::Tensor& mask) const {
  const int64_t B = x.size(0), N = x.size(1), D = x.size(2);
  auto query = q->forward(x).reshape({B, N, heads, D / heads}).permute({0, 2, 1, 3});
  return proj->forward(attend(query, context.keys, context.values, broadcast_mask(mask)));
}

FeedForwardImpl::FeedForwardImpl(const BlockOptions& o) {
  fc1 = register_module("fc1", Dense(o.dim, o.mlp_hidden, o.mlp_bias));
  fc2 = register_module("fc2", Dense(o.mlp_hidden, o.dim, o.mlp_bias));
  if (o.gated_mlp) fc3 = register_module("fc3", Dense(o.dim, o.mlp_hidden, o.mlp_bias));
}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor& x) const {
  if (fc3) return fc2->forward(torch::silu(fc1->forward(x)) * fc3->forward(x));
  return fc2->forward(torch::gelu(fc1->forward(x)));  // exact erf GELU
}

EncoderBlockImpl::EncoderBlockImpl(const BlockOptions& o) {
  norm1 = register_module("norm1", ZeroBiasLayerNorm(o.dim, o.norm_eps));
  attn = register_module("attn", SelfAttention(o));
  norm2 = register_module("norm2", ZeroBiasLayerNorm(o.dim, o.norm_eps));
  mlp = register_module("mlp", FeedForward(o));
}

torch::Tensor EncoderBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) const {
  auto y = x + attn->forward(norm1->forward(x), mask);
  return y + mlp->forward(norm2->forward(y));
}

DecoderBlockImpl::DecoderBlockImpl(const BlockOptions& o) {
  norm1 = register_module("norm1", ZeroBiasLayerNorm(o.dim, o.norm_eps));
  self_attn = register_module("self_attn", SelfAttention(o));
  query_norm = register_module("query_norm", ZeroBiasLayerNorm(o.dim, o.norm_eps));
  context_norm = register_module("context_norm", ZeroBiasLayerNorm(o.dim, o.norm_eps));
  cross_attn = register_module("cross_attn", CrossAttention(o));
  norm2 = register_module("norm2", ZeroBiasLayerNorm(o.dim, o.norm_eps));
  mlp = register_module("mlp", FeedForward(o));
}

torch::Tensor DecoderBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& context,
                                        const torch::Tensor& self_mask,
                                        const torch::Tensor& cross_mask) const {
  auto y = x + self_attn->forward(norm1->forward(x), self_mask);
  y = y + cross_attn->forward(query_norm->forward(y), context_norm->forward(context), cross_mask);
  return y + mlp->forward(norm2->forward(y));
}

}  // namespace terramind::net

namespace terramind::net {

KeyValueCache DecoderBlockImpl::prepare_context(const torch::Tensor& context) const {
  return cross_attn->project_context(context_norm->forward(context));
}

torch::Tensor DecoderBlockImpl::step(const torch::Tensor& x, const KeyValueCache& context,
                                     KeyValueCache& cache, const torch::Tensor& cross_mask) const {
  auto y = x + self_attn->forward_cached(norm1->forward(x), cache);
  y = y + cross_attn->forward_projected(query_norm->forward(y), context, cross_mask);
  return y + mlp->forward(norm2->forward(y));
}

}  // namespace terramind::net
