#include "model_card.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/card_file.h"
#include "tm/model.h"
#include "tm/registry.h"

namespace terramind {

ModelCard ModelCard::from_json(const std::string& json_text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("model card: invalid JSON: ") + e.what());
  }
  ModelCard c;
  try {
    c.name = j.value("name", c.name);
    c.dim = j.at("dim").get<int64_t>();
    c.heads = j.at("num_heads").get<int64_t>();
    c.encoder_depth = j.at("encoder_depth").get<int64_t>();
    c.decoder_depth = j.value("decoder_depth", int64_t{0});
    c.mlp_ratio = j.value("mlp_ratio", c.mlp_ratio);
    c.gated_mlp = j.value("gated_mlp", c.gated_mlp);
    c.qkv_bias = j.value("qkv_bias", c.qkv_bias);
    c.proj_bias = j.value("proj_bias", c.proj_bias);
    c.mlp_bias = j.value("mlp_bias", c.mlp_bias);
    c.norm_eps = j.value("norm_eps", c.norm_eps);
    c.image_size = j.value("img_size", c.image_size);
    c.patch_size = j.value("patch_size", c.patch_size);
    c.stats_version = j.value("stats_version", c.stats_version);
    c.encoder_modalities = j.at("encoder_modalities").get<std::vector<std::string>>();
    c.decoder_modalities = j.value("decoder_modalities", std::vector<std::string>{});
    c.checkpoint_prefix = j.value("checkpoint_prefix", "");
    c.checkpoint = j.value("checkpoint", "");
    c.tokenizers = j.value("tokenizers", std::map<std::string, std::string>{});
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("model card: ") + e.what());
  }
  if (c.dim <= 0 || c.heads <= 0 || c.dim % c.heads != 0)
    throw std::invalid_argument("model card: dim must be a positive multiple of num_heads");
  if (c.encoder_depth <= 0) throw std::invalid_argument("model card: encoder_depth must be > 0");
  if (c.image_size % c.patch_size != 0)
    throw std::invalid_argument("model card: img_size must be a multiple of patch_size");
  const auto& registry = ModalityRegistry::instance();
  for (const auto& key : c.encoder_modalities)
    if (!registry.find_by_key(key))
      throw std::invalid_argument("model card: unknown encoder modality key '" + key + "'");
  for (const auto& key : c.decoder_modalities) {
    const Modality* m = registry.find_by_key(key);
    if (!m || m->output_key != key)
      throw std::invalid_argument("model card: '" + key + "' cannot be a decoder modality");
  }
  if (!c.decoder_modalities.empty() && c.decoder_depth <= 0)
    throw std::invalid_argument("model card: decoder modalities need decoder_depth > 0");
  return c;
}

ModelCard ModelCard::from_file(const std::string& path) {
  ModelCard card = read_card(path, "model card", &ModelCard::from_json);
  card.checkpoint = beside_card(path, card.checkpoint);
  for (auto& [modality, file] : card.tokenizers) file = beside_card(path, file);
  return card;
}

std::string ModelCard::to_json() const {
  nlohmann::json j = {{"name", name},
                      {"dim", dim},
                      {"num_heads", heads},
                      {"encoder_depth", encoder_depth},
                      {"decoder_depth", decoder_depth},
                      {"mlp_ratio", mlp_ratio},
                      {"gated_mlp", gated_mlp},
                      {"qkv_bias", qkv_bias},
                      {"proj_bias", proj_bias},
                      {"mlp_bias", mlp_bias},
                      {"norm_eps", norm_eps},
                      {"img_size", image_size},
                      {"patch_size", patch_size},
                      {"stats_version", stats_version},
                      {"encoder_modalities", encoder_modalities},
                      {"decoder_modalities", decoder_modalities},
                      {"checkpoint_prefix", checkpoint_prefix}};
  if (!checkpoint.empty()) j["checkpoint"] = checkpoint;
  if (!tokenizers.empty()) j["tokenizers"] = tokenizers;
  return j.dump(2);
}

}  // namespace terramind

