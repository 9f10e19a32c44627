// The target grid of a mosaic: global pixels, tiles and the window context of a tile.
#include <stdexcept>

#include "tm/mosaic.h"

namespace terramind {
namespace {

// Rounds towards minus infinity (tiles and windows left of or above the CRS origin).
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

}  // namespace

std::string TileIndex::name() const {
  return "c" + std::to_string(col) + "_r" + std::to_string(row);
}

PixelBox tile_pixels(const MosaicGrid& grid, const TileIndex& tile) {
  const std::int64_t t = grid.tile_size;
  return {tile.col * t, tile.row * t, (tile.col + 1) * t, (tile.row + 1) * t};
}

PixelBox window_context(const PixelBox& box, int window_size, int overlap) {
  const std::int64_t stride = window_size - overlap;
  if (stride <= 0) throw std::invalid_argument("the overlap must be smaller than the window");
  // Window k covers [k * stride, k * stride + window_size): the first touching the box is the
  // smallest k with k * stride + window_size > x0, the last the largest with k * stride < x1.
  auto first = [&](std::int64_t lo) { return floor_div(lo - window_size, stride) + 1; };
  auto last = [&](std::int64_t hi) { return floor_div(hi - 1, stride); };
  return {first(box.x0) * stride, first(box.y0) * stride, last(box.x1) * stride + window_size,
          last(box.y1) * stride + window_size};
}

std::array<double, 4> map_bounds(const MosaicGrid& grid, const PixelBox& box) {
  return {box.x0 * grid.res_x, -box.y1 * grid.res_y, box.x1 * grid.res_x, -box.y0 * grid.res_y};
}

std::string to_string(CompositeRule rule) {
  switch (rule) {
    case CompositeRule::kFirst:
      return "first";
    case CompositeRule::kLatest:
      return "latest";
    case CompositeRule::kMean:
      return "mean";
  }
  return "first";
}

CompositeRule composite_rule_from_string(const std::string& text) {
  if (text == "first") return CompositeRule::kFirst;
  if (text == "latest") return CompositeRule::kLatest;
  if (text == "mean") return CompositeRule::kMean;
  throw std::invalid_argument("the composite rule must be first, latest or mean, got '" + text +
                              "'");
}

std::string to_string(TileState state) {
  switch (state) {
    case TileState::kPending:
      return "pending";
    case TileState::kDone:
      return "done";
    case TileState::kEmpty:
      return "empty";
    case TileState::kFailed:
      return "failed";
    case TileState::kStale:
      return "stale";
    case TileState::kNoInput:
      return "no input";
  }
  return "pending";
}

}  // namespace terramind
