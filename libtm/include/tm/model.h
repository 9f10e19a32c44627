// tm/model.h — the LibTorch part of libtm (public header of tm_model).
//
// Checkpoint I/O (PyTorch zip checkpoints read without Python, safetensors read/write, strict
// key matching) and the FSQ quantizer shared by every TerraMind image tokenizer.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace terramind {

// ---------------------------------------------------------------------------------------------
// Checkpoints
// ---------------------------------------------------------------------------------------------

// Any failure to read, validate or write a checkpoint. The message names the file and the problem.
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Name -> tensor, in insertion (= file) order, with fast lookup by name.
class TensorMap {
 public:
  using Item = std::pair<std::string, at::Tensor>;

  // Throws std::invalid_argument when the name is already present.
  void insert(std::string name, at::Tensor tensor);
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  // nullptr when absent.
  const at::Tensor* find(const std::string& name) const;
  // Throws std::out_of_range naming the key when absent.
  const at::Tensor& at(const std::string& name) const;

  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  std::vector<std::string> names() const;
  const std::vector<Item>& items() const { return items_; }
  std::vector<Item>::const_iterator begin() const { return items_.begin(); }
  std::vector<Item>::const_iterator end() const { return items_.end(); }

 private:
  std::vector<Item> items_;
  std::unordered_map<std::string, std::size_t> index_;
};

// Reads a zip-format torch.save file (PyTorch >= 1.6) without executing anything from it: a
// plain dict or an OrderedDict (state_dict) of tensors, or such a dict wrapped under a "model" or
// "state_dict" key. Tied tensors keep sharing one storage. Only a whitelist of pickle globals is
// accepted (OrderedDict, tensor rebuild functions, torch.*Storage); anything else is refused.
TensorMap load_torch_checkpoint(const std::string& path);

using SafetensorsMetadata = std::map<std::string, std::string>;

// Reads a .safetensors file; its "__metadata__" goes to *metadata when given. Tensors come in
// file (data offset) order.
TensorMap load_safetensors(const std::string& path, SafetensorsMetadata* metadata = nullptr);

// Writes tensors (moved to CPU, made contiguous) in map order, atomically: a temporary file in
// the same folder renamed over `path`. Tensors sharing storage are written as separate copies.
void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const SafetensorsMetadata& metadata = {});

// What a model expects: parameter/buffer name -> shape, in the model's order.
using ExpectedShapes = std::vector<std::pair<std::string, std::vector<int64_t>>>;

// Named parameters then named buffers of a module (recursively).
ExpectedShapes expected_shapes(const torch::nn::Module& module);

// Outcome of matching a checkpoint against what a model expects (like load_state_dict(strict)).
struct CheckpointReport {
  struct ShapeMismatch {
    std::string name;
    std::vector<int64_t> expected;
    std::vector<int64_t> actual;
  };
  std::vector<std::string> missing;     // expected, absent from the checkpoint
  std::vector<std::string> unexpected;  // in the checkpoint, not expected
  std::vector<ShapeMismatch> shape_mismatches;

  bool clean() const { return missing.empty() && unexpected.empty() && shape_mismatches.empty(); }
  // One multi-line text listing every problem ("checkpoint matches" when clean).
  std::string describe() const;
};

CheckpointReport compare_checkpoint(const ExpectedShapes& expected, const TensorMap& checkpoint);

// Throws CheckpointError("<what>: <full report>") unless the checkpoint matches exactly.
void require_matching_checkpoint(const ExpectedShapes& expected, const TensorMap& checkpoint,
                                 const std::string& what);

// ---------------------------------------------------------------------------------------------
// Tokenizer: finite scalar quantization
// ---------------------------------------------------------------------------------------------

// FSQ as in TerraMind's tokenizers: per channel c, n_c = round_half_even(sigmoid(z_c) * (L_c - 1)),
// code_c = n_c / (L_c - 1) in [0, 1], token = sum_c n_c * basis_c with basis = cumprod(1, L0, L1,
// ...), so channel 0 is the least significant digit.
class FsqQuantizer {
 public:
  struct Result {
    at::Tensor codes;   // [B, C, H, W] float32 in [0, 1]
    at::Tensor tokens;  // [B, H, W] int32
  };

  // Throws std::invalid_argument unless every level is >= 2 and the codebook fits in int32.
  explicit FsqQuantizer(std::vector<int> levels);

  const std::vector<int>& levels() const { return levels_; }
  int num_channels() const { return static_cast<int>(levels_.size()); }
  int64_t codebook_size() const { return codebook_size_; }
  at::Tensor basis() const;     // [C] int32
  at::Tensor codebook() const;  // [codebook_size, C] float32, code of every index

