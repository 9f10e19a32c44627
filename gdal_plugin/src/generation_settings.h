// What a TM dataset generates: inputs, target, model and engine settings, however they were given
// (connection string, descriptor file, open options). One vocabulary of keys for all three.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tm/tiling.h"

namespace terramind::gdal_plugin {

// A setting that cannot be used: the message names the key and the problem.
class SettingsError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

struct GenerationSettings {
  std::vector<SceneInput> inputs;    // registry names, resolved paths, in the order given
  std::vector<std::string> targets;  // exactly one opens a raster; none or several: subdatasets
  std::string descriptor;            // absolute path when the settings came from a descriptor

  // Model settings, passed to the runtime (tm_runtime_api.h).
  std::string model;
  std::optional<int> steps;
  std::optional<std::int64_t> seed;
  std::string device;
  std::optional<int> threads;
  std::map<std::string, std::string> runtime_options;  // "opt.<name>" keys

  // Engine settings; the defaults are generate_scene's (TilingOptions), so tm_generate run with
  // the same settings writes the same pixels.
  int window_size = TilingOptions{}.window_size;
  int overlap = TilingOptions{}.overlap;
  BlendWeighting weighting = TilingOptions{}.weighting;
  EdgePolicy edge = TilingOptions{}.edge;
  int batch_size = TilingOptions{}.batch_size;
  int cache_mb = 256;        // window cache of one generated scene
  int overview_levels = -1;  // -1: automatic (halve until one window covers the scene)
};

// Keys that are settings (not modality names), for messages and the open option list.
const std::vector<std::string>& setting_keys();

// Applies one `key=value`. Modality keys (registry names or aliases) add or replace an input;
// relative input paths are taken relative to `base_dir`, as is the model when such a file exists.
// Throws SettingsError.
void apply_setting(GenerationSettings& settings, const std::string& key, const std::string& value,
                   const std::string& base_dir);

// Canonical name of a key: lower-case setting key, or the registry name of a modality key.
// Throws SettingsError for an unknown key.
std::string canonical_key(const std::string& key);

// Refuses settings that cannot generate anything (no input, overlap >= window ...).
void validate(const GenerationSettings& settings);

// The settings_json handed to the runtime's open_model (model settings only: one model instance
// serves every target and input it supports).
std::string runtime_settings_json(const GenerationSettings& settings);

}  // namespace terramind::gdal_plugin
