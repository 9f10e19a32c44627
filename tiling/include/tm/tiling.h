// tm/tiling.h — the scene side of tm (public header of tm_tiling).
//
// Umbrella header: includes every part of tm_tiling's API. Code that needs only one part can
// include its header instead:
//   tm/raster_io.h     reading scenes and checking them against registry modalities, reading
//                      windows, writing GeoTIFF / COG outputs atomically, GDAL helpers
//   tm/pixel_window.h  PixelWindow and EdgePolicy
//   tm/window_model.h  the model-agnostic compute interface (WindowModel and its batches)
//   tm/blending.h      the window grid, blend weights and accumulator, seam metric
//   tm/pipeline.h      the streaming pipeline (generate_scene), areas, provenance
//   tm/interrupt.h     Ctrl-C handling
//   tm/option_names.h  names of the engine's choices (blend weighting, edge policy)
//   tm/settings.h      the settings tm_generate and the plugin share (RuntimeSettings, table)
//   tm/quicklook.h     PNG quicklooks of rasters
//   tm/stac_item.h     scene inputs from a STAC Item
// GDAL is an implementation detail: it does not appear in these headers. Knows nothing about
// argument parsing or about the model.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tm/blending.h"
#include "tm/interrupt.h"
#include "tm/option_names.h"
#include "tm/pipeline.h"
#include "tm/pixel_window.h"
#include "tm/quicklook.h"  // PNG quicklooks of rasters
#include "tm/raster_io.h"
#include "tm/registry.h"
#include "tm/settings.h"
#include "tm/window_model.h"

#include "tm/stac_item.h"      // scene inputs from a STAC Item
#include "tm/window_engine.h"  // the shared pieces of the window engine