  // latent [B, C, H, W] (floating point, computed in float32) -> codes and tokens.
  Result forward(const at::Tensor& latent) const;

  // Integer indices [...] -> codes [..., C] float32. std::out_of_range outside the vocabulary.
  at::Tensor indices_to_codes(const at::Tensor& indices) const;
  // Integer tokens [B, H, W] -> codes [B, C, H, W] float32 (the decoder's conditioning layout).
  at::Tensor indices_to_embedding(const at::Tensor& indices) const;
  // Codes [..., C] in [0, 1] -> indices [...] int32 (inverse of indices_to_codes).
  at::Tensor codes_to_indices(const at::Tensor& codes) const;

 private:
  // Per-channel constants shaped for broadcasting over a trailing channel dim, on `device`.
  at::Tensor steps(const at::Device& device) const;        // L - 1, float32
  at::Tensor basis_float(const at::Device& device) const;  // basis, float32
  void check_indices(const at::Tensor& indices) const;

  std::vector<int> levels_;
  std::vector<int64_t> basis_;
  int64_t codebook_size_ = 1;
};

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
// The TerraMind model: feature extraction and any-to-any generation
// ---------------------------------------------------------------------------------------------

// How per-modality encoder tokens become one feature map (spec section 6).
enum class MergeMethod { kMean, kMax, kConcat, kNone };
MergeMethod merge_method_from_string(const std::string& text);  // mean, max, concat, none

// Inputs by registry name ("S2L2A", "LULC") or reference key ("untok_sen2l2a@224"), in order.
// Pixel modalities: images [B, C, H, W] (H, W multiples of 16) in physical units unless told
// they are standardized; token modalities (LULC, NDVI inputs): token ids [B, h, w] or [B, N].
using ModalityInputs = std::vector<std::pair<std::string, at::Tensor>>;

struct FeatureOptions {
  MergeMethod merge = MergeMethod::kMean;
  std::vector<int> layers;           // block indices (negative from the end); empty = all
  bool inputs_standardized = false;  // false: z-score pixel inputs with the card's tables
};

struct GenerationOptions {
  int64_t decoding_steps = 1;  // ROAR steps per target
  double temperature = 1.0;    // 0: greedy arg-max
  double top_p = 0.8;          // 0 disables
  int64_t top_k = 0;           // 0 disables
  int64_t seed = 0;            // same seed, same tokens (step s of the schedule uses seed + s)
  bool inputs_standardized = false;
  // true (the reference): targets are generated in order and each conditions the later ones,
  // all on one random stream. false: every target is generated from the inputs alone, on its
  // own stream (seed `target_seeds[target]`, `seed` where absent), so a target's tokens never
  // depend on which other targets were asked for; the inputs are encoded once for all.
  bool chained = true;
  std::map<std::string, int64_t> target_seeds;  // by the names given in `targets`
};

class TerraMindModel {
 public:
  // Builds the card's network and loads the checkpoint (.pt or .safetensors). Missing or
  // mismatched weights throw CheckpointError with the whole report; checkpoint parts the card
  // does not use (other modalities, the decoder of a backbone) are listed in load_report().
  static TerraMindModel load(const ModelCard& card, const std::string& checkpoint_path);
  static TerraMindModel load(const ModelCard& card, const TensorMap& weights);
  // A card (.json, whose "checkpoint" names the weights) or a checkpoint (.pt, .safetensors)
  // whose card is inferred with `head_dim`-wide heads.
  static TerraMindModel open(const std::string& card_or_checkpoint, int64_t head_dim = 64);
  // The card's network with seeded random weights: for benchmarks and sizing, not for use.
  static TerraMindModel untrained(const ModelCard& card, uint64_t seed = 0);

  const ModelCard& card() const;
  const CheckpointReport& load_report() const;  // unexpected = unused by this card
  int64_t parameter_count() const;
  std::string dtype() const;

  // Reference key of an input or output given a registry name or key; std::invalid_argument
  // when the model lacks it.
  std::string input_key(const std::string& name) const;
  std::string output_key(const std::string& name) const;

  // (x - mean) / std and back, with the card's tables for the modality (name or key).
  at::Tensor standardize(const std::string& modality, const at::Tensor& values) const;
  at::Tensor destandardize(const std::string& modality, const at::Tensor& values) const;

  // Encoder features, one tensor per requested layer ([B, n, D], or [B, n, D*M] for concat,
  // [B, sum n, D] for none); the last block's output is after encoder_norm.
  std::vector<at::Tensor> features(const ModalityInputs& inputs,
                                   const FeatureOptions& options = {}) const;
  // Per-modality features (the reference's merge_method='dict'), one map per requested layer.
  std::vector<std::map<std::string, at::Tensor>> features_by_modality(
      const ModalityInputs& inputs, const FeatureOptions& options = {}) const;

