// tm/window_engine.h — the shared pieces of the window engine (part of tm_tiling's public API).
//
// Every driver of a WindowModel over a scene — generate_scene's streaming pipeline, the GDAL
// plugin's on-demand blocks — checks the run, reads one grid cell and blends windows with these
// pieces, so they cannot drift apart; a driver only decides which windows to run and where the
// results go. No TBB here: the GDAL plugin links these without the pipeline.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tm/blending.h"      // WindowGrid, BlendWeights
#include "tm/pipeline.h"      // SceneInput, read_input_window, prepare_window
#include "tm/pixel_window.h"  // PixelWindow, EdgePolicy
#include "tm/raster_io.h"     // SceneReader, OpenOptions, WindowData
#include "tm/registry.h"
#include "tm/window_model.h"  // WindowModel, TargetSpec

namespace terramind {

// ---------------------------------------------------------------------------------------------
// Checking a run before any window is read.

// What a run of `model` needs, once its checks passed.
struct RunPlan {
  std::vector<const Modality*> inputs;      // the registry modality of each input, in order
  std::vector<TargetSpec> targets;          // model.spec() of each target, in request order
  std::optional<StatsVersion> standardise;  // model.input_standardisation()
};

// Checks that `model` can run windows of `window_size` px (a multiple of its
// window_size_multiple()) on `inputs` (at least one; registry modalities, each given once, each
// taken by the model and standardisable as it wants) and make `targets` (at least one; each
// offered by the model, requested once, with a TargetSpec that can be written). Throws
// std::invalid_argument naming the problem; opens no file.
RunPlan validate_run(const WindowModel& model, const std::vector<SceneInput>& inputs,
                     const std::vector<std::string>& targets, int window_size);

// The registry modality of each input, in order; throws std::invalid_argument when none is
// given or when a modality is given twice (aliases included).
std::vector<const Modality*> input_modalities(const std::vector<SceneInput>& inputs);

// ---------------------------------------------------------------------------------------------
// Opening the inputs.

// One input scene, opened and checked.
struct OpenedInput {
  const Modality* modality = nullptr;
  SceneReader reader;
  std::string name;  // the user's file, for messages (SceneInput::origin, else its path)
};

// Opens every input and checks it as generate_scene does: registry modalities, each given once
// (input_modalities), the raster fits its modality (require_modality), its pixel size is near the
// modality's native resolution unless options.allow_any_resolution (`resolution_hint` is appended
// to that refusal, e.g. how to allow it), and every input is on the first one's grid. Warnings of
// opening (accepted without georeferencing) are appended to `warnings` when given. Throws
// RasterError or std::invalid_argument naming the file.
std::vector<OpenedInput> open_scene_inputs(const std::vector<SceneInput>& inputs,
                                           const OpenOptions& options,
                                           const std::string& resolution_hint = {},
                                           std::vector<std::string>* warnings = nullptr);

// ---------------------------------------------------------------------------------------------
// One window of a WindowGrid, by its row and column.
struct GridCell {
  int row = 0;
  int col = 0;
};

// Reading one grid cell: read every input (read_input_window), skip the window when no input
// holds data there, otherwise prepare each input for the model (prepare_window) into the caller's
// buffers. Keeps its read buffers between windows; one reader per thread.
class CellReader {
 public:
  // `inputs` must outlive the reader.
  CellReader(const std::vector<OpenedInput>& inputs, EdgePolicy edge,
             std::optional<StatsVersion> standardise);

  // Reads `window` of every input; false when no input holds a valid pixel there (the window is
  // skipped: nothing to generate from, its outputs stay nodata).
  bool read(const PixelWindow& window);
  // After read() returned true: input `input` of that window, invalid pixels filled and
  // standardised as the model wants, into values [channel][row][col] (channels x width x height
  // floats) and valid [row][col] (1 where the raster held data).
  void prepare(std::size_t input, float* values, std::uint8_t* valid) const;
  // After read() returned true: [row][col] 1 where any input holds data.
  void any_valid(std::uint8_t* mask) const;
  // read(), then, unless skipped, every input's prepare() into values[i] / valids[i] and
  // any_valid() into `mask`. False (nothing written) when the window is skipped.
  bool read_prepared(const PixelWindow& window, float* const* values, std::uint8_t* const* valids,
                     std::uint8_t* mask);

  std::size_t inputs() const { return inputs_->size(); }

 private:
  const std::vector<OpenedInput>* inputs_;
  EdgePolicy edge_;
  std::optional<StatsVersion> standardise_;
  std::vector<WindowData> reads_;
};

// ---------------------------------------------------------------------------------------------
// Blending: weighted sums of C-channel window outputs over a rectangle of raster pixels, in
// double precision (identical contributions normalise back to exactly the same float). The one
// blend arithmetic of tm: BlendAccumulator streams a scene through it, the GDAL plugin blends
// each block with it, so both give the same pixels when they add the same windows in the same
// (row-major) order.

// Where the sums are: storage the caller owns, over the raster pixels of `area`. With
// ring_rows > 0 only that many rows are stored and raster row y is storage row
// (y - area.y) % ring_rows (a ring of rows, recycled by blend_normalise); otherwise storage row
// y - area.y.
struct BlendSums {
  PixelWindow area;
  int channels = 1;
  int ring_rows = 0;
  double* sums = nullptr;     // [storage row][channel][col]: sum of weight * value
  double* weights = nullptr;  // [storage row][col]: sum of weights
};

// Adds the output `values` [channel][row][col] (window_size^2 per channel) of window (row, col)
// of `grid`, weighted by `weights`, where its footprint overlaps the sums' area. Pixels with
// valid[r * window_size + c] == 0 (valid may be null: all valid) add nothing.
void blend_add(const BlendSums& into, const WindowGrid& grid, const BlendWeights& weights, int row,
               int col, const float* values, const std::uint8_t* valid);

// Raster rows [y0, y0 + rows) of the sums, over the area's width, normalised into values
// [channel][row][col] (rows x width per channel; NaN where nothing was added) and valid
// [row][col] (1 where something was). With `recycle`, the sums handed out are zeroed for reuse.
void blend_normalise(const BlendSums& from, int y0, int rows, float* values, std::uint8_t* valid,
                     bool recycle);

}  // namespace terramind
