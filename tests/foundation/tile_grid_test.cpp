// tm/tile_grid.h: tokenizer tiles on a fixed grid from the origin, the last ones past the edge.
#include "tm/tile_grid.h"

#include <gtest/gtest.h>

#include <stdexcept>

using namespace terramind;

TEST(TileGrid, FixedCellsFromTheOriginReachPastTheEdge) {
  const TileGrid grid(500, 230, 224);
  EXPECT_EQ(grid.cols(), 3);
  EXPECT_EQ(grid.rows(), 2);
  EXPECT_EQ(grid.count(), 6);
  const PixelWindow last = grid.tile(5);  // not moved back flush, unlike WindowGrid
  EXPECT_EQ(last.x, 448);
  EXPECT_EQ(last.y, 224);
  EXPECT_EQ(last.width, 224);
  EXPECT_EQ(last.height, 224);
  const PixelWindow inside = grid.footprint(5);
  EXPECT_EQ(inside.x, 448);
  EXPECT_EQ(inside.width, 52);
  EXPECT_EQ(inside.height, 6);
  const PixelWindow first = grid.footprint(0);
  EXPECT_EQ(first.width, 224);
  EXPECT_EQ(first.height, 224);
}

TEST(TileGrid, TokenGridMatchesThePixelGrid) {
  // 16 px per token: tile i covers the same ground on the scene and on its token raster.
  const TileGrid pixels(500, 230, 224), tokens(32, 15, 224 / 16);
  ASSERT_EQ(pixels.count(), tokens.count());
  for (int i = 0; i < pixels.count(); ++i) {
    EXPECT_EQ(pixels.tile(i).x, tokens.tile(i).x * 16);
    EXPECT_EQ(pixels.tile(i).y, tokens.tile(i).y * 16);
  }
}

TEST(TileGrid, RefusesEmptyRastersAndCells) {
  EXPECT_THROW(TileGrid(0, 10, 16), std::invalid_argument);
  EXPECT_THROW(TileGrid(10, 10, 0), std::invalid_argument);
}
