// Loss curves as PNGs without a plotting stack: axes, grid, polylines, a dashed reference line, a
// swatch legend and digit tick labels (a 3x5 pixel font). The numbers themselves are in
// metrics.csv.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>

#include "tm/training_metrics.h"

namespace terramind::training {

namespace {

constexpr Rgb kBackground{255, 255, 255};
constexpr Rgb kAxis{40, 40, 40};
constexpr Rgb kGrid{225, 225, 225};

// 3x5 glyphs, one row per 3 bits (MSB = left), for tick labels.
const std::map<char, std::array<std::uint8_t, 5>>& glyphs() {
  static const std::map<char, std::array<std::uint8_t, 5>> table = {
      {'0', {7, 5, 5, 5, 7}}, {'1', {2, 6, 2, 2, 7}}, {'2', {7, 1, 7, 4, 7}},
      {'3', {7, 1, 7, 1, 7}}, {'4', {5, 5, 7, 1, 1}}, {'5', {7, 4, 7, 1, 7}},
      {'6', {7, 4, 7, 5, 7}}, {'7', {7, 1, 1, 1, 1}}, {'8', {7, 5, 7, 5, 7}},
      {'9', {7, 5, 7, 1, 7}}, {'.', {0, 0, 0, 0, 2}}, {'-', {0, 0, 7, 0, 0}},
      {'e', {0, 7, 7, 4, 7}}, {'+', {0, 2, 7, 2, 0}}};
  return table;
}

class Canvas {
 public:
  Canvas(int w, int h) {
    image_.width = w;
    image_.height = h;
    image_.pixels.assign(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3, 255);
  }
  void set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= image_.width || y >= image_.height) return;
    const std::size_t i = (static_cast<std::size_t>(y) * static_cast<std::size_t>(image_.width) +
                           static_cast<std::size_t>(x)) *
                          3;
    image_.pixels[i] = c.r;
    image_.pixels[i + 1] = c.g;
    image_.pixels[i + 2] = c.b;
  }
  void fill(int x0, int y0, int x1, int y1, Rgb c) {
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) set(x, y, c);
  }
  // Bresenham, `thick` pixels wide; dash > 0 draws dash pixels on, dash off.
  void line(double fx0, double fy0, double fx1, double fy1, Rgb c, int thick = 1, int dash = 0) {
    int x0 = static_cast<int>(std::lround(fx0)), y0 = static_cast<int>(std::lround(fy0));
    const int x1 = static_cast<int>(std::lround(fx1)), y1 = static_cast<int>(std::lround(fy1));
    const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
    const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (int n = 0;; ++n) {
      if (dash == 0 || (n / dash) % 2 == 0)
        for (int t = 0; t < thick; ++t) {
          set(x0, y0 + t - thick / 2, c);
          set(x0 + t - thick / 2, y0, c);
        }
      if (x0 == x1 && y0 == y1) break;
      const int e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
  }
  int text_width(const std::string& s) const { return static_cast<int>(s.size()) * 8; }
  // Scale-2 glyphs: 6x10 pixels, 8 pixels advance.
  void text(int x, int y, const std::string& s, Rgb c) {
    for (char ch : s) {
      const auto it = glyphs().find(ch);
      if (it != glyphs().end())
        for (int row = 0; row < 5; ++row)
          for (int col = 0; col < 3; ++col)
            if (it->second[static_cast<std::size_t>(row)] & (4 >> col))
              fill(x + col * 2, y + row * 2, x + col * 2 + 1, y + row * 2 + 1, c);
      x += 8;
    }
  }
  RgbImage take() { return std::move(image_); }

 private:
  RgbImage image_;
};

std::string tick_text(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4g", v);
  return buffer;
}

// About `count` round tick values covering [lo, hi].
std::vector<double> ticks(double lo, double hi, int count) {
  const double raw = (hi - lo) / std::max(1, count);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * magnitude >= raw) {
      step = m * magnitude;
      break;
    }
  std::vector<double> out;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    out.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  return out;
}

}  // namespace

double PlotLayout::x_to_px(double x) const {
  return left + (x - x_min) / (x_max - x_min) * (right - left);
}

double PlotLayout::y_to_px(double y) const {
  const double v = log_y ? std::log10(y) : y;
  const double lo = log_y ? std::log10(y_min) : y_min, hi = log_y ? std::log10(y_max) : y_max;
  return bottom - (v - lo) / (hi - lo) * (bottom - top);
}

Rgb plot_series_colour(std::size_t index) {
  static const Rgb palette[] = {{31, 119, 180},  {255, 127, 14},  {44, 160, 44},
                                {214, 39, 40},   {148, 103, 189}, {140, 86, 75},
                                {227, 119, 194}, {127, 127, 127}, {188, 189, 34}};
  return palette[index % (sizeof palette / sizeof palette[0])];
}

Rgb plot_reference_colour() { return {120, 120, 120}; }

