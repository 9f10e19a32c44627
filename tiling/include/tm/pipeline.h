// tm/pipeline.h — the streaming pipeline of tiled inference (part of tm_tiling; included by
// tm/tiling.h).
//
// Drives any WindowModel (tm/window_model.h) over a scene read with tm/raster_io.h, blends with
// tm/blending.h and writes every target in one pass; also the provenance of generated rasters.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tm/blending.h"
#include "tm/interrupt.h"  // Interrupted, install_interrupt_handlers
#include "tm/pixel_window.h"
#include "tm/raster_io.h"
#include "tm/registry.h"
#include "tm/window_model.h"

namespace terramind {

// =============================================================================================
// Tiled inference: window grid, blending, the model-agnostic compute interface and the streaming
// pipeline read -> fill/normalise -> batch -> infer -> blend -> write.

// Reads one input window for a model exactly as generate_scene does: the reader's nodata, NaN and
// +-inf pixels are invalid, and so are values no sensor produces (more than
// kImplausibleStdDevs registry standard deviations from the modality's mean, e.g. 3e38 in an S-2
// band), so they never reach the network. Engines that generate windows on demand (the GDAL
// plugin) use it to match tm_generate.
constexpr double kImplausibleStdDevs = 1e4;
WindowData read_input_window(const SceneReader& reader, const Modality& modality,
                             const PixelWindow& window, EdgePolicy edge);

// Fills the invalid pixels of one input window and standardises it exactly as generate_scene does
// before infer(): writes values [channel][row][col] and validity [row][col] into one batch slot.
// Public for engines that generate windows on demand (the GDAL plugin) and must match tm_generate.
void prepare_window(const WindowData& data, const Modality& modality,
                    std::optional<StatsVersion> standardise, float* values_out,
                    std::uint8_t* valid_out);

// ---------------------------------------------------------------------------------------------
// The streaming pipeline.

struct SceneInput {
  SceneInput() = default;
  SceneInput(std::string scene_path, std::string modality_name, std::string origin_path = {})
      : path(std::move(scene_path)),
        modality(std::move(modality_name)),
        origin(std::move(origin_path)) {}

  std::string path;
  std::string modality;  // registry name or alias
  std::string origin;    // the user's file when `path` is derived from it (an area's VRT)
};

// A part of the scene to generate: a box (in the inputs' CRS, or `box_crs`), and/or the polygons
// of a vector file (OGR; pixels outside them are nodata, so windows there are skipped).
struct AreaOfInterest {
  bool has_box = false;
  std::array<double, 4> box{};  // min x, min y, max x, max y
  std::string box_crs;          // "" : the inputs' CRS
  std::string cutline;          // vector file path; "" : none
  bool empty() const { return !has_box && cutline.empty(); }
};

// The inputs cropped to `area` as virtual rasters (/vsimem/ VRTs) on the inputs' own grid (no
// resampling: the box snaps to whole pixels). Throws RasterError when the area misses a scene.
std::vector<SceneInput> crop_to_area(const std::vector<SceneInput>& inputs,
                                     const AreaOfInterest& area);

struct TargetRequest {
  TargetRequest() = default;
  TargetRequest(std::string target_name, std::string output_path,
                std::string probabilities_output = {})
      : target(std::move(target_name)),
        path(std::move(output_path)),
        probabilities_path(std::move(probabilities_output)) {}

