// Per-modality embeddings of TerraMind (spec: terramind-model.md section 4). Each produces the
// content `x` and `emb` = position + modality embedding; the transformer input is x + emb.
#pragma once

#include <torch/torch.h>

#include "layers.h"

namespace terramind::net {

// 2-D sin-cos table [1, g*g, D]: row sin, row cos, column sin, column cos (D/4 each), computed
// in float32 in the reference's operation order.
torch::Tensor sincos_2d_table(int64_t grid, int64_t dim);
// 1-D sin-cos table [1, n, D]: sin then cos (D/2 each), float32, for sequence positions.
torch::Tensor sincos_1d_table(int64_t positions, int64_t dim);
// Bicubic resize (align_corners=false) of a square [1, N, D] table to a gh x gw grid.
torch::Tensor resize_position_table(const torch::Tensor& table, int64_t gh, int64_t gw);

struct Embedded {
  torch::Tensor x;    // [B, N, D]
  torch::Tensor emb;  // [1, N, D], broadcast over the batch
};

// Token lookup table, parameter "weight" [V, D] as in torch.nn.Embedding.
class LookupImpl : public torch::nn::Module {
 public:
  LookupImpl(int64_t vocab, int64_t dim);
  torch::Tensor forward(const torch::Tensor& ids) const;
  torch::Tensor weight;
};
TORCH_MODULE(Lookup);

// Raw pixels: 16x16 patches flattened (py, px, channel), channel fastest; Linear without bias.
class PatchEmbeddingImpl : public torch::nn::Module {
 public:
  PatchEmbeddingImpl(int64_t channels, int64_t dim, int64_t patch, int64_t image_size);
  Embedded forward(const torch::Tensor& image) const;  // [B, C, H, W]
  torch::Tensor position(int64_t gh, int64_t gw) const;
  int64_t channels, patch;
  Dense proj{nullptr};
  torch::Tensor pos_emb, mod_emb;
};
TORCH_MODULE(PatchEmbedding);

// Image tokens as encoder input: token_emb[id] + pos + mod.
class TokenEmbeddingImpl : public torch::nn::Module {
 public:
  TokenEmbeddingImpl(int64_t vocab, int64_t dim, int64_t patch, int64_t image_size);
  Embedded forward(const torch::Tensor& ids, int64_t gh, int64_t gw) const;  // ids [B, N]
  int64_t vocab;
  Lookup token_emb{nullptr};
  torch::Tensor pos_emb, mod_emb;
};
TORCH_MODULE(TokenEmbedding);

// Image tokens as decoder target: positions for the queries and the tied logits head.
class TokenDecoderEmbeddingImpl : public torch::nn::Module {
 public:
  // `shared_mod_emb` defined: reuse the encoder's modality embedding (one parameter).
  TokenDecoderEmbeddingImpl(int64_t vocab, int64_t dim, int64_t patch, int64_t image_size,
                            torch::Tensor shared_mod_emb);
  torch::Tensor embedding(int64_t gh, int64_t gw) const;  // pos + mod, [1, N, D]
  torch::Tensor logits(const torch::Tensor& y) const { return to_logits->forward(y); }
  int64_t vocab;
  Lookup token_emb{nullptr};
  Dense to_logits{nullptr};
  torch::Tensor pos_emb, mod_emb;
};
TORCH_MODULE(TokenDecoderEmbedding);

// Text tokens (coordinates, captions) as encoder input: token_emb[id] + pos[pid] + mod, where
// pid counts the valid positions and masked positions get no position (spec section 4.5).
class SequenceEmbeddingImpl : public torch::nn::Module {
 public:
  SequenceEmbeddingImpl(int64_t vocab, int64_t dim);
  // ids [B, L]; input_mask [B, L] bool, true = not an input (undefined: all valid).
  Embedded forward(const torch::Tensor& ids, const torch::Tensor& input_mask = {}) const;
  Lookup token_emb{nullptr};
  torch::Tensor pos_emb, mod_emb;  // pos_emb [1, 512, D], as the reference stores it
};
TORCH_MODULE(SequenceEmbedding);

// Text tokens as decoder target: position embeddings for the generated positions and the tied
// logits head.
class SequenceDecoderEmbeddingImpl : public torch::nn::Module {
 public:
  SequenceDecoderEmbeddingImpl(int64_t vocab, int64_t dim, int64_t max_length,
                               torch::Tensor shared_mod_emb);
  // pos + mod for generated positions 0 .. n-1 (positions >= max_length use 0), [1, n, D].
  torch::Tensor embedding(int64_t n) const;
  torch::Tensor embed_ids(const torch::Tensor& ids) const { return token_emb->forward(ids); }
  torch::Tensor logits(const torch::Tensor& y) const { return to_logits->forward(y); }
  int64_t vocab, max_length;
  Lookup token_emb{nullptr};
  Dense to_logits{nullptr};
  torch::Tensor pos_emb, mod_emb;
};
TORCH_MODULE(SequenceDecoderEmbedding);

}  // namespace terramind::net
