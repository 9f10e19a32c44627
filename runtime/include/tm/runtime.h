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

#include "tm/settings.h"  // RuntimeSettings
#include "tm/window_model.h"

namespace terramind {

// RuntimeSettings (model, targets, steps, sampling, seed, device ...) live in tm/settings.h, with
// the settings table tm_generate and the plugin share.

// Refuses (std::invalid_argument naming the setting and its valid range) settings that cannot
// run: no model, temperature < 0 or not finite, top_p outside [0, 1], steps < 1, threads < 0 ...
void validate(const RuntimeSettings& settings);

// Parses the plugin's settings JSON (gdal_plugin/tm_runtime_api.h); unknown options are refused.
RuntimeSettings runtime_settings_from_json(const std::string& json_text);

// Loads the model and the tokenizers of its targets. std::invalid_argument / CheckpointError with
// a clear message on bad settings, missing files, or targets the model cannot produce.
std::unique_ptr<WindowModel> open_terramind_window_model(const RuntimeSettings& settings);

}  // namespace terramind
