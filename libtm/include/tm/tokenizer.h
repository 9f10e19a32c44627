// tm/tokenizer.h — image tokenizers (part of tm_model; included by tm/model.h).
//
// The FSQ quantizer shared by every TerraMind image tokenizer, the tokenizers themselves (ViT
// encoder + FSQ; diffusion or ViT decoder) and the DDIM schedule of the diffusion decoders. Their
// cards are in tm/cards.h.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "tm/cards.h"       // TokenizerCard, TokenizerKind
#include "tm/checkpoint.h"  // CheckpointReport, TensorMap

namespace terramind {

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
// Tokenizers: image tokenizers (ViT encoder + FSQ; diffusion or ViT decoder) and text tokens
// ---------------------------------------------------------------------------------------------
// Facts: shared/spec/terramind-tokenizers.md. Every image tokenizer encodes a standardised image
// [B, C, H, W] (H, W multiples of 16) into int32 FSQ tokens [B, H/16, W/16]. DiVAE tokenizers
// (S2L2A, S1GRD, S1RTC, DEM, NDVI) decode tokens by DDIM sampling of a patched UNet; the VQVAE
// tokenizer (LULC) decodes them with a ViT into class logits. A VQVAE card with class_input false
// (tm's own small tokenizers, e.g. the demo model's NDVI) decodes them with the ViT into the
// standardised image directly: one pass, no sampling.

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
  at::Tensor standardise(const at::Tensor& values) const;
  at::Tensor destandardise(const at::Tensor& values) const;

  // Standardised image [B, C, H, W] -> tokens [B, H/16, W/16] int32. Class-input tokenizers also
  // take class indices [B, H, W] or [B, 1, H, W] (values 0 .. C-1). std::invalid_argument on
  // wrong channels, sizes that are not multiples of 16, or bad class values.
  at::Tensor encode(const at::Tensor& image) const;
  Encoded encode_detailed(const at::Tensor& image) const;

  // Tokens [B, h, w] (or [B, h*w] for a square grid; any integer type) -> DiVAE: standardised
  // image [B, C, 16h, 16w] (h, w even); VQVAE: class logits [B, C, 16h, 16w] (class_input) or
  // the standardised image (continuous modalities). Options apply
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

}  // namespace terramind
