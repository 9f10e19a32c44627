// tm/training_metrics.h — the training metrics log (JSONL, one row per logged step, CSV export)
// and loss-curve PNGs (public header of training/'s tm_training_metrics; plain C++, no LibTorch,
// no GDAL: the trainer links it without pulling in rasters).
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace terramind::training {

// One logged step. Value keys are free-form ("loss/tok_lulc@224", "lr", ...) but must not be
// "step" or "phase" (those are the row's own fields in the JSON line).
struct MetricsRow {
  std::int64_t step = 0;
  std::string phase = "train";
  std::map<std::string, double> values;  // non-finite values are written as null, read as NaN
};

class MetricsLog {
 public:
  // resume_step >= 0: keeps the rows of an existing log with step <= resume_step (later ones are
  // redone by the resumed run) and rewrites the file atomically; < 0: starts an empty log.
  explicit MetricsLog(const std::string& jsonl_path, std::int64_t resume_step = -1);

  // One JSON object per line, flushed, so a crash loses at most the line being written.
  void append(const MetricsRow& row);
  const std::vector<MetricsRow>& rows() const { return rows_; }
  const std::string& path() const { return path_; }
  void write_csv(const std::string& csv_path) const;

  // Throws std::runtime_error "<path>:<line>: ..." on bad content; a last line without its newline
  // that does not parse (a crash mid-write) is ignored.
  static std::vector<MetricsRow> read(const std::string& path);

 private:
  std::string path_;
  std::ofstream out_;
  std::vector<MetricsRow> rows_;
};

// Columns step, phase, then the union of value keys (sorted); empty cell where a row lacks a key.
// Written atomically (temp file + rename).
void write_metrics_csv(const std::vector<MetricsRow>& rows, const std::string& csv_path);

struct PlotSeries {
  std::string label;
  std::vector<std::pair<double, double>> points;  // (x, y); non-finite points are skipped
};

struct PlotOptions {
  std::string title, x_label = "step", y_label = "loss";
  int width = 800, height = 500;         // 160..8192 x 120..8192
  bool log_y = false;                    // y <= 0 is skipped
  std::optional<double> reference_line;  // horizontal dashed line, e.g. at log(vocabulary size)
  std::string reference_label;
};

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb& o) const { return r == o.r && g == o.g && b == o.b; }
  bool operator!=(const Rgb& o) const { return !(*this == o); }
};

struct RgbImage {
  int width = 0, height = 0;
  std::vector<std::uint8_t> pixels;  // row-major RGB, 3 bytes per pixel
  Rgb at(int x, int y) const;
};

// Where things went: the plot area (pixel bounds, inclusive), the axis ranges (data values) and the
// legend box (empty when there is no legend). Lets callers and tests map data to pixels.
struct PlotLayout {
  int left = 0, top = 0, right = 0, bottom = 0;
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  bool log_y = false;
  int legend_left = 0, legend_top = 0, legend_right = -1, legend_bottom = -1;
  double x_to_px(double x) const;
  double y_to_px(double y) const;
};

Rgb plot_series_colour(std::size_t index);  // distinct for the first 9 series, then cycles
Rgb plot_reference_colour();

RgbImage render_line_plot(const std::vector<PlotSeries>& series, const PlotOptions& options,
                          PlotLayout* layout = nullptr);
// 8-bit RGB PNG (own encoder, zlib deflate), written atomically; std::runtime_error names the path.
void write_png(const std::string& path, const RgbImage& image);
void write_line_plot_png(const std::string& path, const std::vector<PlotSeries>& series,
                         const PlotOptions& options);

// One series per key and phase (x = step) from the rows having the key; labels are "phase key"
// when the series come from more than one phase, else "key".
void plot_metrics(const std::vector<MetricsRow>& rows, const std::string& png_path,
                  const std::vector<std::string>& keys, const PlotOptions& options);

}  // namespace terramind::training
