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
  std::optional<std::int64_t> steps;
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
  // opt.allow_resolution: inputs whose pixel size is far from their modality's native resolution
  // are accepted (tm_generate --allow-resolution). Read by the plugin, never passed to the runtime.
  bool allow_resolution = false;
};

// One key of the vocabulary: the parser's key list, the driver's open option list
// (GDAL_DMD_OPENOPTIONLIST, upper-case names) and gdal_plugin/README.md's tables all follow it.
// The engine's and the runtime's keys come from the table tm_generate's options are generated
// from too (tm/settings.h): same names, types, defaults and help.
struct SettingKey {
  std::string name;           // lower case; runtime options as "opt.<name>"
  std::string type;           // as GDAL open options declare it: int, float, boolean, string ...
  std::string default_value;  // empty: the runtime's default, or none
  std::string description;
  std::vector<std::string> values;  // the choices of a string-select
  bool open_option = true;          // declared as an open option (descriptor= is not)
};

// Every setting key, then the runtime options of the TerraMind runtime (runtime/): "opt.<name>".
// The plugin's own keys (target, model, cache_mb, overviews, descriptor) and the shared settings
// of tm/settings.h, in one order.
// Other opt.<name> keys are passed through to whatever runtime is loaded as well.
const std::vector<SettingKey>& setting_table();

// The engine options the settings stand for, as tm_generate passes them to generate_scene.
TilingOptions engine_options(const GenerationSettings& settings);

// Names of the table's setting keys (not the opt.* ones), for messages.
const std::vector<std::string>& setting_keys();

// Applies one `key=value`; shared settings through terramind::apply_setting (the messages of
// tm_generate, with the key's name). Modality keys (registry names or aliases) add or replace an
// input; relative input paths are taken relative to `base_dir`, as is the model when such a file
// exists. Throws SettingsError.
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
