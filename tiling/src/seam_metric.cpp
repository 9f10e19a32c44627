// Seam strength: how much stronger neighbouring-pixel differences are where windows meet.
#include <cmath>
#include <limits>
#include <stdexcept>

#include "tm/tiling.h"

namespace terramind {
namespace {

// seam[x]: the pair (x, x + 1) lies in an overlap or crosses a window border along this axis.
std::vector<std::uint8_t> seam_pairs(const std::vector<int>& origins, int window, int length) {
  std::vector<int> cover(length, 0);
  std::vector<std::uint8_t> border(length + 1, 0);
  for (int p : origins) {
    for (int t = p; t < std::min(p + window, length); ++t) ++cover[t];
    border[p] = 1;
    if (p + window <= length) border[p + window] = 1;
  }
  std::vector<std::uint8_t> seam(length, 0);
  for (int x = 0; x + 1 < length; ++x)
    seam[x] = cover[x] >= 2 || cover[x + 1] >= 2 || border[x + 1];
  return seam;
}

// Accumulates pairs row by row; only the previous row is kept.
class SeamMeter {
 public:
  explicit SeamMeter(const WindowGrid& grid)
      : width_(grid.raster_width()),
        seam_x_(seam_pairs(grid.col_origins(), grid.window_size(), grid.raster_width())),
        seam_y_(seam_pairs(grid.row_origins(), grid.window_size(), grid.raster_height())),
        previous_(width_) {}

  void add_row(int y, const float* row) {
    for (int x = 0; x + 1 < width_; ++x) count(seam_x_[x], row[x], row[x + 1]);
    if (y > 0)
      for (int x = 0; x < width_; ++x) count(seam_y_[y - 1], previous_[x], row[x]);
    std::copy(row, row + width_, previous_.begin());
  }

  SeamStrength result() const {
    SeamStrength s;
    s.seam_pairs = seam_n_;
    s.interior_pairs = interior_n_;
    s.seam_step = seam_n_ ? seam_sum_ / seam_n_ : 0.0;
    s.interior_step = interior_n_ ? interior_sum_ / interior_n_ : 0.0;
    return s;
  }

 private:
  void count(bool seam, float a, float b) {
    if (std::isnan(a) || std::isnan(b)) return;
    const double d = std::fabs(static_cast<double>(a) - b);
    if (seam) {
      seam_sum_ += d;
      ++seam_n_;
    } else {
      interior_sum_ += d;
      ++interior_n_;
    }
  }

  int width_;
  std::vector<std::uint8_t> seam_x_, seam_y_;
  std::vector<float> previous_;
  double seam_sum_ = 0.0, interior_sum_ = 0.0;
  std::size_t seam_n_ = 0, interior_n_ = 0;
};

}  // namespace

SeamStrength measure_seams(const float* image, const WindowGrid& grid) {
  SeamMeter meter(grid);
  const std::size_t width = grid.raster_width();
  for (int y = 0; y < grid.raster_height(); ++y) meter.add_row(y, image + y * width);
  return meter.result();
}

SeamStrength measure_seams(const std::string& raster_path, const WindowGrid& grid, int band) {
  OpenOptions open;
  open.allow_ungeoreferenced = true;
  const SceneReader scene = SceneReader::open(raster_path, open);
  const RasterInfo& info = scene.info();
  if (info.width != grid.raster_width() || info.height != grid.raster_height())
    throw std::invalid_argument(raster_path + " is " + std::to_string(info.width) + "x" +
                                std::to_string(info.height) + ", the window grid " +
                                std::to_string(grid.raster_width()) + "x" +
                                std::to_string(grid.raster_height()));
  if (band < 1 || band > info.band_count)
    throw std::invalid_argument(raster_path + " has no band " + std::to_string(band));
  SeamMeter meter(grid);
  constexpr int kStrip = 256;
  const std::size_t width = info.width;
  for (int y0 = 0; y0 < info.height; y0 += kStrip) {
    const int rows = std::min(kStrip, info.height - y0);
    WindowData strip = scene.read({0, y0, info.width, rows});
    float* values = strip.values.data() + static_cast<std::size_t>(band - 1) * rows * width;
    for (std::size_t i = 0; i < rows * width; ++i)
      if (!strip.valid[i]) values[i] = std::numeric_limits<float>::quiet_NaN();
    for (int r = 0; r < rows; ++r) meter.add_row(y0 + r, values + r * width);
  }
  return meter.result();
}

}  // namespace terramind
