// tm/runtime.h — TerraMind generation as a tiling WindowModel (public header of tm_runtime).
//
// Glue between libtm (model, tokenizers; no GDAL) and tm_tiling (scenes; no model): one window
// batch in, every requested target out, decoded to physical units. Used by tm_generate and, through
// libtm_runtime.so, by the GDAL plugin, so both produce the same pixels.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tm/window_model.h"

namespace terramind {

struct RuntimeSettings {
  std::string model;                 // model card (.json, names its tokenizers) or checkpoint
  std::vector<std::string> targets;  // registry names to offer; empty: every decodable output
  int64_t head_dim = 64;             // when a card is inferred from a checkpoint
  int64_t diffusion_steps = 10;      // DDIM steps of the diffusion tokenizers (reference notebooks)
  int64_t decoding_steps = 1;        // ROAR steps of the transformer
  double temperature = 1.0;          // 0: greedy, deterministic tokens
  double top_p = 0.8;
  int64_t top_k = 0;
  int64_t seed = 0;  // each window and target derive their own seed from this and the position
  // false (default): each target is generated from the inputs alone on its own random stream,
  // so adding or removing a target never changes another. true: the reference's chained
  // generation (later targets conditioned on the earlier ones, in the order asked for).
  bool chain_targets = false;
  bool clamp = true;  // the reference clamps diffusion outputs to mean +- 1 std
  std::string device = "cpu";
  int threads = 0;  // LibTorch intra-op threads; 0 keeps the current setting
};

// Refuses (std::invalid_argument naming the setting and its valid range) settings that cannot
// run: no model, temperature < 0 or not finite, top_p outside [0, 1], steps < 1, threads < 0 ...
void validate(const RuntimeSettings& settings);

// Parses the plugin's settings JSON (gdal_plugin/tm_runtime_api.h); unknown options are refused.
RuntimeSettings runtime_settings_from_json(const std::string& json_text);

// Loads the model and the tokenizers of its targets. std::invalid_argument / CheckpointError with
// a clear message on bad settings, missing files, or targets the model cannot produce.
std::unique_ptr<WindowModel> open_terramind_window_model(const RuntimeSettings& settings);

}  // namespace terramind
