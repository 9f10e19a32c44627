// tm/cards.h — model and tokenizer cards (part of tm_model; included by tm/model.h).
//
// What distinguishes one TerraMind or tokenizer build from another, as data (JSON), read from card
// files or inferred from a checkpoint's keys and shapes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tm/checkpoint.h"  // TensorMap

namespace terramind {

// ---------------------------------------------------------------------------------------------
// Model cards
// ---------------------------------------------------------------------------------------------

// Everything that distinguishes one TerraMind build from another, as data (JSON). Sizes of the
// official releases are in libtm/data/cards/; a card can also be inferred from a checkpoint.
struct ModelCard {
  std::string name = "terramind";
  int64_t dim = 768;
  int64_t heads = 12;
  int64_t encoder_depth = 12;
  int64_t decoder_depth = 0;  // 0: encoder-only backbone
  int64_t mlp_ratio = 4;
  bool gated_mlp = false;  // SwiGLU (base, large) instead of GELU MLP (tiny, small)
  bool qkv_bias = true;
  bool proj_bias = true;
  bool mlp_bias = true;
  double norm_eps = 1e-6;
  int64_t image_size = 224;
  int64_t patch_size = 16;
  std::string stats_version = "v1";             // normalisation tables (registry)
  std::vector<std::string> encoder_modalities;  // reference keys, e.g. "untok_sen2l2a@224"
  std::vector<std::string> decoder_modalities;  // e.g. "tok_lulc@224"
  std::string checkpoint_prefix;  // stripped from checkpoint keys, e.g. "sampler.model."
  std::string checkpoint;         // weights file; from_file() resolves it against the card's folder
  // Tokenizer card (or checkpoint) per modality name ("S1GRD" -> "tokenizer_s1grd.json"),
  // resolved like `checkpoint`: what turns generated tokens into rasters.
  std::map<std::string, std::string> tokenizers;

  // SwiGLU hidden width is int(2/3 of the plain width) (spec section 1).
  int64_t mlp_hidden() const { return gated_mlp ? (2 * dim * mlp_ratio) / 3 : dim * mlp_ratio; }

  // std::invalid_argument naming the field on bad cards.
  static ModelCard from_json(const std::string& json_text);
  static ModelCard from_file(const std::string& path);
  std::string to_json() const;
};

// Dimensions, depths, MLP kind, biases and modalities from a checkpoint's keys and shapes. Head
// count is not stored in checkpoints: dim / head_dim (TerraMind uses 64-wide heads).
ModelCard infer_model_card(const TensorMap& checkpoint, int64_t head_dim = 64);

// ---------------------------------------------------------------------------------------------
// Tokenizer cards
// ---------------------------------------------------------------------------------------------

enum class TokenizerKind {
  kDiVAE,  // diffusion decoder ("divae" in cards)
  kVQVAE,  // deterministic ViT decoder ("vqvae")
};

// One ViT stack of a tokenizer (encoder, or the VQVAE decoder).
struct VitCoderConfig {
  int64_t dim = 768;
  int64_t depth = 12;
  int64_t heads = 12;
  int64_t mlp_ratio = 4;
  double norm_eps = 1e-6;
};

// The patched ADM-style UNet of the diffusion decoder ("unet_patched").
struct UNetConfig {
  int64_t patch_size = 4;
  int64_t model_channels = 256;
  int64_t num_res_blocks = 3;
  std::vector<int64_t> channel_mult{1, 2, 2, 2};
  std::vector<int64_t> attention_resolutions{4, 8};  // downsampling factors with attention
  int64_t num_heads = 1;
  int64_t groups = 32;  // GroupNorm groups
};

// DDIM noise schedule: linear betas, optionally rescaled to zero terminal SNR.
struct DiffusionConfig {
  int64_t train_timesteps = 1000;
  double beta_start = 1e-4;
  double beta_end = 0.02;
  bool zero_terminal_snr = true;
  int64_t default_steps = 50;  // the reference's default; its notebooks use 10
};

// Everything that distinguishes one tokenizer build from another, as data (JSON). The official
// cards are in libtm/data/tokenizer_cards/; a card can also be inferred from a checkpoint.
struct TokenizerCard {
  std::string name = "tokenizer";
  TokenizerKind kind = TokenizerKind::kDiVAE;
  std::string modality;  // registry name, e.g. "S1GRD"
  std::string stats_version = "v1";
  int64_t channels = 0;      // encoder input (= decoder output) channels
  bool class_input = false;  // inputs are class indices, one-hot encoded to `channels` (LULC)
  std::vector<int> fsq_levels{8, 8, 8, 6, 5};
  int64_t image_size = 256;  // training size: position tables cover image_size / patch_size
  int64_t patch_size = 16;
  VitCoderConfig encoder;
  VitCoderConfig vit_decoder;  // kVQVAE only
  UNetConfig unet;             // kDiVAE only
  DiffusionConfig diffusion;   // kDiVAE only
  std::string checkpoint;      // weights; from_file() resolves it against the card's folder

  int64_t latent_dim() const { return static_cast<int64_t>(fsq_levels.size()); }
  int64_t vocab_size() const;
  // Image sides must be multiples of these (16 for the ViTs; 32 for the default UNet).
  int64_t encode_size_multiple() const { return patch_size; }
  int64_t decode_size_multiple() const;

  // std::invalid_argument naming the field on bad cards.
  static TokenizerCard from_json(const std::string& json_text);
  static TokenizerCard from_file(const std::string& path);
  std::string to_json() const;
};

const char* to_string(TokenizerKind kind);
TokenizerKind tokenizer_kind_from_string(const std::string& text);  // "divae", "vqvae"

// The architecture from a checkpoint's keys and shapes, for a given registry modality. Head
// counts are not stored: dim / head_dim (the official tokenizers use 64-wide heads).
TokenizerCard infer_tokenizer_card(const TensorMap& checkpoint, const std::string& modality,
                                   int64_t head_dim = 64);

}  // namespace terramind
