// TokenizerCard <-> JSON. Field names follow the reference constructor arguments where one exists.
#include <nlohmann/json.hpp>

#include "common/card_file.h"
#include "tm/model.h"
#include "tm/registry.h"

namespace terramind {

using nlohmann::json;

const char* to_string(TokenizerKind kind) {
  return kind == TokenizerKind::kDiVAE ? "divae" : "vqvae";
}

TokenizerKind tokenizer_kind_from_string(const std::string& text) {
  if (text == "divae") return TokenizerKind::kDiVAE;
  if (text == "vqvae") return TokenizerKind::kVQVAE;
  throw std::invalid_argument("unknown tokenizer kind '" + text + "' (divae, vqvae)");
}

int64_t TokenizerCard::vocab_size() const {
  int64_t size = 1;
  for (int level : fsq_levels) size *= level;
  return size;
}

int64_t TokenizerCard::decode_size_multiple() const {
  if (kind == TokenizerKind::kVQVAE) return patch_size;
  // Every down-sampling level halves the patched grid; the nearest up-sampling must land on it.
  const int64_t levels = static_cast<int64_t>(unet.channel_mult.size());
  return unet.patch_size * (int64_t{1} << (levels - 1));
}

namespace {

void require(bool condition, const std::string& what) {
  if (!condition) throw std::invalid_argument("tokenizer card: " + what);
}

VitCoderConfig vit_from_json(const json& j, const VitCoderConfig& defaults) {
  VitCoderConfig c = defaults;
  c.dim = j.value("dim", c.dim);
  c.depth = j.value("depth", c.depth);
  c.heads = j.value("num_heads", c.heads);
  c.mlp_ratio = j.value("mlp_ratio", c.mlp_ratio);
  c.norm_eps = j.value("norm_eps", c.norm_eps);
  return c;
}

json vit_to_json(const VitCoderConfig& c) {
  return {{"dim", c.dim},
          {"depth", c.depth},
          {"num_heads", c.heads},
          {"mlp_ratio", c.mlp_ratio},
          {"norm_eps", c.norm_eps}};
}

void check_vit(const VitCoderConfig& c, const char* which) {
  const std::string w = which;
  require(c.dim > 0 && c.heads > 0 && c.dim % c.heads == 0,
          w + ".dim must be a positive multiple of " + w + ".num_heads");
  require(c.depth > 0, w + ".depth must be > 0");
  require(c.mlp_ratio > 0, w + ".mlp_ratio must be > 0");
  require(c.dim % 4 == 0, w + ".dim must be a multiple of 4 (2-D sin-cos position table)");
}

void check_unet(const UNetConfig& u) {
  require(u.patch_size > 0, "decoder.patch_size must be > 0");
  require(u.model_channels > 0 && u.groups > 0, "decoder.model_channels and groups must be > 0");
  require(u.num_res_blocks > 0, "decoder.num_res_blocks must be > 0");
  require(!u.channel_mult.empty(), "decoder.channel_mult must not be empty");
  for (int64_t m : u.channel_mult) {
    require(m > 0, "decoder.channel_mult entries must be > 0");
    require((m * u.model_channels) % u.groups == 0,
            "decoder channel widths must be multiples of the GroupNorm groups");
  }
  require(u.num_heads > 0, "decoder.num_heads must be > 0");
  require(u.model_channels % 2 == 0, "decoder.model_channels must be even (timestep embedding)");
}

}  // namespace

TokenizerCard TokenizerCard::from_json(const std::string& json_text) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    throw std::invalid_argument(std::string("tokenizer card: invalid JSON: ") + e.what());
  }
  TokenizerCard c;
  try {
    c.name = j.value("name", c.name);
    c.kind = tokenizer_kind_from_string(j.at("kind").get<std::string>());
    c.modality = j.at("modality").get<std::string>();
    c.stats_version = j.value("stats_version", c.stats_version);
    c.channels = j.at("in_channels").get<int64_t>();
    c.class_input = j.value("class_input", c.kind == TokenizerKind::kVQVAE);
    c.fsq_levels = j.at("fsq_levels").get<std::vector<int>>();
    c.image_size = j.value("image_size", c.image_size);
    c.patch_size = j.value("patch_size", c.patch_size);
    c.encoder = vit_from_json(j.at("encoder"), c.encoder);
    const json& dec = j.at("decoder");
    if (c.kind == TokenizerKind::kVQVAE) {
      c.vit_decoder = vit_from_json(dec, c.vit_decoder);
    } else {
      UNetConfig& u = c.unet;
      u.patch_size = dec.value("patch_size", u.patch_size);
      u.model_channels = dec.value("model_channels", u.model_channels);
      u.num_res_blocks = dec.value("num_res_blocks", u.num_res_blocks);
      u.channel_mult = dec.value("channel_mult", u.channel_mult);
      u.attention_resolutions = dec.value("attention_resolutions", u.attention_resolutions);
      u.num_heads = dec.value("num_heads", u.num_heads);
      u.groups = dec.value("groups", u.groups);
      if (j.contains("diffusion")) {
        const json& d = j.at("diffusion");
        DiffusionConfig& s = c.diffusion;
        s.train_timesteps = d.value("train_timesteps", s.train_timesteps);
        s.beta_start = d.value("beta_start", s.beta_start);
        s.beta_end = d.value("beta_end", s.beta_end);
        s.zero_terminal_snr = d.value("zero_terminal_snr", s.zero_terminal_snr);
        s.default_steps = d.value("default_steps", s.default_steps);
      }
    }
    c.checkpoint = j.value("checkpoint", "");
  } catch (const json::exception& e) {
    throw std::invalid_argument(std::string("tokenizer card: ") + e.what());
  }
  require(c.channels > 0, "in_channels must be > 0");
  require(!c.fsq_levels.empty(), "fsq_levels must not be empty");
  FsqQuantizer check_levels(c.fsq_levels);  // throws on bad levels
  require(c.patch_size > 0 && c.image_size > 0 && c.image_size % c.patch_size == 0,
          "image_size must be a positive multiple of patch_size");
  check_vit(c.encoder, "encoder");
  if (c.kind == TokenizerKind::kVQVAE) {
    check_vit(c.vit_decoder, "decoder");
  } else {
    check_unet(c.unet);
    require(c.diffusion.train_timesteps > 1, "diffusion.train_timesteps must be > 1");
    require(
        c.diffusion.default_steps > 0 && c.diffusion.default_steps <= c.diffusion.train_timesteps,
        "diffusion.default_steps must be in [1, train_timesteps]");
  }
  const Modality* m = ModalityRegistry::instance().find(c.modality);
  require(m != nullptr, "unknown modality '" + c.modality + "'");
  c.modality = m->name;
  try {
    m->stats(stats_version_from_string(c.stats_version));
  } catch (const std::exception& e) {
    require(false, e.what());
  }
  if (c.class_input)  // one-hot class maps: a single-band class modality such as LULC
    require(m->channels() == 1 && m->output_type == "Byte",
            "class inputs need a class-map modality (like LULC), not " + c.modality);
  else
    require(c.channels == m->channels(), c.modality + " has " + std::to_string(m->channels()) +
                                             " bands but in_channels is " +
                                             std::to_string(c.channels));
  return c;
}

