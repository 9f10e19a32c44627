// The window grid: regular origins, the last one flush with the far edge.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "tm/tiling.h"

namespace terramind {
namespace {

// Origins along one axis of `length` px. Regular steps of `stride`; the last origin is
// length - window, so it never leaves the raster and the previous window always reaches it
// (the count is the smallest that covers the axis, unlike the reference's off-by-one bound).
std::vector<int> axis_origins(int length, int window, int stride) {
  if (length <= window) return {0};
  const int steps = (length - window + stride - 1) / stride;  // ceil
  std::vector<int> origins;
  for (int i = 0; i < steps; ++i) origins.push_back(i * stride);
  origins.push_back(length - window);
  return origins;
}

}  // namespace

WindowGrid::WindowGrid(int raster_width, int raster_height, int window_size, int overlap)
    : raster_width_(raster_width),
      raster_height_(raster_height),
      window_size_(window_size),
      overlap_(overlap) {
  if (raster_width <= 0 || raster_height <= 0)
    throw std::invalid_argument("window grid: raster size must be positive, got " +
                                std::to_string(raster_width) + "x" + std::to_string(raster_height));
  if (window_size <= 0)
    throw std::invalid_argument("window size must be positive, got " + std::to_string(window_size));
  if (overlap < 0 || overlap >= window_size)
    throw std::invalid_argument("window overlap must be in [0, " + std::to_string(window_size) +
                                "), got " + std::to_string(overlap));
  row_origins_ = axis_origins(raster_height, window_size, stride());
  col_origins_ = axis_origins(raster_width, window_size, stride());
}

PixelWindow WindowGrid::window(int row, int col) const {
  return {col_origins_.at(col), row_origins_.at(row), window_size_, window_size_};
}

PixelWindow WindowGrid::window(std::size_t index) const {
  const int c = cols();
  return window(static_cast<int>(index / c), static_cast<int>(index % c));
}

PixelWindow WindowGrid::footprint(int row, int col) const {
  PixelWindow w = window(row, col);
  w.width = std::min(w.width, raster_width_ - w.x);
  w.height = std::min(w.height, raster_height_ - w.y);
  return w;
}

int WindowGrid::rows_final_after(int row) const {
  if (row < 0) return 0;
  if (row + 1 >= rows()) return raster_height_;
  return row_origins_[row + 1];
}

}  // namespace terramind
