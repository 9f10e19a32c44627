// tm/settings.h — the generation settings tm_generate and the GDAL plugin share (part of
// tm_tiling; plain C++, no GDAL, no LibTorch, so the plugin can use it without the runtime).
//
// One table names every shared setting once: its connection-string key, tm_generate's option,
// type, default (taken from TilingOptions{} and RuntimeSettings{}), help and allowed values.
// tm_generate's Boost options for these settings, the plugin's keys and its open-option XML are
// all generated from it, and apply_setting() reads a value for both with the same messages.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "tm/pipeline.h"  // TilingOptions

namespace terramind {

// What the TerraMind runtime (tm/runtime.h) generates with. Here, beside the settings table that
// names its defaults, so that the plugin (which loads the runtime through a C ABI) knows them.
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

enum class SettingType { kInt, kFloat, kBoolean, kString, kChoice };

// One shared setting.
struct Setting {
  std::string key;     // the plugin's key, lower case; runtime options as "opt.<name>"
  std::string option;  // tm_generate's long option without "--"; empty: the plugin's only
  SettingType type = SettingType::kString;
  std::string default_value;        // as shown by both tools
  std::string help;                 // tm_generate's help; the plugin's description starts with it
  std::vector<std::string> values;  // the choices of a kChoice
  // Integers: the accepted range. Runtime settings leave it to validate(RuntimeSettings), which
  // names the setting's meaning ("steps (diffusion decoder) must be in [1, 1000]").
  std::int64_t min = std::numeric_limits<std::int64_t>::min();
  std::int64_t max = std::numeric_limits<std::int64_t>::max();
  bool runtime = false;  // a setting of the TerraMind runtime (RuntimeSettings), else the engine's
};

// Every shared setting: engine keys (window, overlap, blend, edge, batch), the runtime's keys
// (steps, seed, device, threads) and the TerraMind runtime's options (opt.<name>).
const std::vector<Setting>& settings_table();

// The table's setting with this key (lower case), or nullptr.
const Setting* find_setting(const std::string& key);

// GDAL's open-option type of a setting: int, float, boolean, string, string-select.
const char* gdal_type_name(SettingType type);

// Reads `value` for `setting` into the structs. `shown` names the setting in messages (the
// plugin's key, "--window" for tm_generate). Throws std::invalid_argument: "<shown> must be an
// integer, got 'x'", "<shown> must be in [1, 8192], got 0", "<shown> must be taper or mean, got
// x", "<shown> must be a boolean (true/false, yes/no, on/off, 1/0), got 'x'".
void apply_setting(const Setting& setting, const std::string& shown, const std::string& value,
                   TilingOptions& tiling, RuntimeSettings& runtime);

// GDAL's spellings of a boolean (CPLTestBool) as "true"/"false"; throws as apply_setting.
std::string boolean_setting(const std::string& shown, const std::string& value);

}  // namespace terramind
