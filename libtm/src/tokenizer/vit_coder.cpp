#include "vit_coder.h"

#include "model/embeddings.h"

namespace terramind::net {

namespace {

BlockOptions block_options(const VitCoderConfig& c) {
  BlockOptions o;
  o.dim = c.dim;
  o.heads = c.heads;
  o.mlp_hidden = c.dim * c.mlp_ratio;
  o.norm_eps = c.norm_eps;
  return o;  // GELU MLP, every bias on
}

torch::nn::LayerNorm layer_norm(int64_t dim, double eps) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(eps));
}

// The reference's MoCo-v3 table in its stored layout [1, D, g, g] (loaded from checkpoints;
// computed here only so that an untrained tokenizer has the right values).
torch::Tensor initial_position_table(int64_t grid, int64_t dim) {
  return sincos_2d_table(grid, dim)
      .reshape({1, grid, grid, dim})
      .permute({0, 3, 1, 2})
      .contiguous();
}

}  // namespace

TokenizerBlockImpl::TokenizerBlockImpl(const BlockOptions& o) {
  norm1 = register_module("norm1", layer_norm(o.dim, o.norm_eps));
  norm2 = register_module("norm2", layer_norm(o.dim, o.norm_eps));
  attn = register_module("attn", SelfAttention(o));
  mlp = register_module("mlp", FeedForward(o));
}

torch::Tensor TokenizerBlockImpl::forward(const torch::Tensor& x) {
  auto y = x + attn->forward(norm1->forward(x));
  return y + mlp->forward(norm2->forward(y));
}

TanhMlpImpl::TanhMlpImpl(int64_t dim, int64_t hidden) {
  fc1 = register_module("fc1", Dense(dim, hidden, /*bias=*/true));
  fc2 = register_module("fc2", Dense(hidden, dim, /*bias=*/true));
}

torch::Tensor TanhMlpImpl::forward(const torch::Tensor& x) {
  return fc2->forward(torch::tanh(fc1->forward(x)));
}

torch::Tensor grid_position_tokens(const torch::Tensor& pos_emb, int64_t gh, int64_t gw) {
  return resize_position_table(pos_emb.flatten(2).transpose(1, 2), gh, gw);
}

VitStackImpl::VitStackImpl(const VitCoderConfig& config) {
  const BlockOptions o = block_options(config);
  blocks = torch::nn::ModuleList();
  for (int64_t i = 0; i < config.depth; ++i) blocks->push_back(TokenizerBlock(o));
  register_module("blocks", blocks);
  norm_mlp = register_module("norm_mlp", layer_norm(config.dim, config.norm_eps));
  post_mlp = register_module("post_mlp", TanhMlp(config.dim, config.dim * config.mlp_ratio));
}

torch::Tensor VitStackImpl::forward(const torch::Tensor& tokens) {
  torch::Tensor x = tokens;
  for (const auto& block : *blocks) x = block->as<TokenizerBlock>()->forward(x);
  // The reference runs the post-MLP in float32 (autocast off); it is float32 here anyway.
  return x + post_mlp->forward(norm_mlp->forward(x));
}

VitEncoderImpl::VitEncoderImpl(int64_t in_channels, const VitCoderConfig& config, int64_t patch_,
                               int64_t image_size)
    : VitStackImpl(config), patch(patch_) {
  // Registration order of the reference: pos_emb, proj, blocks, norm_mlp, post_mlp.
  pos_emb = register_parameter("pos_emb", initial_position_table(image_size / patch, config.dim),
                               /*requires_grad=*/false);
  proj = register_module(
      "proj",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, config.dim, patch).stride(patch)));
}

torch::Tensor VitEncoderImpl::forward(const torch::Tensor& image) {
  const int64_t gh = image.size(2) / patch, gw = image.size(3) / patch;
  auto x = proj->forward(image).flatten(2).transpose(1, 2);  // b d nh nw -> b (nh nw) d
  x = VitStackImpl::forward(x + grid_position_tokens(pos_emb, gh, gw));
  return x.transpose(1, 2).reshape({x.size(0), x.size(2), gh, gw});
}

VitDecoderImpl::VitDecoderImpl(int64_t out_channels_, const VitCoderConfig& config, int64_t patch_,
                               int64_t image_size)
    : VitStackImpl(config), out_channels(out_channels_), patch(patch_) {
  pos_emb = register_parameter("pos_emb", initial_position_table(image_size / patch, config.dim),
                               /*requires_grad=*/false);
  out_proj = register_module("out_proj", Dense(config.dim, out_channels * patch * patch, true));
}

torch::Tensor VitDecoderImpl::forward(const torch::Tensor& features) {
  const int64_t B = features.size(0), gh = features.size(2), gw = features.size(3);
  auto x = features.flatten(2).transpose(1, 2);
  x = out_proj->forward(VitStackImpl::forward(x + grid_position_tokens(pos_emb, gh, gw)));
  // b (nh nw) (c ph pw) -> b c (nh ph) (nw pw)
  return x.reshape({B, gh, gw, out_channels, patch, patch})
      .permute({0, 3, 1, 4, 2, 5})
      .reshape({B, out_channels, gh * patch, gw * patch});
}

}  // namespace terramind::net
