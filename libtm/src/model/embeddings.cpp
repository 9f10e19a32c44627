#include "embeddings.h"

#include <stdexcept>
#include <string>

namespace terramind::net {

torch::Tensor sincos_2d_table(int64_t grid, int64_t dim) {
  const int64_t quarter = dim / 4;
  auto omega = torch::arange(quarter, torch::kFloat32) / static_cast<double>(quarter);
  omega = 1.0 / torch::pow(10000.0, omega);
  const auto pos = torch::arange(grid, torch::kFloat32);
  const auto angles = torch::outer(pos, omega);  // [g, D/4]
  auto rows = torch::cat({angles.sin(), angles.cos()}, 1);  // depends on the patch row
  auto cols = rows.clone();                                 // same values, by column
  rows = rows.unsqueeze(1).expand({grid, grid, 2 * quarter});
  cols = cols.unsqueeze(0).expand({grid, grid, 2 * quarter});
  return torch::cat({rows, cols}, 2).reshape({1, grid * grid, 4 * quarter});
}

torch::Tensor sincos_1d_table(int64_t positions, int64_t dim) {
  const int64_t half = dim / 2;
  auto omega = torch::arange(half, torch::kFloat32) / static_cast<double>(half);
  omega = 1.0 / torch::pow(10000.0, omega);
  const auto angles = torch::outer(torch::arange(positions, torch::kFloat32), omega);
  return torch::cat({angles.sin(), angles.cos()}, 1).unsqueeze(0);
}

torch::Tensor resize_position_table(const torch::Tensor& table, int64_t gh, int64_t gw) {
  const int64_t n = table.size(1), dim = table.size(2);
  const auto side = static_cast<int64_t>(std::sqrt(static_cast<double>(n)));
  if (side * side == n && side == gh && side == gw) return table;
  auto grid = table.reshape({1, side, side, dim}).permute({0, 3, 1, 2});
  grid = torch::upsample_bicubic2d(grid, {gh, gw}, /*align_corners=*/false);
  return grid.permute({0, 2, 3, 1}).reshape({1, gh * gw, dim});
}

LookupImpl::LookupImpl(int64_t vocab, int64_t dim) {
  weight = register_parameter("weight", torch::zeros({vocab, dim}));
}

torch::Tensor LookupImpl::forward(const torch::Tensor& ids) const {
  return torch::embedding(weight, ids.to(torch::kLong));
}

namespace {
void check_grid(int64_t h, int64_t w, int64_t patch, const char* what) {
  if (h % patch != 0 || w % patch != 0 || h == 0 || w == 0)
    throw std::invalid_argument(std::string(what) + ": image size " + std::to_string(h) + "x" +
                                std::to_string(w) + " is not a multiple of " +
                                std::to_string(patch));
}
}  // namespace

PatchEmbeddingImpl::PatchEmbeddingImpl(int64_t channels_, int64_t dim, int64_t patch_,
                                       int64_t image_size)
    : channels(channels_), patch(patch_) {
  proj = register_module("proj", Dense(patch * patch * channels, dim, /*bias=*/false));
  pos_emb = register_buffer("pos_emb", sincos_2d_table(image_size / patch, dim));
  mod_emb = register_parameter("mod_emb", torch::zeros({1, 1, dim}));
}

torch::Tensor PatchEmbeddingImpl::position(int64_t gh, int64_t gw) const {
  return resize_position_table(pos_emb, gh, gw) + mod_emb;
}

Embedded PatchEmbeddingImpl::forward(const torch::Tensor& image) const {
  if (image.dim() != 4 || image.size(1) != channels)
    throw std::invalid_argument("patch embedding expects [B, " + std::to_string(channels) +
                                ", H, W], got " + c10::str(image.sizes()));
  const int64_t B = image.size(0), H = image.size(2), W = image.size(3);
  check_grid(H, W, patch, "patch embedding");
  const int64_t gh = H / patch, gw = W / patch;
  // b c (gh p) (gw p) -> b (gh gw) (p p c)
  auto patches = image.reshape({B, channels, gh, patch, gw, patch})
                     .permute({0, 2, 4, 3, 5, 1})
                     .reshape({B, gh * gw, patch * patch * channels});
  return {proj->forward(patches), position(gh, gw)};
}

TokenEmbeddingImpl::TokenEmbeddingImpl(int64_t vocab_, int64_t dim, int64_t patch,
                                       int64_t image_size)
    : vocab(vocab_) {
  token_emb = register_module("token_emb", Lookup(vocab, dim));
  pos_emb = register_buffer("pos_emb", sincos_2d_table(image_size / patch, dim));
  mod_emb = register_parameter("mod_emb", torch::zeros({1, 1, dim}));
}

Embedded TokenEmbeddingImpl::forward(const torch::Tensor& ids, int64_t gh, int64_t gw) const {
  const auto flat = ids.reshape({ids.size(0), -1});
  if (flat.size(1) != gh * gw)
    throw std::invalid_argument("token embedding: " + std::to_string(flat.size(1)) +
                                " tokens for a " + std::to_string(gh) + "x" + std::to_string(gw) +
                                " grid");
  if (flat.numel() > 0 && (flat.min().item<int64_t>() < 0 || flat.max().item<int64_t>() >= vocab))
    throw std::invalid_argument("token ids outside the vocabulary [0, " + std::to_string(vocab) +
                                ")");
  return {token_emb->forward(flat), resize_position_table(pos_emb, gh, gw) + mod_emb};
}

TokenDecoderEmbeddingImpl::TokenDecoderEmbeddingImpl(int64_t vocab_, int64_t dim, int64_t patch,
                                                     int64_t image_size,
                                                     torch::Tensor shared_mod_emb)
    : vocab(vocab_) {
  token_emb = register_module("token_emb", Lookup(vocab, dim));
  to_logits = register_module("to_logits", Dense(token_emb->weight));  // tied
  pos_emb = register_buffer("pos_emb", sincos_2d_table(image_size / patch, dim));
  mod_emb = register_parameter(
      "mod_emb", shared_mod_emb.defined() ? shared_mod_emb : torch::zeros({1, 1, dim}));
}

torch::Tensor TokenDecoderEmbeddingImpl::embedding(int64_t gh, int64_t gw) const {
  return resize_position_table(pos_emb, gh, gw) + mod_emb;
}

SequenceEmbeddingImpl::SequenceEmbeddingImpl(int64_t vocab, int64_t dim) {
  token_emb = register_module("token_emb", Lookup(vocab, dim));
  pos_emb = register_buffer("pos_emb", sincos_1d_table(512, dim));
  mod_emb = register_parameter("mod_emb", torch::zeros({1, 1, dim}));
}

Embedded SequenceEmbeddingImpl::forward(const torch::Tensor& ids, const torch::Tensor& input_mask) const {
  const auto valid = input_mask.defined() ? input_mask.logical_not()
                                          : torch::ones(ids.sizes(), torch::kBool);
  auto pid = valid.to(torch::kLong).cumsum(1) - 1;
  pid = pid.clamp_min(0).masked_fill(valid.logical_not(), 0);
  const int64_t B = ids.size(0), L = ids.size(1), D = pos_emb.size(2);
  auto emb = pos_emb.expand({B, pos_emb.size(1), D}).gather(1, pid.unsqueeze(-1).expand({B, L, D}));
  emb = emb.masked_fill(valid.logical_not().unsqueeze(-1), 0.0) + mod_emb;
  return {token_emb->forward(ids), emb};
}

SequenceDecoderEmbeddingImpl::SequenceDecoderEmbeddingImpl(int64_t vocab_, int64_t dim,
                                                           int64_t max_length_,
                                                           torch::Tensor shared_mod_emb)
    : vocab(vocab_), max_length(max_length_) {
  token_emb = register_module("token_emb", Lookup(vocab, dim));
  to_logits = register_module("to_logits", Dense(token_emb->weight));  // tied
  pos_emb = register_buffer("pos_emb", sincos_1d_table(512, dim));
  mod_emb = register_parameter(
      "mod_emb", shared_mod_emb.defined() ? shared_mod_emb : torch::zeros({1, 1, dim}));
}

torch::Tensor SequenceDecoderEmbeddingImpl::embedding(int64_t n) const {
  auto pid = torch::arange(n, torch::kLong);
  pid = pid.masked_fill(pid >= max_length, 0);
  return pos_emb.index_select(1, pid) + mod_emb;
}

}  // namespace terramind::net
