// tm/network.h — the TerraMind model (part of tm_model; included by tm/model.h).
//
// The network built from a model card (tm/cards.h) with its weights: feature extraction and
// any-to-any generation.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "tm/cards.h"       // ModelCard
#include "tm/checkpoint.h"  // CheckpointReport, TensorMap

namespace terramind {

// ---------------------------------------------------------------------------------------------
// The TerraMind model: feature extraction and any-to-any generation
// ---------------------------------------------------------------------------------------------

// How per-modality encoder tokens become one feature map (spec section 6).
enum class MergeMethod { kMean, kMax, kConcat, kNone };
MergeMethod merge_method_from_string(const std::string& text);  // mean, max, concat, none

// Inputs by registry name ("S2L2A", "LULC") or reference key ("untok_sen2l2a@224"), in order.
// Pixel modalities: images [B, C, H, W] (H, W multiples of 16) in physical units unless told
// they are standardised; token modalities (LULC, NDVI inputs): token ids [B, h, w] or [B, N].
using ModalityInputs = std::vector<std::pair<std::string, at::Tensor>>;

struct FeatureOptions {
  MergeMethod merge = MergeMethod::kMean;
  std::vector<int> layers;           // block indices (negative from the end); empty = all
  bool inputs_standardised = false;  // false: z-score pixel inputs with the card's tables
};

struct GenerationOptions {
  int64_t decoding_steps = 1;  // ROAR steps per target
  double temperature = 1.0;    // 0: greedy arg-max
  double top_p = 0.8;          // 0 disables
  int64_t top_k = 0;           // 0 disables
  int64_t seed = 0;            // same seed, same tokens (step s of the schedule uses seed + s)
  bool inputs_standardised = false;
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
  at::Tensor standardise(const std::string& modality, const at::Tensor& values) const;
  at::Tensor destandardise(const std::string& modality, const at::Tensor& values) const;

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
