// The TerraMind encoder-decoder network (the reference's inner `TerraMind`), built from a model
// card. Parameter names equal the official checkpoint keys.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "embeddings.h"
#include "layers.h"
#include "model_card.h"

namespace terramind::net {

class TerraMindImpl : public torch::nn::Module {
 public:
  explicit TerraMindImpl(ModelCard card);
  const ModelCard& card() const { return card_; }

  bool has_pixel_input(const std::string& key) const { return patch_.count(key) > 0; }
  bool has_token_input(const std::string& key) const { return token_.count(key) > 0; }
  bool has_target(const std::string& key) const { return target_.count(key) > 0; }
  bool has_sequence_input(const std::string& key) const { return sequence_.count(key) > 0; }
  bool has_sequence_target(const std::string& key) const { return sequence_target_.count(key) > 0; }

  Embedded embed_pixels(const std::string& key, const torch::Tensor& image) const;
  Embedded embed_tokens(const std::string& key, const torch::Tensor& ids, int64_t gh,
                        int64_t gw) const;
  Embedded embed_sequence(const std::string& key, const torch::Tensor& ids,
                          const torch::Tensor& input_mask = {}) const;

  // Encoder blocks over x + emb; every block's output, the last one after encoder_norm.
  std::vector<torch::Tensor> encode_layers(const torch::Tensor& tokens,
                                           const torch::Tensor& mask = {}) const;
  torch::Tensor encode(const torch::Tensor& tokens, const torch::Tensor& mask = {}) const;
  // decoder_proj_context(encoded) + emb: the decoder's cross-attention context.
  torch::Tensor context(const torch::Tensor& encoded, const torch::Tensor& emb) const;
  // Decoder output after decoder_norm for mask-token queries at `positions` ([n] spatial
  // indices, undefined = all gh*gw in spatial order) of image-token target `key`.
  torch::Tensor decode_image(const std::string& key, const torch::Tensor& context, int64_t gh,
                             int64_t gw, const torch::Tensor& positions = {},
                             const torch::Tensor& context_mask = {}) const;
  // mask_token + position + modality embedding of image-token target `key`: [1, gh*gw, D].
  torch::Tensor image_queries(const std::string& key, int64_t gh, int64_t gw) const;
  // Decoder blocks and decoder_norm over queries y [B, n, D]; masks in the attention
  // convention (true = blocked): self [B, n, n], cross [B, 1, M]; undefined = none.
  torch::Tensor decode_queries(const torch::Tensor& y, const torch::Tensor& context,
                               const torch::Tensor& self_mask,
                               const torch::Tensor& cross_mask) const;
  torch::Tensor logits(const std::string& key, const torch::Tensor& decoded) const;
  int64_t vocab_size(const std::string& key) const;

  // Autoregressive sequence decoding. The full form recomputes the prefix ids [B, l] with a
  // causal mask (as the reference); the incremental form keeps per-block key/value caches.
  const SequenceDecoderEmbeddingImpl& sequence_target(const std::string& key) const;
  torch::Tensor decode_sequence_full(const std::string& key, const torch::Tensor& context,
                                     const torch::Tensor& ids,
                                     const torch::Tensor& context_mask = {}) const;
  struct SequenceState {
    std::string key;
    std::vector<KeyValueCache> context, self;
    torch::Tensor context_mask;
    int64_t length = 0;
  };
  SequenceState start_sequence(const std::string& key, const torch::Tensor& context,
                               const torch::Tensor& context_mask = {}) const;
  // Decoder output [B, n, D] (after decoder_norm) for the next n ids [B, n].
  torch::Tensor step_sequence(SequenceState& state, const torch::Tensor& ids) const;

 private:
  ModelCard card_;
  std::map<std::string, PatchEmbedding> patch_;
  std::map<std::string, TokenEmbedding> token_;
  std::map<std::string, TokenDecoderEmbedding> target_;
  std::map<std::string, SequenceEmbedding> sequence_;
  std::map<std::string, SequenceDecoderEmbedding> sequence_target_;
  torch::nn::ModuleList encoder_{nullptr}, decoder_{nullptr};
  ZeroBiasLayerNorm encoder_norm_{nullptr}, decoder_norm_{nullptr};
  Dense decoder_proj_context_{nullptr};
  torch::Tensor mask_token_;
};
TORCH_MODULE(TerraMind);

}  // namespace terramind::net
