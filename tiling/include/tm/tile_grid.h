// tm/tile_grid.h — square tiles on a fixed grid from a raster's origin (part of tm_tiling).
//
// The grid of self-contained tiles: tm_tokenize encodes every tile on its own and decodes the same
// grid again, on the scene's pixels and on its token raster alike (the cell there is the tile side
// / the patch size). Unlike WindowGrid (tm/blending.h), tiles do not overlap, nothing is blended,
// and the last row and column are not moved back flush with the far edge: they reach past the
// raster (read with an edge policy, their results cropped), so a tile's position depends only on
// its index, on both grids.
#pragma once

#include <cstddef>

#include "tm/pixel_window.h"

namespace terramind {

class TileGrid {
 public:
  // std::invalid_argument unless the raster size and the cell are positive.
  TileGrid(int raster_width, int raster_height, int cell_size);

  int raster_width() const { return raster_width_; }
  int raster_height() const { return raster_height_; }
  int cell_size() const { return cell_; }
  int cols() const { return cols_; }
  int rows() const { return rows_; }
  int count() const { return cols_ * rows_; }

  // Tile `index` (row-major), the full cell_size square.
  PixelWindow tile(int index) const;
  // The part of tile `index` inside the raster.
  PixelWindow footprint(int index) const;

 private:
  int raster_width_, raster_height_, cell_, cols_, rows_;
};

}  // namespace terramind