  std::string target;              // one of WindowModel::targets()
  std::string path;                // continuous raster, or class raster with colour table
  std::string probabilities_path;  // class targets only: also write blended probabilities
  // Continuous targets (DEM): before blending, shift each window by the mean difference to what
  // its left and upper neighbours already blended (BlendAccumulator::alignment_offset), so
  // per-window levels leave no patch grid. Works while streaming; the first window of a connected
  // area sets the level, and small alignment errors can accumulate over long distances.
  bool harmonise_offsets = false;
};

struct TilingOptions {
  int window_size = 224;
  int overlap = 32;
  int batch_size = 4;             // windows per infer() call
  int threads = 0;                // TBB threads for reading, blending and writing; 0: all cores
  int max_batches_in_flight = 3;  // one per stage: read, infer, blend + write
  BlendWeighting weighting = BlendWeighting::kTaper;
  EdgePolicy edge = EdgePolicy::kReflect;  // for windows larger than the raster
  OpenOptions open;
  WriteOptions write;
  // GDAL's block cache is capped to this during the run (0: left alone). It must hold the input
  // tiles of one window row (two rows of 512-px tiles of a 12-band UInt16 10980-px scene: 276 MB)
  // plus the outputs' working tiles; GDAL's default (5 % of RAM) would dominate memory.
  std::size_t gdal_cache_bytes = std::size_t(384) << 20;
  // Called after each batch is blended: windows done (skipped ones included) and total. Runs on a
  // pipeline thread, one call at a time.
  std::function<void(std::size_t done, std::size_t total)> progress;
  // Keep finished rows in resumable working files with a checkpoint beside the first output, and
  // continue from them when an earlier run with the same inputs, model and settings was stopped.
  // Windows are regenerated from the last complete row on, with their own seeds, so the result
  // equals an uninterrupted run. Not with harmonise_offsets (its alignment chains every window).
  bool resume = false;
  // Where this raster's pixel (0, 0) lies in a larger pixel grid (a mosaic's, tm/mosaic.h):
  // windows reach the model at their position in that grid, so per-window seeds, and so the
  // pixels, do not depend on which part of the grid a run covers. (0, 0): the raster is the grid.
  int grid_offset_x = 0;
  int grid_offset_y = 0;
};

struct TilingSummary {
  std::size_t windows = 0;   // in the grid
  std::size_t inferred = 0;  // passed to the model
  std::size_t skipped = 0;   // all inputs all nodata
  std::size_t batches = 0;
  double seconds = 0.0;        // wall time, commits included
  double model_seconds = 0.0;  // inside WindowModel::infer
  int peak_band_rows = 0;      // most raster rows an accumulator held (<= window size)
  std::size_t accumulator_bytes = 0;
  std::size_t peak_rss_bytes = 0;  // process peak resident set (getrusage) at the end
  std::vector<std::string> outputs;
  std::vector<std::string> warnings;
  int resumed_rows = 0;  // raster rows an interrupted run had finished (resume), of raster_rows
  int raster_rows = 0;
  double model_busy_share() const { return seconds > 0.0 ? model_seconds / seconds : 0.0; }
};

// The provenance of one generated raster, for every tool and the plugin alike: tm's items
// (AI_GENERATED=YES, TARGET, TM_VERSION, CREATED, INPUT_<modality>, the window settings and the
// model's provenance(); files carry them as TM_<KEY>, the plugin's datasets also in a "TM" domain)
// and standard TIFF tags (software, date, a description saying the raster is AI-generated). The
// date is now, or SOURCE_DATE_EPOCH when set (reproducible outputs).
struct OutputProvenance {
  std::map<std::string, std::string> tm_domain;
  std::map<std::string, std::string> tiff_tags;  // default domain, TIFFTAG_*
};
OutputProvenance output_provenance(const WindowModel& model, const std::vector<SceneInput>& inputs,
                                   const TilingOptions& options, const std::string& target);
// The same for any tool: tm's items (AI_GENERATED when `ai_generated`, TARGET, VERSION, CREATED,
// INPUT_<modality>) plus `items`, and the TIFF tags naming `made_by`.
OutputProvenance tool_provenance(const std::string& target, const std::string& made_by,
                                 const std::vector<SceneInput>& inputs,
                                 const std::map<std::string, std::string>& items,
                                 bool ai_generated);

// Throws std::invalid_argument unless a model's TargetSpec can be written (channels, classes fit
// a Byte raster, known data type). `target` names it in the message.
void validate_target_spec(const TargetSpec& spec, const std::string& target);

// Runs `model` over the scene given by `inputs` and writes every requested target in one pass
// (each window is inferred once for all targets), with at most one band of window rows in memory.
//
// Inputs are opened, checked against their modality and against each other (one grid: size, CRS,
// geotransform) before any work; outputs are checked before any work and written atomically, on
// the inputs' grid, bit for bit. Windows where every input is nodata are not inferred. In other
// windows, invalid pixels of an input are filled with the mean of that band's valid pixels in the
// window (the modality's registry mean when the input has none there), so the model sees
// plausible values; the model also gets the masks. Output pixels where no input holds data are
// nodata. Class targets are blended as probabilities and written as the arg-max class (Byte, with
// colour table; nodata where no input holds data); probabilities optionally as Byte percentages,
// one band per class but the "No data" class, nodata 255.
// Ctrl-C (see install_interrupt_handlers) throws Interrupted and leaves no output behind.
TilingSummary generate_scene(const std::vector<SceneInput>& inputs, WindowModel& model,
                             const std::vector<TargetRequest>& targets,
                             const TilingOptions& options = {});

}  // namespace terramind
