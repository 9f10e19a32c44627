// TokenizerCard <-> JSON. Field names follow the reference constructor arguments where one exists.
#include <nlohmann/json.hpp>

#include "common/card_file.h"
#include "tm/ascii_strings.h"
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

// Bounds far beyond the released tokenizers (width 768, 12 blocks, UNet 256 channels), small
// enough that sizes multiply without overflow.
constexpr int64_t kMaxDim = kCardMaxDim, kMaxDepth = kCardMaxDepth, kMaxMlpRatio = kCardMaxMlpRatio,
                  kMaxImageSize = kCardMaxImageSize;
constexpr int64_t kMaxChannels = 1024;
constexpr int64_t kMaxUNetLevels = 8;
constexpr int64_t kMaxTimesteps = 100000;

const char* const kWhat = "tokenizer card";

void require(bool condition, const std::string& what) { require_card(condition, kWhat, what); }

void require_in(int64_t value, int64_t min, int64_t max, const std::string& key) {
  require_card_in(value, min, max, kWhat, key);
}

VitCoderConfig vit_from_json(const json& j, const VitCoderConfig& defaults,
                             const std::string& which, bool typed) {
  const CardFields f(j, kWhat, which + ".");
  std::vector<std::string> known{"dim", "depth", "num_heads", "mlp_ratio", "norm_eps"};
  if (typed) known.push_back("type");
  f.only(known);
  if (typed && f.text("type", "vit") != "vit")
    f.fail("'" + f.name("type") + "' of a vqvae tokenizer must be \"vit\", got \"" +
           f.text("type") + "\"");
  VitCoderConfig c = defaults;
  c.dim = f.integer("dim", 4, kMaxDim, c.dim);
  c.depth = f.integer("depth", 1, kMaxDepth, c.depth);
  c.heads = f.integer("num_heads", 1, c.dim, c.heads);
  c.mlp_ratio = f.integer("mlp_ratio", 1, kMaxMlpRatio, c.mlp_ratio);
  c.norm_eps = f.number_between("norm_eps", 0.0, 1.0, c.norm_eps);
  return c;
}

json vit_to_json(const VitCoderConfig& c) {
  return {{"dim", c.dim},
          {"depth", c.depth},
          {"num_heads", c.heads},
          {"mlp_ratio", c.mlp_ratio},
          {"norm_eps", c.norm_eps}};
}

UNetConfig unet_from_json(const json& j, const UNetConfig& defaults) {
  const CardFields f(j, kWhat, "decoder.");
  f.only({"type", "patch_size", "model_channels", "num_res_blocks", "channel_mult",
          "attention_resolutions", "num_heads", "groups"});
  if (f.text("type", "unet_patched") != "unet_patched")
    f.fail("'decoder.type' of a divae tokenizer must be \"unet_patched\", got \"" + f.text("type") +
           "\"");
  UNetConfig u = defaults;
  u.patch_size = f.integer("patch_size", 1, 256, u.patch_size);
  u.model_channels = f.integer("model_channels", 2, kMaxDim, u.model_channels);
  u.num_res_blocks = f.integer("num_res_blocks", 1, 64, u.num_res_blocks);
  u.channel_mult = f.integers("channel_mult", 1, 64, kMaxUNetLevels, u.channel_mult);
  u.attention_resolutions =
      f.integers("attention_resolutions", 1, int64_t{1} << (kMaxUNetLevels - 1), kMaxUNetLevels,
                 u.attention_resolutions);
  u.num_heads = f.integer("num_heads", 1, kMaxDim, u.num_heads);
  u.groups = f.integer("groups", 1, kMaxDim, u.groups);
  return u;
}

DiffusionConfig diffusion_from_json(const json& j, const DiffusionConfig& defaults) {
  const CardFields f(j, kWhat, "diffusion.");
  f.only({"train_timesteps", "beta_start", "beta_end", "zero_terminal_snr", "default_steps"});
  DiffusionConfig s = defaults;
  s.train_timesteps = f.integer("train_timesteps", 2, kMaxTimesteps, s.train_timesteps);
  s.beta_start = f.number_between("beta_start", 0.0, 1.0, s.beta_start);
  s.beta_end = f.number_between("beta_end", 0.0, 1.0, s.beta_end);
  s.zero_terminal_snr = f.boolean("zero_terminal_snr", s.zero_terminal_snr);
  s.default_steps = f.integer("default_steps", 1, s.train_timesteps, s.default_steps);
  return s;
}

void check_vit(const VitCoderConfig& c, const std::string& w) {
  require_in(c.dim, 4, kMaxDim, w + ".dim");
  require(c.heads > 0 && c.dim % c.heads == 0, w + ".dim must be a positive multiple of " + w +
                                                   ".num_heads (dim " + std::to_string(c.dim) +
                                                   ", num_heads " + std::to_string(c.heads) + ")");
  require_in(c.depth, 1, kMaxDepth, w + ".depth");
  require_in(c.mlp_ratio, 1, kMaxMlpRatio, w + ".mlp_ratio");
  require(c.norm_eps > 0 && c.norm_eps < 1, "'" + w + ".norm_eps' must be a number in (0, 1)");
  require(c.dim % 4 == 0, w + ".dim must be a multiple of 4 (2-D sin-cos position table)");
}

