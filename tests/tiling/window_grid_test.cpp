// The window grid: every pixel covered, regular steps, last row/column flush, tiny scenes.
#include <gtest/gtest.h>

#include "tm/tiling.h"

using namespace terramind;

namespace {

// Checks one axis of a grid; `origins` for an axis of `length` px.
void expect_axis_covered(const std::vector<int>& origins, int length, int window, int stride) {
  ASSERT_FALSE(origins.empty());
  EXPECT_EQ(origins.front(), 0);
  if (length <= window) {
    EXPECT_EQ(origins.size(), 1u) << "an axis shorter than a window gets one padded window";
    return;
  }
  EXPECT_EQ(origins.back(), length - window) << "last window flush with the far edge";
  for (std::size_t i = 1; i < origins.size(); ++i) {
    EXPECT_GT(origins[i], origins[i - 1]);
    if (i + 1 < origins.size()) {
      EXPECT_EQ(origins[i] - origins[i - 1], stride);
    }
    EXPECT_LE(origins[i] - origins[i - 1], stride) << "gap or less overlap than asked";
  }
  // Minimal: without the flush window the axis would not be covered.
  if (origins.size() >= 2) {
    EXPECT_LT(origins[origins.size() - 2] + window, length);
  }
}

}  // namespace

TEST(WindowGrid, CoversEveryPixelAtOddSizes) {
  const std::vector<std::pair<int, int>> settings{{64, 16}, {224, 32}, {224, 0}, {32, 31}, {5, 2}};
  const std::vector<int> sizes{1, 2, 5, 31, 63, 64, 65, 100, 129, 223, 224, 225, 417, 449, 1001};
  for (const auto& [window, overlap] : settings) {
    for (int width : sizes) {
      for (int height : {1, 7, 225, 333}) {
        SCOPED_TRACE(::testing::Message()
                     << width << "x" << height << " window " << window << " overlap " << overlap);
        const WindowGrid grid(width, height, window, overlap);
        expect_axis_covered(grid.col_origins(), width, window, window - overlap);
        expect_axis_covered(grid.row_origins(), height, window, window - overlap);
        std::vector<int> cover(static_cast<std::size_t>(width) * height, 0);
        for (std::size_t i = 0; i < grid.count(); ++i) {
          const int row = static_cast<int>(i / grid.cols()),
                    col = static_cast<int>(i % grid.cols());
          const PixelWindow w = grid.window(i);
          EXPECT_EQ(w.width, window);
          EXPECT_EQ(w.height, window);
          EXPECT_EQ(w.x, grid.col_origins()[col]) << "row-major numbering";
          EXPECT_EQ(w.y, grid.row_origins()[row]);
          const PixelWindow fp = grid.footprint(row, col);
          ASSERT_GE(fp.x, 0);
          ASSERT_LE(fp.x + fp.width, width);
          ASSERT_LE(fp.y + fp.height, height);
          for (int y = fp.y; y < fp.y + fp.height; ++y)
            for (int x = fp.x; x < fp.x + fp.width; ++x)
              ++cover[static_cast<std::size_t>(y) * width + x];
        }
        EXPECT_EQ(std::count(cover.begin(), cover.end(), 0), 0) << "uncovered pixels";
      }
    }
  }
}

TEST(WindowGrid, SceneSmallerThanOneWindowGetsOnePaddedWindow) {
  const WindowGrid grid(37, 100, 224, 32);
  ASSERT_EQ(grid.count(), 1u);
  const PixelWindow w = grid.window(0, 0);
  EXPECT_EQ(w.x, 0);
  EXPECT_EQ(w.y, 0);
  EXPECT_EQ(w.width, 224) << "the model always sees a full window";
  const PixelWindow fp = grid.footprint(0, 0);
  EXPECT_EQ(fp.width, 37);
  EXPECT_EQ(fp.height, 100);
  EXPECT_EQ(grid.rows_final_after(0), 100);
}

TEST(WindowGrid, ReferenceDefaults) {
  // 224 px windows, 32 px overlap (the reference's stride 192) over a Sentinel-2 tile.
  const WindowGrid grid(10980, 10980);
  EXPECT_EQ(grid.stride(), 192);
  EXPECT_EQ(grid.cols(), 58);
  EXPECT_EQ(grid.col_origins()[56], 56 * 192);
  EXPECT_EQ(grid.col_origins().back(), 10980 - 224);
}

TEST(WindowGrid, RowsBecomeFinalRowByRow) {
  const WindowGrid grid(100, 300, 64, 16);  // row origins 0 48 96 144 192 236
  ASSERT_EQ(grid.rows(), 6);
  EXPECT_EQ(grid.rows_final_after(-1), 0);
  EXPECT_EQ(grid.rows_final_after(0), 48);
  EXPECT_EQ(grid.rows_final_after(4), 236);
  EXPECT_EQ(grid.rows_final_after(5), 300);
}

TEST(WindowGrid, RefusesImpossibleSettings) {
  EXPECT_THROW(WindowGrid(100, 100, 0, 0), std::invalid_argument);
  EXPECT_THROW(WindowGrid(100, 100, 64, 64), std::invalid_argument);
  EXPECT_THROW(WindowGrid(100, 100, 64, -1), std::invalid_argument);
  EXPECT_THROW(WindowGrid(0, 100, 64, 16), std::invalid_argument);
}
