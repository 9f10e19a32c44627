// tm/model.h — the LibTorch part of libtm (public header of tm_model).
//
// Checkpoint I/O (PyTorch zip checkpoints read without Python, safetensors read/write, strict
// key matching) and the FSQ quantizer shared by every TerraMind image tokenizer.
#pragma once

#include <cstdint>
#include <map>
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

  // Generates image-token targets (names or keys) in order; a target that is also an encoder
  // input conditions the later ones (chained). Returns token ids [B, h*w] int64 per output key.
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