TokenizerCard TokenizerCard::from_file(const std::string& path) {
  TokenizerCard card = read_card(path, "tokenizer card", &TokenizerCard::from_json);
  card.checkpoint = beside_card(path, card.checkpoint);
  return card;
}

std::string TokenizerCard::to_json() const {
  json j = {{"name", name},
            {"kind", terramind::to_string(kind)},
            {"modality", modality},
            {"stats_version", stats_version},
            {"in_channels", channels},
            {"class_input", class_input},
            {"fsq_levels", fsq_levels},
            {"image_size", image_size},
            {"patch_size", patch_size},
            {"encoder", vit_to_json(encoder)}};
  if (kind == TokenizerKind::kVQVAE) {
    j["decoder"] = vit_to_json(vit_decoder);
    j["decoder"]["type"] = "vit";
  } else {
    j["decoder"] = {{"type", "unet_patched"},
                    {"patch_size", unet.patch_size},
                    {"model_channels", unet.model_channels},
                    {"num_res_blocks", unet.num_res_blocks},
                    {"channel_mult", unet.channel_mult},
                    {"attention_resolutions", unet.attention_resolutions},
                    {"num_heads", unet.num_heads},
                    {"groups", unet.groups}};
    j["diffusion"] = {{"train_timesteps", diffusion.train_timesteps},
                      {"beta_start", diffusion.beta_start},
                      {"beta_end", diffusion.beta_end},
                      {"zero_terminal_snr", diffusion.zero_terminal_snr},
                      {"default_steps", diffusion.default_steps}};
  }
  if (!checkpoint.empty()) j["checkpoint"] = checkpoint;
  return j.dump(2);
}

}  // namespace terramind
