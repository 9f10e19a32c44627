// Blend weights: per axis, raw bumps normalised into a partition of unity.
#include <algorithm>
#include <cmath>

#include "tm/tiling.h"

namespace terramind {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Rises from near 0 to near 1 over `width` px; ramp(t) + ramp(width - 1 - t) == 1, so a falling
// and a rising ramp laid over the same overlap sum to one. Never exactly 0: every covered pixel
// keeps some weight.
double ramp(int t, int width) {
  if (t >= width) return 1.0;
  const double s = std::sin(kPi * (t + 0.5) / (2.0 * width));
  return s * s;
}

std::vector<std::vector<float>> axis_weights(const std::vector<int>& origins, int window,
                                             int length, BlendWeighting weighting) {
  const int n = static_cast<int>(origins.size());
  std::vector<std::vector<double>> raw(n, std::vector<double>(window, 0.0));
  std::vector<double> total(length, 0.0);
  for (int i = 0; i < n; ++i) {
    // Ramps span the real overlap with each neighbour, including the wider one before the flush
    // last window; a side without neighbour (raster edge) keeps full weight.
    const int left = i > 0 ? std::max(0, origins[i - 1] + window - origins[i]) : 0;
    const int right = i + 1 < n ? std::max(0, origins[i] + window - origins[i + 1]) : 0;
    for (int t = 0; t < window && origins[i] + t < length; ++t) {
      const double w =
          weighting == BlendWeighting::kMean ? 1.0 : ramp(t, left) * ramp(window - 1 - t, right);
      raw[i][t] = w;
      total[origins[i] + t] += w;
    }
  }
  std::vector<std::vector<float>> out(n, std::vector<float>(window, 0.0f));
  for (int i = 0; i < n; ++i)
    for (int t = 0; t < window && origins[i] + t < length; ++t)
      out[i][t] = static_cast<float>(raw[i][t] / total[origins[i] + t]);
  return out;
}

}  // namespace

BlendWeights::BlendWeights(const WindowGrid& grid, BlendWeighting weighting)
    : rows_(axis_weights(grid.row_origins(), grid.window_size(), grid.raster_height(), weighting)),
      cols_(axis_weights(grid.col_origins(), grid.window_size(), grid.raster_width(), weighting)) {}

}  // namespace terramind