  // Generates image-token targets (names or keys) in order; with options.chained a target that
  // is also an encoder input conditions the later ones. Returns token ids [B, h*w] int64 per
  // output key.
  std::map<std::string, at::Tensor> generate(const ModalityInputs& inputs,
                                             const std::vector<std::string>& targets,
                                             const GenerationOptions& options = {}) const;

  // Thinking-in-Modalities: generate `tim` targets from the inputs, append their tokens to the
  // inputs, and return the features of the whole sequence.
  std::vector<at::Tensor> tim_features(const ModalityInputs& inputs,
                                       const std::vector<std::string>& tim,
                                       const GenerationOptions& generation = {},
                                       const FeatureOptions& options = {}) const;

  struct Impl;

 private:
  explicit TerraMindModel(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace terramind

// ---------------------------------------------------------------------------------------------
// Tokenizers: image tokenizers (ViT encoder + FSQ; diffusion or ViT decoder) and text tokens
// ---------------------------------------------------------------------------------------------
// Facts: shared/spec/terramind-tokenizers.md. Every image tokenizer encodes a standardized image
// [B, C, H, W] (H, W multiples of 16) into int32 FSQ tokens [B, H/16, W/16]. DiVAE tokenizers
// (S2L2A, S1GRD, S1RTC, DEM, NDVI) decode tokens by DDIM sampling of a patched UNet; the VQVAE
// tokenizer (LULC) decodes them with a ViT into class logits.
namespace terramind {

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

// One DDIM step, reported to DecodeOptions::on_step.
struct DiffusionStep {
  int64_t index = 0;        // 0-based
  int64_t count = 0;        // steps in this run
  int64_t timestep = 0;     // t of the model call
  at::Tensor model_output;  // the UNet's clean-image estimate x0 (before the clamp)
  at::Tensor sample;        // x_{t'} after the step
};

struct DecodeOptions {
  // DDIM steps N; 0: the card's default_steps (50, the reference default; its notebooks use 10).
  // Timesteps are "trailing": 999, 999 - 1000/N, ...; when N does not divide 1000 the
  // reference runs one extra step (N = 3 runs 4), and so does this port.
  int64_t steps = 0;
  // Starting noise x_T: `noise` [B, C, H, W] when given; else drawn with LibTorch's CPU
  // generator seeded with `seed` (the same stream as torch.Generator().manual_seed(seed)); else
  // from the global CPU generator, as the reference does by default. Noise is drawn for the whole
  // batch at once, so (as in the reference) a tile's result depends on its batch position.
  at::Tensor noise;
  std::optional<uint64_t> seed;
  // Reference behaviour (default): every x0 estimate is clamped to [-1, 1] (its dynamic
  // thresholding degenerates to that clamp), so decoded images never leave mean ± 1 std of the
  // modality in physical units. false: no clamp (outside the reference; use with care).
  bool clamp = true;
  std::function<void(const DiffusionStep&)> on_step;  // called after every step
};

// An image tokenizer with loaded weights. Copies share the network (cheap handles).
class ImageTokenizer {
 public:
  struct Encoded {
    at::Tensor features;  // [B, D, h, w] encoder output (after the post-MLP)
    at::Tensor latent;    // [B, L, h, w] quant_proj output, the FSQ input
    at::Tensor codes;     // [B, L, h, w] FSQ codes in [0, 1]
    at::Tensor tokens;    // [B, h, w] int32
  };

  // Builds the card's network and loads the checkpoint (.pt or .safetensors) strictly: missing,
  // unexpected or mis-shaped keys throw CheckpointError with the whole report.
  static ImageTokenizer load(const TokenizerCard& card, const std::string& checkpoint_path);
  static ImageTokenizer load(const TokenizerCard& card, const TensorMap& weights);
  // A card (.json naming its checkpoint) or a checkpoint whose card is inferred for `modality`.
  static ImageTokenizer open(const std::string& card_or_checkpoint,
                             const std::string& modality = "", int64_t head_dim = 64);
  // The card's network with seeded random weights: for benchmarks and sizing, not for use.
  static ImageTokenizer untrained(const TokenizerCard& card, uint64_t seed = 0);

  const TokenizerCard& card() const;
  const CheckpointReport& load_report() const;
  const FsqQuantizer& quantizer() const;
  bool is_diffusion() const { return card().kind == TokenizerKind::kDiVAE; }
  int64_t vocab_size() const { return quantizer().codebook_size(); }
  int64_t parameter_count() const;

  // Physical units <-> the z-scores the tokenizer works on, with the registry statistics of the
  // card's modality and stats version. Identity for class-input tokenizers (LULC).
  at::Tensor standardize(const at::Tensor& values) const;
  at::Tensor destandardize(const at::Tensor& values) const;

  // Standardized image [B, C, H, W] -> tokens [B, H/16, W/16] int32. Class-input tokenizers also
  // take class indices [B, H, W] or [B, 1, H, W] (values 0 .. C-1). std::invalid_argument on
  // wrong channels, sizes that are not multiples of 16, or bad class values.
  at::Tensor encode(const at::Tensor& image) const;
  Encoded encode_detailed(const at::Tensor& image) const;

  // Tokens [B, h, w] (or [B, h*w] for a square grid; any integer type) -> DiVAE: standardized
  // image [B, C, 16h, 16w] (h, w even); VQVAE: class logits [B, C, 16h, 16w]. Options apply
  // to DiVAE only. std::invalid_argument on token values outside the vocabulary.
  at::Tensor decode(const at::Tensor& tokens, const DecodeOptions& options = {}) const;

  struct Impl;

 private:
  explicit ImageTokenizer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// Class logits [B, K, H, W] -> class indices [B, H, W] (uint8, arg-max over K; ties go to the
// lower class) and per-class probabilities [B, K, H, W] (softmax over K).
at::Tensor class_raster(const at::Tensor& logits);
at::Tensor class_probabilities(const at::Tensor& logits);

// The DDIM timesteps the sampler visits for `steps` steps (trailing spacing).
std::vector<int64_t> ddim_timesteps(int64_t steps, int64_t train_timesteps = 1000);

// ---------------------------------------------------------------------------------------------
// Text: the WordPiece tokenizer of captions and coordinates

// A Hugging Face `tokenizers` WordPiece tokenizer as TerraMind configures it (spec section 9.1):
// added special tokens matched on the raw text (leftmost-longest; "single word" tokens only at
// word boundaries), BERT normaliser (clean text, CJK spacing, accent stripping, lower case), BERT
// pre-tokeniser (whitespace and punctuation), greedy longest-match WordPiece with "##"
// continuations, and the WordPiece decoder with cleanup. Accent stripping covers Latin letters
// (U+00C0-U+024F) and combining marks; other scripts are lower-cased and kept.
class WordPieceTokenizer {
 public:
  // The published vocabulary JSON (terramind_v1_wordpiece_30k.json, from the model release).
  // std::invalid_argument naming the file when it cannot be read or is not such a tokenizer.
  static WordPieceTokenizer from_file(const std::string& path);
  static WordPieceTokenizer from_json(const std::string& json_text);

  int64_t vocab_size() const;
  // -1 when the token is not in the vocabulary.
  int64_t token_to_id(const std::string& token) const;
  // std::out_of_range outside [0, vocab_size()).
  const std::string& id_to_token(int64_t id) const;

  std::vector<int64_t> encode(const std::string& text) const;
  // Ids -> text through the WordPiece decoder; special tokens are dropped when asked.
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = false) const;

  struct Impl;

 private:
  explicit WordPieceTokenizer(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

// Coordinates as TerraMind v1 tokenizes them (spec 9.2): snapped to the 0.25 degree grid in
// float32 (round half to even), written "lat=%.2f lon=%.2f [EOS]", tokenized: normally three ids
// [lat token, lon token, EOS], e.g. lon -89.0, lat 35.75 -> [4707, 5289, 3]. A value that snaps
// to -0.0 prints "-0.00" as in the reference and falls back to ordinary word pieces.
std::string format_coordinates(float lon, float lat);
std::vector<int64_t> encode_coordinates(const WordPieceTokenizer& tokenizer, float lon, float lat);
// The first two ids decoded to "lat=.. lon=.."; {lon, lat}, or {NaN, NaN} when they are not.
std::pair<double, double> decode_coordinates(const WordPieceTokenizer& tokenizer,
                                             const std::vector<int64_t>& ids);

// Captions (v0.1, spec 9.3): " [S_1]" appended, right-padded with [PAD] to the longest caption,
// then [EOS] appended to every row. Returns [B, L] int64.
at::Tensor encode_captions(const WordPieceTokenizer& tokenizer,
                           const std::vector<std::string>& captions);
// Ids of one caption -> text: WordPiece decoder, " [EOS]" removed, sentence case.
std::string decode_caption(const WordPieceTokenizer& tokenizer, const std::vector<int64_t>& ids);

}  // namespace terramind