namespace terramind {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

// Largest block index + 1 among keys "<stack>.<i>.".
int64_t depth_of(const TensorMap& checkpoint, const std::string& stack, const std::string& prefix) {
  int64_t depth = 0;
  for (const auto& [name, tensor] : checkpoint) {
    if (!starts_with(name, prefix + stack + ".")) continue;
    const std::string rest = name.substr(prefix.size() + stack.size() + 1);
    const auto dot = rest.find('.');
    try {
      depth = std::max<int64_t>(depth, std::stoll(rest.substr(0, dot)) + 1);
    } catch (const std::exception&) {
    }
  }
  return depth;
}

std::vector<std::string> embedding_keys(const TensorMap& checkpoint, const std::string& group) {
  std::vector<std::string> keys;
  for (const auto& [name, tensor] : checkpoint) {
    if (!starts_with(name, group + ".")) continue;
    const std::string rest = name.substr(group.size() + 1);
    // Keys contain '@' and one '.' before the parameter path: "<key>.<param...>".
    const auto dot = rest.find('.');
    const std::string key = rest.substr(0, dot);
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  }
  return keys;
}

}  // namespace

ModelCard infer_model_card(const TensorMap& checkpoint, int64_t head_dim) {
  // Official files are the inner model; generation wrappers add "sampler.model.".
  std::string prefix;
  if (checkpoint.contains("sampler.model.encoder_norm.weight"))
    prefix = "sampler.model.";
  else if (checkpoint.contains("model.encoder_norm.weight"))
    prefix = "model.";
  const at::Tensor* norm = checkpoint.find(prefix + "encoder_norm.weight");
  if (!norm) throw CheckpointError("not a TerraMind checkpoint: no encoder_norm.weight");
  ModelCard card;
  card.name = "inferred";
  card.checkpoint_prefix = prefix;
  card.dim = norm->size(0);
  if (card.dim % head_dim != 0)
    throw CheckpointError("width " + std::to_string(card.dim) +
                          " is not a multiple of the head width " + std::to_string(head_dim));
  card.heads = card.dim / head_dim;
  card.encoder_depth = depth_of(checkpoint, "encoder", prefix);
  card.decoder_depth = depth_of(checkpoint, "decoder", prefix);
  card.gated_mlp = checkpoint.contains(prefix + "encoder.0.mlp.fc3.weight");
  card.qkv_bias = checkpoint.contains(prefix + "encoder.0.attn.qkv.bias");
  card.proj_bias = checkpoint.contains(prefix + "encoder.0.attn.proj.bias");
  card.mlp_bias = checkpoint.contains(prefix + "encoder.0.mlp.fc1.bias");
  if (const at::Tensor* fc1 = checkpoint.find(prefix + "encoder.0.mlp.fc1.weight")) {
    const int64_t hidden = fc1->size(0);
    card.mlp_ratio =
        card.gated_mlp ? (hidden * 3 + 2 * card.dim - 1) / (2 * card.dim) : hidden / card.dim;
  }
  const auto& registry = ModalityRegistry::instance();
  for (const auto& key : embedding_keys(checkpoint, prefix + "encoder_embeddings")) {
    const Modality* m = registry.find_by_key(key);
    if (m) card.encoder_modalities.push_back(key);
    if (const at::Tensor* pos =
            checkpoint.find(prefix + "encoder_embeddings." + key + ".pos_emb")) {
      const auto side = static_cast<int64_t>(std::lround(std::sqrt(double(pos->size(1)))));
      if (m && m->kind != ModalityKind::kSequence) card.image_size = side * card.patch_size;
    }
  }
  if (card.decoder_depth > 0)
    for (const auto& key : embedding_keys(checkpoint, prefix + "decoder_embeddings")) {
      const Modality* m = registry.find_by_key(key);
      if (m && m->output_key == key) card.decoder_modalities.push_back(key);
    }
  if (card.encoder_modalities.empty())
    throw CheckpointError("not a TerraMind checkpoint: no image encoder embeddings");
  return card;
}

}  // namespace terramind
