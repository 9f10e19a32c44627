#include "model_card.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/card_file.h"
#include "tm/ascii_strings.h"
#include "tm/model.h"
#include "tm/registry.h"

namespace terramind {

namespace {

constexpr int64_t kMaxDim = kCardMaxDim, kMaxDepth = kCardMaxDepth, kMaxMlpRatio = kCardMaxMlpRatio,
                  kMaxImageSize = kCardMaxImageSize;

const std::vector<std::string> kModelCardKeys = {"name",
                                                 "about",
                                                 "source",
                                                 "dim",
                                                 "num_heads",
                                                 "encoder_depth",
                                                 "decoder_depth",
                                                 "mlp_ratio",
                                                 "gated_mlp",
                                                 "qkv_bias",
                                                 "proj_bias",
                                                 "mlp_bias",
                                                 "norm_eps",
                                                 "img_size",
                                                 "patch_size",
                                                 "stats_version",
                                                 "encoder_modalities",
                                                 "decoder_modalities",
                                                 "checkpoint_prefix",
                                                 "checkpoint",
                                                 "url",
                                                 "sha256",
                                                 "size",
                                                 "tokenizers"};

void require(bool condition, const std::string& what) {
  require_card(condition, "model card", what);
}

void require_unique(const std::vector<std::string>& keys, const std::string& field) {
  for (std::size_t i = 0; i < keys.size(); ++i)
    require(std::find(keys.begin(), keys.begin() + i, keys[i]) == keys.begin() + i,
            "'" + field + "' lists '" + keys[i] + "' twice");
}

// Integer fields of cards built in code or inferred, checked as from_json checks the JSON.
void require_in(int64_t value, int64_t min, int64_t max, const std::string& key) {
  require_card_in(value, min, max, "model card", key);
}

// Everything a card must satisfy, whether read from JSON or inferred from a checkpoint.
void check_card(const ModelCard& c) {
  require_in(c.dim, 4, kMaxDim, "dim");
  require(c.heads > 0 && c.dim % c.heads == 0,
          "dim must be a positive multiple of num_heads (dim " + std::to_string(c.dim) +
              ", num_heads " + std::to_string(c.heads) + ")");
  require(c.dim % 4 == 0, "'dim' must be a multiple of 4 (2-D sin-cos position tables), got " +
                              std::to_string(c.dim));
  require_in(c.encoder_depth, 1, kMaxDepth, "encoder_depth");
  require_in(c.decoder_depth, 0, kMaxDepth, "decoder_depth");
  require_in(c.mlp_ratio, 1, kMaxMlpRatio, "mlp_ratio");
  require(c.norm_eps > 0 && c.norm_eps < 1, "'norm_eps' must be a number in (0, 1)");
  require_in(c.image_size, 1, kMaxImageSize, "img_size");
  require_in(c.patch_size, 1, c.image_size, "patch_size");
  require(c.image_size % c.patch_size == 0, "img_size must be a multiple of patch_size (img_size " +
                                                std::to_string(c.image_size) + ", patch_size " +
                                                std::to_string(c.patch_size) + ")");
  try {
    stats_version_from_string(c.stats_version);
  } catch (const std::exception& e) {
    require(false, "'stats_version': " + std::string(e.what()));
  }
  const auto& registry = ModalityRegistry::instance();
  require(!c.encoder_modalities.empty(), "'encoder_modalities' must not be empty");
  require_unique(c.encoder_modalities, "encoder_modalities");
  require_unique(c.decoder_modalities, "decoder_modalities");
  for (const auto& key : c.encoder_modalities)
    require(registry.find_by_key(key) != nullptr, "unknown encoder modality key '" + key + "'");
  for (const auto& key : c.decoder_modalities) {
    const Modality* m = registry.find_by_key(key);
    require(m && m->output_key == key, "'" + key + "' cannot be a decoder modality");
  }
  require(c.decoder_modalities.empty() || c.decoder_depth > 0,
          "decoder modalities need decoder_depth > 0");
  for (const auto& [slot, file] : c.tokenizers) {
    const Modality* m = registry.find(slot);
    require(m != nullptr, "'tokenizers' names unknown modality '" + slot + "'");
    require(m->name == slot,
            "'tokenizers' must use registry names: write '" + m->name + "', not '" + slot + "'");
    require(m->is_image() && m->can_generate(), "'tokenizers': " + slot +
                                                    " has no image tokenizer (it is never "
                                                    "generated)");
    require(!file.empty(), "'tokenizers': the file for " + slot + " is empty");
  }
}

}  // namespace

ModelCard ModelCard::from_json(const std::string& json_text) {
  const nlohmann::json j = parse_card_json(json_text, "model card");
  const CardFields f(j, "model card");
  f.only(kModelCardKeys);
  ModelCard c;
  c.name = f.text("name", c.name);
  c.dim = f.integer("dim", 4, kMaxDim);
  c.heads = f.integer("num_heads", 1, c.dim);
  c.encoder_depth = f.integer("encoder_depth", 1, kMaxDepth);
  c.decoder_depth = f.integer("decoder_depth", 0, kMaxDepth, 0);
  c.mlp_ratio = f.integer("mlp_ratio", 1, kMaxMlpRatio, c.mlp_ratio);
  c.gated_mlp = f.boolean("gated_mlp", c.gated_mlp);
  c.qkv_bias = f.boolean("qkv_bias", c.qkv_bias);
  c.proj_bias = f.boolean("proj_bias", c.proj_bias);
  c.mlp_bias = f.boolean("mlp_bias", c.mlp_bias);
  c.norm_eps = f.number_between("norm_eps", 0.0, 1.0, c.norm_eps);
  c.image_size = f.integer("img_size", 1, kMaxImageSize, c.image_size);
  c.patch_size = f.integer("patch_size", 1, c.image_size, c.patch_size);
  c.stats_version = f.text("stats_version", c.stats_version);
  c.encoder_modalities = f.texts("encoder_modalities");
  c.decoder_modalities = f.texts("decoder_modalities", {});
  c.checkpoint_prefix = f.text("checkpoint_prefix", "");
  c.checkpoint = f.text("checkpoint", "");
  check_download_fields(f);  // where the checkpoint is downloaded from (tm/model_cache.h)
  c.tokenizers = f.text_map("tokenizers");
  check_card(c);
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

// Largest block index + 1 among keys "<stack>.<i>.".
int64_t depth_of(const TensorMap& checkpoint, const std::string& stack, const std::string& prefix) {
  int64_t depth = 0;
  for (const auto& [name, tensor] : checkpoint) {
    if (!starts_with(name, prefix + stack + ".")) continue;
    const std::string rest = name.substr(prefix.size() + stack.size() + 1);
    const auto dot = rest.find('.');
    try {
      // Capped: an index beyond any valid depth must not overflow the + 1 (check_card refuses it).
      depth = std::max<int64_t>(
          depth, std::min<long long>(std::stoll(rest.substr(0, dot)), kMaxDepth) + 1);
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
  if (card.dim <= 0) throw CheckpointError("encoder_norm.weight is empty: width 0");
  if (head_dim <= 0)
    throw std::invalid_argument("the head width must be positive, got " + std::to_string(head_dim));
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
    // Capped so the ratio arithmetic cannot overflow (check_card refuses the ratio it gives).
    const int64_t hidden = std::min<int64_t>(fc1->size(0), kMaxDim * kMaxMlpRatio * 2);
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
  try {
    check_card(card);
  } catch (const std::invalid_argument& e) {
    throw CheckpointError(std::string("the checkpoint's inferred card is invalid: ") + e.what());
  }
  return card;
}

}  // namespace terramind
