// Blend weights and the row-band accumulator.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "tm/tiling.h"

using namespace terramind;

namespace {

// Sum over the windows covering each pixel of one axis.
std::vector<double> axis_sums(const std::vector<int>& origins, int length,
                              const std::function<const std::vector<float>&(int)>& weights) {
  std::vector<double> sum(length, 0.0);
  for (std::size_t i = 0; i < origins.size(); ++i) {
    const std::vector<float>& w = weights(static_cast<int>(i));
    for (std::size_t t = 0; t < w.size(); ++t) {
      if (origins[i] + static_cast<int>(t) < length)
        sum[origins[i] + t] += w[t];
      else
        EXPECT_EQ(w[t], 0.0f) << "weight outside the raster";
    }
  }
  return sum;
}

// Feeds every window of `grid` to `acc` with values[c][r][col] = value(window, r, col).
std::vector<FinishedRows> blend_all(
    const WindowGrid& grid, BlendAccumulator& acc,
    const std::function<float(const PixelWindow&, int, int)>& value) {
  const int size = grid.window_size();
  std::vector<float> window(static_cast<std::size_t>(acc.channels()) * size * size);
  std::vector<FinishedRows> out;
  for (int row = 0; row < grid.rows(); ++row) {
    for (int col = 0; col < grid.cols(); ++col) {
      const PixelWindow w = grid.window(row, col);
      for (int ch = 0; ch < acc.channels(); ++ch)
        for (int r = 0; r < size; ++r)
          for (int c = 0; c < size; ++c)
            window[(static_cast<std::size_t>(ch) * size + r) * size + c] = value(w, r, c) + ch;
      acc.add(row, col, window.data());
    }
    out.push_back(acc.finish_through(row));
  }
  return out;
}

}  // namespace

TEST(BlendWeights, SumToOneAtEveryPixel) {
  for (const BlendWeighting weighting : {BlendWeighting::kMean, BlendWeighting::kTaper}) {
    for (const auto& [window, overlap] :
         std::vector<std::pair<int, int>>{{64, 16}, {224, 32}, {32, 31}, {64, 0}}) {
      for (int length : {1, 50, 64, 65, 200, 417, 1001}) {
        SCOPED_TRACE(::testing::Message()
                     << "length " << length << " window " << window << " overlap " << overlap
                     << (weighting == BlendWeighting::kMean ? " mean" : " taper"));
        const WindowGrid grid(length, 3 * length + 1, window, overlap);
        const BlendWeights weights(grid, weighting);
        for (double s :
             axis_sums(grid.col_origins(), length,
                       [&](int i) -> const std::vector<float>& { return weights.col_weights(i); }))
          ASSERT_NEAR(s, 1.0, 1e-6);
        for (double s :
             axis_sums(grid.row_origins(), grid.raster_height(),
                       [&](int i) -> const std::vector<float>& { return weights.row_weights(i); }))
          ASSERT_NEAR(s, 1.0, 1e-6);
      }
    }
  }
  // And in two dimensions, summing the separable products directly.
  const WindowGrid grid(301, 517, 64, 16);
  const BlendWeights weights(grid, BlendWeighting::kTaper);
  std::vector<double> sum(301 * 517, 0.0);
  for (int row = 0; row < grid.rows(); ++row)
    for (int col = 0; col < grid.cols(); ++col) {
      const PixelWindow fp = grid.footprint(row, col);
      for (int r = 0; r < fp.height; ++r)
        for (int c = 0; c < fp.width; ++c)
          sum[(fp.y + r) * 301 + fp.x + c] += weights.at(row, col, r, c);
    }
  for (double s : sum) ASSERT_NEAR(s, 1.0, 1e-6);
}

TEST(BlendWeights, TaperIsSmoothAndFadesTowardsNeighbours) {
  const WindowGrid grid(1000, 64, 64, 16);  // regular columns, then a flush last one
  const BlendWeights weights(grid, BlendWeighting::kTaper);
  const std::vector<float>& first = weights.col_weights(0);
  EXPECT_FLOAT_EQ(first.front(), 1.0f) << "full weight at the raster edge";
  EXPECT_LT(first.back(), 0.01f) << "fades out towards the next window";
  const std::vector<float>& inner = weights.col_weights(3);
  EXPECT_LT(inner.front(), 0.01f);
  EXPECT_LT(inner.back(), 0.01f);
  EXPECT_FLOAT_EQ(inner[32], 1.0f) << "full weight away from overlaps";
  for (int i = 0; i < grid.cols(); ++i) {
    const std::vector<float>& w = weights.col_weights(i);
    for (std::size_t t = 1; t < w.size(); ++t)
      EXPECT_LT(std::fabs(w[t] - w[t - 1]), 0.11f) << "window " << i << " jumps at " << t;
  }
}