void check_unet(const UNetConfig& u, int64_t image_size) {
  require_in(u.patch_size, 1, 256, "decoder.patch_size");
  require_in(u.model_channels, 2, kMaxDim, "decoder.model_channels");
  require_in(u.groups, 1, kMaxDim, "decoder.groups");
  require_in(u.num_res_blocks, 1, 64, "decoder.num_res_blocks");
  require(
      !u.channel_mult.empty() && u.channel_mult.size() <= static_cast<std::size_t>(kMaxUNetLevels),
      "'decoder.channel_mult' must list 1 to " + std::to_string(kMaxUNetLevels) + " levels");
  require_in(u.num_heads, 1, kMaxDim, "decoder.num_heads");
  for (int64_t m : u.channel_mult) {
    require_in(m, 1, 64, "decoder.channel_mult[]");
    const int64_t width = m * u.model_channels;
    require(width <= kMaxDim, "decoder channel widths must be at most " + std::to_string(kMaxDim) +
                                  ", got " + std::to_string(width));
    require(width % u.groups == 0,
            "decoder channel widths must be multiples of the GroupNorm groups (width " +
                std::to_string(width) + ", decoder.groups " + std::to_string(u.groups) + ")");
    require(width % u.num_heads == 0,
            "decoder channel widths must split into decoder.num_heads heads (width " +
                std::to_string(width) + ", decoder.num_heads " + std::to_string(u.num_heads) + ")");
  }
  for (int64_t r : u.attention_resolutions)
    require_in(r, 1, int64_t{1} << (kMaxUNetLevels - 1), "decoder.attention_resolutions[]");
  require(u.model_channels % 2 == 0, "decoder.model_channels must be even (timestep embedding)");
  const int64_t multiple = u.patch_size * (int64_t{1} << (u.channel_mult.size() - 1));
  require(multiple <= image_size,
          "the decoder's size multiple (decoder.patch_size x 2^(levels - 1) = " +
              std::to_string(multiple) + ") exceeds image_size " + std::to_string(image_size));
}

// Everything a card must satisfy, whether read from JSON or inferred from a checkpoint; resolves
// the modality to its registry name.
void check_card(TokenizerCard& c) {
  require_in(c.channels, 1, kMaxChannels, "in_channels");
  require(!c.fsq_levels.empty(), "fsq_levels must not be empty");
  FsqQuantizer check_levels(c.fsq_levels);  // throws on bad levels
  require_in(c.image_size, 1, kMaxImageSize, "image_size");
  require_in(c.patch_size, 1, c.image_size, "patch_size");
  require(c.image_size % c.patch_size == 0,
          "image_size must be a positive multiple of patch_size (image_size " +
              std::to_string(c.image_size) + ", patch_size " + std::to_string(c.patch_size) + ")");
  check_vit(c.encoder, "encoder");
  if (c.kind == TokenizerKind::kVQVAE) {
    check_vit(c.vit_decoder, "decoder");
  } else {
    check_unet(c.unet, c.image_size);
    require_in(c.diffusion.train_timesteps, 2, kMaxTimesteps, "diffusion.train_timesteps");
    require(
        c.diffusion.default_steps > 0 && c.diffusion.default_steps <= c.diffusion.train_timesteps,
        "diffusion.default_steps must be in [1, train_timesteps]");
    require(c.diffusion.beta_start > 0 && c.diffusion.beta_start < c.diffusion.beta_end &&
                c.diffusion.beta_end < 1,
            "diffusion betas must satisfy 0 < beta_start < beta_end < 1");
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
    require(m->is_class_map(),
            "class inputs need a class-map modality (like LULC), not " + c.modality);
  else
    require(c.channels == m->channels(), c.modality + " has " + std::to_string(m->channels()) +
                                             " bands but in_channels is " +
                                             std::to_string(c.channels));
  if (!m->fsq_levels.empty() && m->fsq_levels != c.fsq_levels) {
    require(false, "fsq_levels " + join(c.fsq_levels, "-") + " do not match the " + c.modality +
                       " token vocabulary of TerraMind (FSQ " + join(m->fsq_levels, "-") + ")");
  }
}

}  // namespace

TokenizerCard TokenizerCard::from_json(const std::string& json_text) {
  const json j = parse_card_json(json_text, kWhat);
  const CardFields f(j, kWhat);
  TokenizerCard c;
  const std::string kind = f.text("kind");
  c.kind = tokenizer_kind_from_string(kind);
  const bool vqvae = c.kind == TokenizerKind::kVQVAE;
  std::vector<std::string> known{"name",       "about",         "source",      "kind",
                                 "modality",   "stats_version", "in_channels", "class_input",
                                 "fsq_levels", "image_size",    "patch_size",  "encoder",
                                 "decoder",    "checkpoint"};
  if (!vqvae) known.push_back("diffusion");
  known.insert(known.end(), card_download_keys().begin(), card_download_keys().end());
  f.only(known);
  c.name = f.text("name", c.name);
  c.modality = f.text("modality");
  c.stats_version = f.text("stats_version", c.stats_version);
  c.channels = f.integer("in_channels", 1, kMaxChannels);
  c.class_input = f.boolean("class_input", vqvae);
  c.fsq_levels.clear();
  for (int64_t level : f.integers("fsq_levels", 2, 65536, 16))
    c.fsq_levels.push_back(static_cast<int>(level));
  c.image_size = f.integer("image_size", 1, kMaxImageSize, c.image_size);
  c.patch_size = f.integer("patch_size", 1, c.image_size, c.patch_size);
  c.encoder = vit_from_json(f.object("encoder"), c.encoder, "encoder", /*typed=*/false);
  if (vqvae) {
    c.vit_decoder = vit_from_json(f.object("decoder"), c.vit_decoder, "decoder", /*typed=*/true);
  } else {
    c.unet = unet_from_json(f.object("decoder"), c.unet);
    if (f.has("diffusion")) c.diffusion = diffusion_from_json(f.object("diffusion"), c.diffusion);
  }
  c.checkpoint = f.text("checkpoint", "");
  check_download_fields(f);  // where the checkpoint is downloaded from (tm/model_cache.h)
  check_card(c);
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