RgbImage render_line_plot(const std::vector<PlotSeries>& series, const PlotOptions& options,
                          PlotLayout* layout_out) {
  if (options.width < 160 || options.width > 8192 || options.height < 120 || options.height > 8192)
    throw std::invalid_argument("plot size " + std::to_string(options.width) + "x" +
                                std::to_string(options.height) +
                                " is outside 160..8192 x 120..8192");
  auto usable = [&](const std::pair<double, double>& p) {
    return std::isfinite(p.first) && std::isfinite(p.second) && (!options.log_y || p.second > 0);
  };
  PlotLayout L;
  L.log_y = options.log_y;
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
  for (const auto& s : series)
    for (const auto& p : s.points)
      if (usable(p)) {
        x_lo = std::min(x_lo, p.first);
        x_hi = std::max(x_hi, p.first);
        y_lo = std::min(y_lo, p.second);
        y_hi = std::max(y_hi, p.second);
      }
  if (options.reference_line && std::isfinite(*options.reference_line) &&
      (!options.log_y || *options.reference_line > 0)) {
    y_lo = std::min(y_lo, *options.reference_line);
    y_hi = std::max(y_hi, *options.reference_line);
  }
  if (!std::isfinite(x_lo)) x_lo = 0, x_hi = 1;
  if (!std::isfinite(y_lo)) y_lo = options.log_y ? 1 : 0, y_hi = options.log_y ? 10 : 1;
  if (x_hi <= x_lo) x_hi = x_lo + 1;
  if (y_hi <= y_lo) {
    const double pad = options.log_y ? y_lo : std::max(1e-9, std::abs(y_lo) * 0.1);
    y_lo = options.log_y ? y_lo / 2 : y_lo - pad;
    y_hi = options.log_y ? y_hi * 2 : y_hi + pad;
  } else if (!options.log_y) {
    const double pad = (y_hi - y_lo) * 0.05;
    y_lo -= pad;
    y_hi += pad;
  }
  L.x_min = x_lo;
  L.x_max = x_hi;
  L.y_min = y_lo;
  L.y_max = y_hi;
  L.left = 70;
  L.top = 16;
  L.right = options.width - 16;
  L.bottom = options.height - 30;

  Canvas canvas(options.width, options.height);
  canvas.fill(0, 0, options.width - 1, options.height - 1, kBackground);
  // Grid and tick labels.
  if (!options.log_y)
    for (double t : ticks(y_lo, y_hi, 6)) {
      const double py = L.y_to_px(t);
      canvas.line(L.left, py, L.right, py, kGrid);
      const std::string label = tick_text(t);
      canvas.text(L.left - 6 - canvas.text_width(label), static_cast<int>(py) - 5, label, kAxis);
    }
  else
    for (double e = std::ceil(std::log10(y_lo)); e <= std::floor(std::log10(y_hi)); ++e) {
      const double py = L.y_to_px(std::pow(10.0, e));
      canvas.line(L.left, py, L.right, py, kGrid);
      const std::string label = "1e" + tick_text(e);
      canvas.text(L.left - 6 - canvas.text_width(label), static_cast<int>(py) - 5, label, kAxis);
    }
  for (double t : ticks(x_lo, x_hi, 6)) {
    const double px = L.x_to_px(t);
    canvas.line(px, L.top, px, L.bottom, kGrid);
    const std::string label = tick_text(t);
    canvas.text(static_cast<int>(px) - canvas.text_width(label) / 2, L.bottom + 8, label, kAxis);
  }
  canvas.line(L.left, L.bottom, L.right, L.bottom, kAxis);
  canvas.line(L.left, L.top, L.left, L.bottom, kAxis);
  if (options.reference_line && std::isfinite(*options.reference_line) &&
      (!options.log_y || *options.reference_line > 0)) {
    const double py = L.y_to_px(*options.reference_line);
    canvas.line(L.left, py, L.right, py, plot_reference_colour(), 1, 6);
  }
  for (std::size_t i = 0; i < series.size(); ++i) {
    const Rgb colour = plot_series_colour(i);
    bool have_previous = false;
    double px0 = 0, py0 = 0;
    for (const auto& p : series[i].points) {
      if (!usable(p)) {
        have_previous = false;  // a gap, not a line through a missing value
        continue;
      }
      const double px = L.x_to_px(p.first), py = L.y_to_px(p.second);
      if (have_previous)
        canvas.line(px0, py0, px, py, colour, 2);
      else
        canvas.fill(static_cast<int>(px) - 1, static_cast<int>(py) - 1, static_cast<int>(px) + 1,
                    static_cast<int>(py) + 1, colour);
      px0 = px;
      py0 = py;
      have_previous = true;
    }
  }
  // Legend: one swatch per series, in series order, top right inside the plot area.
  if (series.size() > 1) {
    L.legend_right = L.right - 6;
    L.legend_top = L.top + 6;
    L.legend_left = L.legend_right - 24;
    L.legend_bottom = L.legend_top + static_cast<int>(series.size()) * 12 + 4;
    canvas.fill(L.legend_left, L.legend_top, L.legend_right, L.legend_bottom, kBackground);
    for (std::size_t i = 0; i < series.size(); ++i) {
      const int y = L.legend_top + 4 + static_cast<int>(i) * 12;
      canvas.fill(L.legend_left + 4, y, L.legend_right - 4, y + 7, plot_series_colour(i));
    }
  }
  if (layout_out) *layout_out = L;
  return canvas.take();
}

void write_line_plot_png(const std::string& path, const std::vector<PlotSeries>& series,
                         const PlotOptions& options) {
  write_png(path, render_line_plot(series, options));
}

void plot_metrics(const std::vector<MetricsRow>& rows, const std::string& png_path,
                  const std::vector<std::string>& keys, const PlotOptions& options) {
  std::set<std::string> phases;
  for (const auto& row : rows) phases.insert(row.phase);
  std::vector<PlotSeries> series;
  for (const auto& key : keys)
    for (const auto& phase : phases) {
      PlotSeries s;
      s.label = phases.size() > 1 ? phase + " " + key : key;
      for (const auto& row : rows) {
        if (row.phase != phase) continue;
        const auto it = row.values.find(key);
        if (it != row.values.end())
          s.points.emplace_back(static_cast<double>(row.step), it->second);
      }
      if (!s.points.empty()) series.push_back(std::move(s));
    }
  write_line_plot_png(png_path, series, options);
}

}  // namespace terramind::training
