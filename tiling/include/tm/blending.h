// tm/blending.h — the window grid and blending of window outputs (part of tm_tiling; included by
// tm/tiling.h).
//
// Windows on a raster, per-window blend weights, the streaming accumulator that hands out finished
// raster rows, and a seam metric.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tm/pixel_window.h"

namespace terramind {

// Square windows of `window_size` px whose origins step by window_size - overlap; the last row and
// column are placed flush with the far edge, so every pixel is covered and no window leaves the
// raster. An axis shorter than one window gets a single window at 0 that extends past the raster:
// it is read with an edge policy and its output is cropped. Windows are numbered row-major.
class WindowGrid {
 public:
  WindowGrid(int raster_width, int raster_height, int window_size = 224, int overlap = 32);

  int raster_width() const { return raster_width_; }
  int raster_height() const { return raster_height_; }
  int window_size() const { return window_size_; }
  int overlap() const { return overlap_; }
  int stride() const { return window_size_ - overlap_; }
  int rows() const { return static_cast<int>(row_origins_.size()); }
  int cols() const { return static_cast<int>(col_origins_.size()); }
  std::size_t count() const { return row_origins_.size() * col_origins_.size(); }
  const std::vector<int>& row_origins() const { return row_origins_; }
  const std::vector<int>& col_origins() const { return col_origins_; }

  PixelWindow window(int row, int col) const;  // full window_size square
  PixelWindow window(std::size_t index) const;
  PixelWindow footprint(int row, int col) const;  // the window cropped to the raster
  // Once window rows 0..row are blended, raster rows [0, rows_final_after(row)) are complete.
  int rows_final_after(int row) const;

 private:
  int raster_width_, raster_height_, window_size_, overlap_;
  std::vector<int> row_origins_, col_origins_;
};

enum class BlendWeighting {
  kMean,   // every window counts the same (plain mean, as in the TerraMind paper)
  kTaper,  // raised-cosine ramps across each overlap: no seams (default)
};

// Separable per-window weights: weight = row_weights(window row)[r] * col_weights(window col)[c].
// Along each axis the weights of the windows covering a pixel sum to 1 (partition of unity, also
// at the irregular flush last window); weights are 0 outside the raster. kTaper ramps over the
// real overlap with each neighbour and is 1 where a window has no neighbour (raster edges).
class BlendWeights {
 public:
  BlendWeights(const WindowGrid& grid, BlendWeighting weighting);
  const std::vector<float>& row_weights(int window_row) const { return rows_.at(window_row); }
  const std::vector<float>& col_weights(int window_col) const { return cols_.at(window_col); }
  float at(int window_row, int window_col, int r, int c) const {
    return rows_[window_row][r] * cols_[window_col][c];
  }

 private:
  std::vector<std::vector<float>> rows_, cols_;
};

// Complete raster rows handed out by a BlendAccumulator over the full raster width: normalised
// values, band-sequential [channel][row][col], NaN where no window contributed, and the validity
// [row][col] (1 where some window contributed).
struct FinishedRows {
  int y0 = 0;
  int rows = 0;
  int width = 0;
  int channels = 0;
  std::vector<float> values;
  std::vector<std::uint8_t> valid;

  float at(int channel, int row, int col) const {
    return values[(static_cast<std::size_t>(channel) * rows + row) * width + col];
  }
};

// Weighted sum of C-channel window outputs over a band of raster rows (double precision, so
// identical contributions normalise back to exactly the same float). Windows arrive in row-major
// order; finish_through(r) hands out the rows that no later window touches and recycles them, so
// at most one window height of rows is ever held, whatever the raster height.
class BlendAccumulator {
 public:
  BlendAccumulator(const WindowGrid& grid, int channels,
                   BlendWeighting weighting = BlendWeighting::kTaper);

  // Adds a window output `values` [channel][r][c] (window_size^2 per channel) at grid cell
  // (row, col); pixels with valid[r * window_size + c] == 0 (or outside the raster) add nothing
  // and stay nodata unless another window holds them. Window rows before `row` must be finished.
  void add(int row, int col, const float* values, const std::uint8_t* valid = nullptr);

  // Per channel: the mean of (blended so far - window) over the window's valid pixels that already
  // hold blended data; the additive offset that aligns the window with its processed neighbours
  // (left and above). 0 for a channel without overlap.
  std::vector<double> alignment_offset(int row, int col, const float* values,
                                       const std::uint8_t* valid = nullptr) const;

  // Declares window rows up to `window_row` complete and returns the raster rows that became
  // final (possibly none).
  FinishedRows finish_through(int window_row);
  // The same into `out`, reusing its buffers (no page faults for a new strip every window row).
  void finish_through(int window_row, FinishedRows& out);
  // For a resumed run, on a fresh accumulator: window rows before `window_row` are not coming;
  // the raster rows they alone cover count as handed out (another run wrote them).
  void start_at(int window_row);

  int channels() const { return channels_; }
  int finished_rows() const { return top_; }  // raster rows handed out so far
  int active_rows() const;                    // raster rows held now
  int peak_active_rows() const { return peak_active_; }
  std::size_t bytes() const;  // memory of the band

 private:
  std::size_t slot(int raster_row) const;
  WindowGrid grid_;
  BlendWeights weights_;
  int channels_;
  int capacity_;         // rows in the ring: min(window size, raster height)
  int top_ = 0;          // first raster row not yet handed out
  int touched_end_ = 0;  // one past the last raster row touched
  int next_window_row_ = 0;
  int peak_active_ = 0;
  std::vector<double> sums_;         // [slot row][channel][col]: sum of weight * value
  std::vector<double> weight_sums_;  // [slot row][col]
};

// Where windows and rows cross, mean |difference| of neighbouring pixels: `seam_step` over pairs
// in window overlaps or across window borders, `interior_step` over pairs inside one window.
// ratio() near 1: no visible window grid; well above 1: a patch grid (e.g. DEM offsets).
// Pairs with a NaN pixel are ignored.
struct SeamStrength {
  double seam_step = 0.0;
  double interior_step = 0.0;
  std::size_t seam_pairs = 0;
  std::size_t interior_pairs = 0;
  double ratio() const { return interior_step > 0.0 ? seam_step / interior_step : 0.0; }
};

// `image` is one band, row-major, of the grid's raster size.
SeamStrength measure_seams(const float* image, const WindowGrid& grid);
// Band `band` (1-based) of a raster of the grid's size; nodata pixels are ignored.
SeamStrength measure_seams(const std::string& raster_path, const WindowGrid& grid, int band = 1);

}  // namespace terramind
