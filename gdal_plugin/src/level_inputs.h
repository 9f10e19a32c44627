// The input scenes of one TM dataset at one level of detail: as they are for full resolution,
// averaged down for an overview. Each dataset opens its own (GDAL handles are per thread).
#pragma once

#include <vector>

#include "generation_settings.h"
#include "tm/window_engine.h"

namespace terramind::gdal_plugin {

using LevelInputs = std::vector<OpenedInput>;

// Opens every input and checks it as generate_scene does (open_scene_inputs): each modality given
// once, the file exists and fits its modality, its pixel size is near the modality's native
// resolution (unless settings.allow_resolution), and all share one grid. Throws RasterError or
// std::invalid_argument naming the file. Whether the model takes the inputs is checked with the
// model (validate_run, GeneratedScene).
LevelInputs open_inputs(const GenerationSettings& settings);

// The inputs resampled to width x height (the same extent), through in-memory VRTs: average for
// measurements, mode for class maps. For overviews.
LevelInputs open_downsampled_inputs(const GenerationSettings& settings, int width, int height);

}  // namespace terramind::gdal_plugin
