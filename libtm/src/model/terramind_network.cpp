#include "terramind_network.h"

#include <stdexcept>

#include "tm/registry.h"

namespace terramind::net {
namespace {

BlockOptions block_options(const ModelCard& c) {
  BlockOptions o;
  o.dim = c.dim;
  o.heads = c.heads;
  o.mlp_hidden = c.mlp_hidden();
  o.gated_mlp = c.gated_mlp;
  o.qkv_bias = c.qkv_bias;
  o.proj_bias = c.proj_bias;
  o.mlp_bias = c.mlp_bias;
  o.norm_eps = c.norm_eps;
  return o;
}

template <typename Map>
const typename Map::mapped_type& lookup(const Map& map, const std::string& key, const char* what) {
  const auto it = map.find(key);
  if (it == map.end())
    throw std::invalid_argument(std::string("the model has no ") + what + " for '" + key + "'");
  return it->second;
}

}  // namespace

TerraMindImpl::TerraMindImpl(ModelCard card) : card_(std::move(card)) {
  const auto& registry = ModalityRegistry::instance();
  const int64_t D = card_.dim, P = card_.patch_size, S = card_.image_size;
  auto encoder_embeddings = register_module("encoder_embeddings", std::make_shared<Module>());
  for (const auto& key : card_.encoder_modalities) {
    const Modality& m = *registry.find_by_key(key);
    if (registry.is_pixel_input_key(key)) {
      patch_.emplace(
          key, encoder_embeddings->register_module(key, PatchEmbedding(m.channels(), D, P, S)));
    } else if (m.kind != ModalityKind::kSequence) {
      token_.emplace(
          key, encoder_embeddings->register_module(key, TokenEmbedding(m.vocab_size, D, P, S)));
    } else {
      sequence_.emplace(
          key, encoder_embeddings->register_module(key, SequenceEmbedding(m.vocab_size, D)));
    }
  }
  const BlockOptions o = block_options(card_);
  encoder_ = register_module("encoder", torch::nn::ModuleList());
  for (int64_t i = 0; i < card_.encoder_depth; ++i) encoder_->push_back(EncoderBlock(o));
  encoder_norm_ = register_module("encoder_norm", ZeroBiasLayerNorm(D, card_.norm_eps));
  if (card_.decoder_modalities.empty()) return;

  auto decoder_embeddings = register_module("decoder_embeddings", std::make_shared<Module>());
  for (const auto& key : card_.decoder_modalities) {
    const Modality& m = *registry.find_by_key(key);
    // One modality embedding for both sides when the key is also an input (reference default).
    if (m.kind == ModalityKind::kSequence) {
      torch::Tensor shared = sequence_.count(key) ? sequence_.at(key)->mod_emb : torch::Tensor();
      sequence_target_.emplace(
          key, decoder_embeddings->register_module(
                   key, SequenceDecoderEmbedding(m.vocab_size, D, m.max_length, shared)));
      continue;
    }
    torch::Tensor shared = token_.count(key) ? token_.at(key)->mod_emb : torch::Tensor();
    target_.emplace(key, decoder_embeddings->register_module(
                             key, TokenDecoderEmbedding(m.vocab_size, D, P, S, shared)));
  }
  mask_token_ = register_parameter("mask_token", torch::zeros({1, 1, D}));
  decoder_proj_context_ = register_module("decoder_proj_context", Dense(D, D, /*bias=*/true));
  decoder_ = register_module("decoder", torch::nn::ModuleList());
  for (int64_t i = 0; i < card_.decoder_depth; ++i) decoder_->push_back(DecoderBlock(o));
  decoder_norm_ = register_module("decoder_norm", ZeroBiasLayerNorm(D, card_.norm_eps));
}

Embedded TerraMindImpl::embed_pixels(const std::string& key, const torch::Tensor& image) const {
  return lookup(patch_, key, "pixel input")->forward(image);
}

Embedded TerraMindImpl::embed_tokens(const std::string& key, const torch::Tensor& ids, int64_t gh,
                                     int64_t gw) const {
  return lookup(token_, key, "token input")->forward(ids, gh, gw);
}

Embedded TerraMindImpl::embed_sequence(const std::string& key, const torch::Tensor& ids,
                                       const torch::Tensor& input_mask) const {
  const auto& embedding = lookup(sequence_, key, "sequence input");
  if (ids.numel() > 0 && (ids.min().item<int64_t>() < 0 ||
                          ids.max().item<int64_t>() >= embedding->token_emb->weight.size(0)))
    throw std::invalid_argument("token ids of '" + key + "' outside the vocabulary");
  return embedding->forward(ids.to(torch::kLong), input_mask);
}

std::vector<torch::Tensor> TerraMindImpl::encode_layers(const torch::Tensor& tokens,
                                                        const torch::Tensor& mask) const {
  std::vector<torch::Tensor> outputs;
  torch::Tensor x = tokens;
  for (const auto& block : *encoder_) {
    x = block->as<EncoderBlockImpl>()->forward(x, mask);
    outputs.push_back(x);
  }
  outputs.back() = encoder_norm_->forward(outputs.back());
  return outputs;
}

torch::Tensor TerraMindImpl::encode(const torch::Tensor& tokens, const torch::Tensor& mask) const {
  return encode_layers(tokens, mask).back();
}

torch::Tensor TerraMindImpl::context(const torch::Tensor& encoded, const torch::Tensor& emb) const {
  if (!decoder_proj_context_) throw std::logic_error("this model has no decoder");
  return decoder_proj_context_->forward(encoded) + emb;
}

torch::Tensor TerraMindImpl::image_queries(const std::string& key, int64_t gh, int64_t gw) const {
  return mask_token_ + lookup(target_, key, "output")->embedding(gh, gw);
}

torch::Tensor TerraMindImpl::decode_queries(const torch::Tensor& y0, const torch::Tensor& context,
                                            const torch::Tensor& self_mask,
                                            const torch::Tensor& cross_mask) const {
  torch::Tensor y = y0;
  for (const auto& block : *decoder_)
    y = block->as<DecoderBlockImpl>()->forward(y, context, self_mask, cross_mask);
  return decoder_norm_->forward(y);
}

torch::Tensor TerraMindImpl::decode_image(const std::string& key, const torch::Tensor& context,
                                          int64_t gh, int64_t gw, const torch::Tensor& positions,
                                          const torch::Tensor& context_mask) const {
  torch::Tensor queries = image_queries(key, gh, gw);  // [1, N, D]
  if (positions.defined()) queries = queries.index_select(1, positions);
  const torch::Tensor y = queries.expand({context.size(0), queries.size(1), card_.dim});
  const torch::Tensor cross_mask =
      context_mask.defined() ? context_mask.unsqueeze(1) : context_mask;
  return decode_queries(y, context, {}, cross_mask);
}

torch::Tensor TerraMindImpl::logits(const std::string& key, const torch::Tensor& decoded) const {
  if (sequence_target_.count(key)) return sequence_target_.at(key)->logits(decoded);
  return lookup(target_, key, "output")->logits(decoded);
}

int64_t TerraMindImpl::vocab_size(const std::string& key) const {
  if (sequence_target_.count(key)) return sequence_target_.at(key)->vocab;
  return lookup(target_, key, "output")->vocab;
}

}  // namespace terramind::net

