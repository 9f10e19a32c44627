// Fixed tile grids from the raster origin (tm/tile_grid.h).
#include "tm/tile_grid.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace terramind {
namespace {

int ceil_div(int a, int b) { return (a + b - 1) / b; }

}  // namespace

TileGrid::TileGrid(int raster_width, int raster_height, int cell_size)
    : raster_width_(raster_width), raster_height_(raster_height), cell_(cell_size) {
  if (raster_width <= 0 || raster_height <= 0)
    throw std::invalid_argument("tile grid: raster size must be positive, got " +
                                std::to_string(raster_width) + "x" + std::to_string(raster_height));
  if (cell_size <= 0)
    throw std::invalid_argument("tile size must be positive, got " + std::to_string(cell_size));
  cols_ = ceil_div(raster_width, cell_size);
  rows_ = ceil_div(raster_height, cell_size);
}

PixelWindow TileGrid::tile(int index) const {
  return {(index % cols_) * cell_, (index / cols_) * cell_, cell_, cell_};
}

PixelWindow TileGrid::footprint(int index) const {
  PixelWindow w = tile(index);
  w.width = std::min(w.width, raster_width_ - w.x);
  w.height = std::min(w.height, raster_height_ - w.y);
  return w;
}

}  // namespace terramind
