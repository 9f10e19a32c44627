// tm/pretraining.h — TerraMind's training-time forward (part of tm_model; included by
// tm/model.h).
//
// Masked cross-modal token prediction (shared/spec/terramind-model.md §10): the encoder sees
// the chosen input tokens of every modality, the decoder predicts the chosen target tokens, and
// the loss is the cross-entropy per modality. The training loops (training/, tm/trainer.h) pick
// the masks (tm/token_budgets.h) and run the optimiser; this is the differentiable model.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "tm/cards.h"       // ModelCard, TokenizerCard
#include "tm/checkpoint.h"  // TensorMap

namespace terramind {

// One modality of a masked batch, by reference key. Masks are [B, N] bool in the reference's
// convention: false = selected (an encoder input / a decoder target), true = masked.
struct MaskedModality {
  std::string key;  // "untok_sen2l2a@224" (pixels) or "tok_lulc@224" (image tokens)
  // Pixels [B, C, H, W], standardised (z-scores); token ids [B, h, w] or [B, h*w] (square grid).
  at::Tensor values;
  at::Tensor input_mask;   // undefined: the modality is no encoder input in this batch
  at::Tensor target_mask;  // undefined: no decoder target (pixel keys are never targets)
};

struct MaskedBatch {
  std::vector<MaskedModality> modalities;
  // Tokens kept after sorting selected tokens first (the reference's num_encoder_tokens and
  // num_decoder_tokens): at least the largest per-sample input / target count.
  int64_t num_encoder_tokens = 0;
  int64_t num_decoder_tokens = 0;
  // Order of the target modalities in the decoder sequence (the reference shuffles it per
  // batch); empty: the order of `modalities`.
  std::vector<std::string> decoder_order;
};

// "mod": mean over the modalities with targets of each modality's mean cross-entropy; "token":
// mean over all target tokens.
enum class LossReduction { kModality, kToken };
LossReduction loss_reduction_from_string(const std::string& text);  // "mod", "token"

struct MaskedLoss {
  at::Tensor loss;                                 // scalar, differentiable
  std::map<std::string, at::Tensor> per_modality;  // key -> mean cross-entropy (detached)
  std::map<std::string, int64_t> targets;          // key -> target tokens in the batch
};

// Logits of the target tokens: per key, [K, V] over the batch's K targets in (sample,
// position) order, with their spatial positions [K] and sample indices [K].
struct TargetLogits {
  at::Tensor logits, positions, samples, ids;
};

// TerraMind with trainable weights. Parameter and buffer names are the official checkpoint keys,
// so state_dict() saved with save_torch_checkpoint() loads in TerraMindModel and the reference.
class TrainableTerraMind {
 public:
  // Fresh weights as 4M initialises them: Xavier-uniform linear layers, zero biases, unit norm
  // scales, N(0, 0.02) token, modality and mask-token embeddings; seeded, so reproducible.
  static TrainableTerraMind initialised(const ModelCard& card, uint64_t seed);
  // Continues from weights (an official or own checkpoint, card prefix stripped); strict.
  static TrainableTerraMind from_weights(const ModelCard& card, const TensorMap& weights);

  const ModelCard& card() const;
  torch::nn::Module& module();  // train()/eval(), to(device)
  // The trainable tensors, each once (tied weights appear under two keys in state_dict()).
  std::vector<at::Tensor> parameters() const;
  std::vector<std::string> parameter_names() const;  // first key of each, same order
  int64_t parameter_count() const;
  // Parameters and buffers by official key (detached; shares storage with the model).
  TensorMap state_dict() const;
  // Copies `weights` in strictly (missing or mis-shaped keys throw CheckpointError).
  void load_state_dict(const TensorMap& weights);

  // A batch whose budgets selected no target token (inputs took every token of the targets)
  // has loss 0 without a graph and `targets` all 0: callers skip its backward.
  MaskedLoss loss(const MaskedBatch& batch,
                  LossReduction reduction = LossReduction::kModality) const;
  std::map<std::string, TargetLogits> target_logits(const MaskedBatch& batch) const;
  // Forward FLOPs of one sample with the given kept token counts (matmuls, 2 per MAC).
  double forward_flops(int64_t encoder_tokens, int64_t decoder_tokens) const;

  struct Impl;

 private:
  explicit TrainableTerraMind(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// An image tokenizer with trainable weights (the first training stage, spec
// terramind-training.md §2). Parameter names are the official checkpoint keys, so state_dict()
// saved with save_torch_checkpoint() loads in ImageTokenizer and the reference.
//
// Objectives: VQVAE (ViT decoder, LULC) cross-entropy of the decoder's class logits against the
// input classes; DiVAE (diffusion decoder) the MSE of the decoder's clean-sample estimate from
// x_t = sqrt(ᾱ_t) x0 + sqrt(1 - ᾱ_t) ε, with the card's linear-beta schedule (zero terminal SNR
// as configured) and one timestep per sample. FSQ rounds with a straight-through gradient.
class TrainableTokenizer {
 public:
  // Fresh weights (module defaults drawn from a generator seeded with `seed`); reproducible.
  static TrainableTokenizer initialised(const TokenizerCard& card, uint64_t seed);
  // Continues from weights (an official or own checkpoint); strict, as ImageTokenizer::load.
  static TrainableTokenizer from_weights(const TokenizerCard& card, const TensorMap& weights);

  const TokenizerCard& card() const;
  torch::nn::Module& module();  // train()/eval(), to(device)
  std::vector<at::Tensor> parameters() const;
  std::vector<std::string> parameter_names() const;
  TensorMap state_dict() const;
  void load_state_dict(const TensorMap& weights);

  struct Loss {
    at::Tensor loss;    // scalar, differentiable
    at::Tensor tokens;  // [B, h, w] int32, the batch's codes (detached)
  };
  // `images`: standardised [B, C, H, W] (ImageTokenizer::standardise), or class indices [B, H, W]
  // for class-input tokenizers. DiVAE also takes `timesteps` [B] in [0, train_timesteps) and
  // `noise` like images, which the caller draws (seeded: resumable runs redraw the same).
  // std::invalid_argument for wrong shapes or class values.
  Loss loss(const at::Tensor& images, const at::Tensor& timesteps = {},
            const at::Tensor& noise = {}) const;

 private:
  struct Impl;
  explicit TrainableTokenizer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace terramind
