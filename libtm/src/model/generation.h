// Any-to-any generation of image-token targets with the reference's ROAR schedule
// (spec: terramind-model.md section 7), with an explicit seed and a working multi-step mode.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "terramind_network.h"

namespace terramind::net {

struct SamplingOptions {
  double temperature = 1.0;  // 0 (or below 1e-10): greedy arg-max
  double top_p = 0.8;        // nucleus filter; 0 disables
  int64_t top_k = 0;         // 0 disables
  bool greedy() const { return temperature < 1e-10; }
};

// One input of the encoder: a standardised image [B, C, H, W] for pixel keys, token ids
// [B, h, w] or [B, N] for token keys.
using ModalityTensors = std::vector<std::pair<std::string, torch::Tensor>>;

struct GenerationRequest {
  ModalityTensors inputs;
  std::vector<std::string> targets;  // image-token keys, generated in this order (chained)
  int64_t decoding_steps = 1;        // ROAR steps per target
  SamplingOptions sampling;
  int64_t seed = 0;  // step s of the schedule uses seed + s (as the reference's seed0 + s)
  // false: each target from the inputs alone, its steps counted from 0 on its own seed
  // (target_seeds[i] for targets[i]; `seed` when target_seeds is empty).
  bool chained = true;
  std::vector<int64_t> target_seeds;
  bool sequence_cache = true;  // key/value caches for sequence targets (false: recompute)
};

// Linear token schedule of the reference: tokens decoded per step, zeros trimmed.
std::vector<int64_t> linear_token_schedule(int64_t steps, int64_t total);

// Reference top-k / top-p filtering and sampling on logits [R, V]; returns ids [R] (int64).
torch::Tensor sample_tokens(const torch::Tensor& logits, const SamplingOptions& options,
                            at::Generator& generator);

// Generated token ids per target key: image targets [B, gh*gw] int64 row-major; sequence
// targets (coords, caption) the generated ids [B, L] int64, [PAD]-padded.
std::map<std::string, torch::Tensor> generate_tokens(const TerraMindImpl& model,
                                                     const GenerationRequest& request);

}  // namespace terramind::net