namespace terramind::net {

const SequenceDecoderEmbeddingImpl& TerraMindImpl::sequence_target(const std::string& key) const {
  return *lookup(sequence_target_, key, "sequence output");
}

torch::Tensor TerraMindImpl::decode_sequence_full(const std::string& key,
                                                  const torch::Tensor& context,
                                                  const torch::Tensor& ids,
                                                  const torch::Tensor& context_mask) const {
  const auto& target = sequence_target(key);
  const int64_t l = ids.size(1);
  auto y = target.embed_ids(ids) + target.embedding(l);
  const auto causal =
      torch::ones({l, l}, torch::kBool).triu(1).unsqueeze(0).expand({ids.size(0), l, l});
  const torch::Tensor cross_mask =
      context_mask.defined() ? context_mask.unsqueeze(1) : context_mask;
  for (const auto& block : *decoder_)
    y = block->as<DecoderBlockImpl>()->forward(y, context, causal, cross_mask);
  return decoder_norm_->forward(y);
}

TerraMindImpl::SequenceState TerraMindImpl::start_sequence(
    const std::string& key, const torch::Tensor& context, const torch::Tensor& context_mask) const {
  (void)sequence_target(key);  // validates the key
  SequenceState state;
  state.key = key;
  state.context_mask = context_mask.defined() ? context_mask.unsqueeze(1) : context_mask;
  for (const auto& block : *decoder_) {
    state.context.push_back(block->as<DecoderBlockImpl>()->prepare_context(context));
    state.self.emplace_back();
  }
  return state;
}

torch::Tensor TerraMindImpl::step_sequence(SequenceState& state, const torch::Tensor& ids) const {
  const auto& target = sequence_target(state.key);
  const int64_t n = ids.size(1);
  const auto positions = target.embedding(state.length + n).narrow(1, state.length, n);
  auto y = target.embed_ids(ids) + positions;
  std::size_t i = 0;
  for (const auto& block : *decoder_) {
    y = block->as<DecoderBlockImpl>()->step(y, state.context[i], state.self[i], state.context_mask);
    ++i;
  }
  state.length += n;
  return decoder_norm_->forward(y);
}

}  // namespace terramind::net