TEST(BlendWeights, MeanCountsEveryWindowTheSame) {
  const WindowGrid grid(164, 64, 64, 16);  // origins 0 48 96 100
  ASSERT_EQ(grid.col_origins(), (std::vector<int>{0, 48, 96, 100}));
  const BlendWeights weights(grid, BlendWeighting::kMean);
  EXPECT_FLOAT_EQ(weights.col_weights(0)[10], 1.0f);
  EXPECT_FLOAT_EQ(weights.col_weights(0)[50], 0.5f);
  EXPECT_FLOAT_EQ(weights.col_weights(2)[9], 1.0f / 3.0f) << "x = 105 is under three windows";
}

TEST(BlendAccumulator, ConstantWindowsGiveExactlyTheConstant) {
  for (const BlendWeighting weighting : {BlendWeighting::kMean, BlendWeighting::kTaper}) {
    for (const float constant : {3.14159f, -1234.567f, 1e7f + 1.0f, 0.1f}) {
      const WindowGrid grid(301, 517, 64, 16);
      BlendAccumulator acc(grid, 2, weighting);
      int next_row = 0;
      for (const FinishedRows& rows :
           blend_all(grid, acc, [&](const PixelWindow&, int, int) { return constant; })) {
        ASSERT_EQ(rows.y0, next_row);
        next_row += rows.rows;
        for (int ch = 0; ch < 2; ++ch)
          for (int r = 0; r < rows.rows; ++r)
            for (int c = 0; c < rows.width; ++c) ASSERT_EQ(rows.at(ch, r, c), constant + ch);
        EXPECT_EQ(std::count(rows.valid.begin(), rows.valid.end(), 0), 0);
      }
      EXPECT_EQ(next_row, 517);
    }
  }
}

TEST(BlendAccumulator, PixelFunctionsOfPositionComeBackExactly) {
  // Every window agrees on each pixel: blending must give that value back, at the right place.
  const WindowGrid grid(203, 190, 64, 20);
  BlendAccumulator acc(grid, 1);
  for (const FinishedRows& rows : blend_all(grid, acc, [](const PixelWindow&w, int r, int c) {
         return static_cast<float>((w.y + r) * 1000 + (w.x + c));
       }))
    for (int r = 0; r < rows.rows; ++r)
      for (int c = 0; c < rows.width; ++c)
        ASSERT_EQ(rows.at(0, r, c), float((rows.y0 + r) * 1000 + c));
}

TEST(BlendAccumulator, HoldsAtMostOneWindowHeightOfRows) {
  const WindowGrid grid(50, 5000, 64, 16);
  BlendAccumulator acc(grid, 3);
  EXPECT_EQ(acc.bytes(), 64u * 50 * (3 + 1) * sizeof(double))
      << "sized by the window, not the scene";
  const auto finished = blend_all(grid, acc, [](const PixelWindow&, int, int) { return 1.0f; });
  EXPECT_LE(acc.peak_active_rows(), 64);
  EXPECT_GE(acc.peak_active_rows(), 48);
  EXPECT_EQ(acc.finished_rows(), 5000);
  EXPECT_EQ(acc.active_rows(), 0);
  int total = 0;
  for (const auto& rows : finished) total += rows.rows;
  EXPECT_EQ(total, 5000);
}

TEST(BlendAccumulator, RefusesWindowsBeforeTheRowsAboveAreFinished) {
  const WindowGrid grid(100, 300, 64, 16);
  BlendAccumulator acc(grid, 1);
  std::vector<float> window(64 * 64, 1.0f);
  acc.add(0, 0, window.data());
  EXPECT_THROW(acc.add(1, 0, window.data()), std::logic_error);
  acc.finish_through(0);
  EXPECT_THROW(acc.add(0, 1, window.data()), std::logic_error);
  EXPECT_NO_THROW(acc.add(1, 0, window.data()));
}

TEST(BlendAccumulator, InvalidPixelsStayNodata) {
  const WindowGrid grid(64, 64, 64, 16);
  BlendAccumulator acc(grid, 1);
  std::vector<float> window(64 * 64, 7.0f);
  std::vector<std::uint8_t> valid(64 * 64, 1);
  valid[5 * 64 + 9] = 0;
  acc.add(0, 0, window.data(), valid.data());
  const FinishedRows rows = acc.finish_through(0);
  EXPECT_EQ(rows.valid[5 * 64 + 9], 0);
  EXPECT_TRUE(std::isnan(rows.at(0, 5, 9)));
  EXPECT_EQ(rows.at(0, 5, 10), 7.0f);
}

TEST(BlendAccumulator, AlignmentOffsetMatchesTheBlendedNeighbours) {
  const WindowGrid grid(112, 64, 64, 16);  // two columns overlapping by 16 px
  BlendAccumulator acc(grid, 1);
  std::vector<float> left(64 * 64, 10.0f), right(64 * 64, 13.5f);
  EXPECT_EQ(acc.alignment_offset(0, 0, left.data())[0], 0.0) << "nothing blended yet";
  acc.add(0, 0, left.data());
  EXPECT_DOUBLE_EQ(acc.alignment_offset(0, 1, right.data())[0], -3.5);
}
