// Blending window outputs over a ring of raster rows.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "tm/tiling.h"
#include "tm/window_engine.h"

namespace terramind {
namespace {

// The accumulator's ring as blend sums: the whole raster, one window height of rows stored.
BlendSums ring_of(const WindowGrid& grid, int channels, int capacity, std::vector<double>& sums,
                  std::vector<double>& weight_sums) {
  return {{0, 0, grid.raster_width(), grid.raster_height()},
          channels,
          capacity,
          sums.data(),
          weight_sums.data()};
}

}  // namespace

BlendAccumulator::BlendAccumulator(const WindowGrid& grid, int channels, BlendWeighting weighting)
    : grid_(grid),
      weights_(grid, weighting),
      channels_(channels),
      capacity_(std::min(grid.window_size(), grid.raster_height())) {
  if (channels <= 0) throw std::invalid_argument("blend accumulator needs at least one channel");
  const std::size_t width = grid.raster_width();
  sums_.assign(static_cast<std::size_t>(capacity_) * channels_ * width, 0.0);
  weight_sums_.assign(static_cast<std::size_t>(capacity_) * width, 0.0);
}

std::size_t BlendAccumulator::slot(int raster_row) const {
  return static_cast<std::size_t>(raster_row % capacity_);
}

int BlendAccumulator::active_rows() const { return std::max(0, touched_end_ - top_); }

std::size_t BlendAccumulator::bytes() const {
  return (sums_.size() + weight_sums_.size()) * sizeof(double);
}

void BlendAccumulator::add(int row, int col, const float* values, const std::uint8_t* valid) {
  // The ring holds one window height: the rows above must have been handed out.
  if (row != next_window_row_)
    throw std::logic_error("blend: window row " + std::to_string(row) +
                           (row < next_window_row_
                                ? " is already finished"
                                : " added before the rows above it were finished"));
  blend_add(ring_of(grid_, channels_, capacity_, sums_, weight_sums_), grid_, weights_, row, col,
            values, valid);
  const PixelWindow fp = grid_.footprint(row, col);
  touched_end_ = std::max(touched_end_, fp.y + fp.height);
  peak_active_ = std::max(peak_active_, active_rows());
}

std::vector<double> BlendAccumulator::alignment_offset(int row, int col, const float* values,
                                                       const std::uint8_t* valid) const {
  const PixelWindow fp = grid_.footprint(row, col);
  const int size = grid_.window_size();
  const std::size_t plane = static_cast<std::size_t>(size) * size;
  const std::size_t width = grid_.raster_width();
  std::vector<double> total(channels_, 0.0);
  std::size_t count = 0;
  for (int r = 0; r < fp.height; ++r) {
    const int y = fp.y + r;
    if (y < top_ || y >= touched_end_) continue;  // nothing blended there yet
    const std::size_t s = slot(y);
    for (int c = 0; c < fp.width; ++c) {
      const std::size_t pixel = static_cast<std::size_t>(r) * size + c;
      const double weight = weight_sums_[s * width + fp.x + c];
      if (weight <= 0.0 || (valid && !valid[pixel])) continue;
      ++count;
      for (int ch = 0; ch < channels_; ++ch) {
        const double blended = sums_[(s * channels_ + ch) * width + fp.x + c] / weight;
        total[ch] += blended - values[ch * plane + pixel];
      }
    }
  }
  if (count > 0)
    for (double& t : total) t /= static_cast<double>(count);
  return total;
}

void BlendAccumulator::start_at(int window_row) {
  if (next_window_row_ != 0 || touched_end_ != 0)
    throw std::logic_error("blend: start_at on an accumulator already in use");
  if (window_row < 0 || window_row > grid_.rows())
    throw std::out_of_range("blend: no window row " + std::to_string(window_row));
  next_window_row_ = window_row;
  top_ = window_row < grid_.rows() ? grid_.window(window_row, 0).y : grid_.raster_height();
  touched_end_ = top_;
}

FinishedRows BlendAccumulator::finish_through(int window_row) {
  FinishedRows out;
  finish_through(window_row, out);
  return out;
}

void BlendAccumulator::finish_through(int window_row, FinishedRows& out) {
  out.width = grid_.raster_width();
  out.channels = channels_;
  out.y0 = top_;
  out.rows = 0;
  if (window_row >= next_window_row_) {
    next_window_row_ = std::min(window_row + 1, grid_.rows());
    out.rows = std::max(0, grid_.rows_final_after(window_row) - top_);
  }
  const std::size_t plane = static_cast<std::size_t>(out.rows) * out.width;
  out.values.resize(plane * channels_);  // every pixel is written
  out.valid.resize(plane);
  blend_normalise(ring_of(grid_, channels_, capacity_, sums_, weight_sums_), top_, out.rows,
                  out.values.data(), out.valid.data(), true);
  top_ += out.rows;
}

}  // namespace terramind
