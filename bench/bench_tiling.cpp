// bench_tiling: throughput and memory of the tiled-inference pipeline with a cheap synthetic
// model (so it runs on a laptop): windows/s against batch size and threads, peak RSS against
// scene size, and the share of wall time the model is busy. Each run is a child process, so its
// peak RSS is its own. Prints figures; not a test.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <sstream>

#include "tm/tiling.h"

namespace po = boost::program_options;
using namespace terramind;

namespace {

// DEM: a band combination plus a per-window level (as generated elevation has); LULC: 10 linear
// band combinations turned into probabilities. About 300 flops per pixel, `work` times over.
class CheapModel : public WindowModel {
 public:
  explicit CheapModel(int work) : work_(work) {}
  std::vector<std::string> targets() const override { return {"DEM", "LULC"}; }
  TargetSpec spec(const std::string& target) const override {
    TargetSpec spec;
    spec.name = target;
    if (target == "LULC") {
      spec.is_classes = true;
      spec.classes = ModalityRegistry::instance().lulc_classes();
      spec.channels = static_cast<int>(spec.classes.size());
      spec.nodata = 0;
    }
    return spec;
  }
  bool accepts_input(const std::string& modality) const override { return modality == "S2L2A"; }
  std::optional<StatsVersion> input_standardisation() const override { return StatsVersion::kV1; }

  void infer(const InputBatch& in, OutputBatch& out) override {
    const InputTensor& s2 = in.inputs.at(0);
    const std::size_t plane = static_cast<std::size_t>(in.window_size) * in.window_size;
    for (OutputTensor& target : out.targets) {
      for (int k = 0; k < in.count; ++k) {
        const float* x = s2.values.data() + k * s2.channels * plane;
        float* y = target.values.data() + k * target.channels * plane;
        for (int repeat = 0; repeat < work_; ++repeat) {
          if (target.target == "DEM") {
            const float level =
                static_cast<float>((in.windows[k].x * 7 + in.windows[k].y * 13) % 50);
            for (std::size_t p = 0; p < plane; ++p)
              y[p] = 500.0f + level + 40.0f * (x[3 * plane + p] - 0.5f * x[7 * plane + p]);
          } else {
            classify(x, y, plane, s2.channels, target.channels);
          }
        }
      }
    }
  }

 private:
  // Vectorisable: per class a weighted band sum, squared, then normalised to sum to 1.
  static void classify(const float* x, float* y, std::size_t plane, int bands, int classes) {
    for (int c = 0; c < classes; ++c) {
      float* yc = y + c * plane;
      std::fill(yc, yc + plane, 0.01f);
      for (int b = 0; b < bands; ++b) {
        const float w = 0.05f * ((c * 5 + b * 3) % 7) - 0.15f;
        const float* xb = x + b * plane;
        for (std::size_t p = 0; p < plane; ++p) yc[p] += w * xb[p];
      }
      for (std::size_t p = 0; p < plane; ++p) yc[p] *= yc[p];
    }
    for (std::size_t p = 0; p < plane; ++p) {
      float total = 0.0f;
      for (int c = 0; c < classes; ++c) total += y[c * plane + p];
      const float scale = 1.0f / total;
      for (int c = 0; c < classes; ++c) y[c * plane + p] *= scale;
    }
  }
  int work_;
};

std::vector<int> parse_list(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoi(item));
  return out;
}

struct RunResult {
  int width = 0, height = 0;
  std::size_t windows = 0, skipped = 0;
  double seconds = 0.0, model_seconds = 0.0;
  double dem_seams = 0.0;  // seam strength of the DEM output (1: no window grid)
  std::size_t accumulator_bytes = 0;
  int ok = 0;
};

struct BenchSettings {
  std::string out_dir;
  int window = 224, overlap = 32, work = 1, gdal_cache_mb = 384;
  bool harmonise = false, cog = true;
};

// Runs `work` in a forked child and returns what it produced, plus the child's own peak RSS: the
// parent stays small, so the figure is the run's alone.
RunResult in_child(const std::function<RunResult()>& work, long& peak_rss_kb) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  const pid_t child = fork();
  if (child < 0) throw std::runtime_error("fork failed");
  if (child == 0) {
    close(fds[0]);
    RunResult result;
    try {
      result = work();
      result.ok = 1;
    } catch (const std::exception& e) {
      std::cerr << "bench_tiling: " << e.what() << "\n";
    }
    if (write(fds[1], &result, sizeof result) != sizeof result) _exit(3);
    _exit(result.ok ? 0 : 1);
  }
  close(fds[1]);
  RunResult result;
  if (read(fds[0], &result, sizeof result) != sizeof result) result.ok = 0;
  close(fds[0]);
  int status = 0;
  struct rusage usage {};
  wait4(child, &status, 0, &usage);
  peak_rss_kb = usage.ru_maxrss;
  return result;
}

RunResult run_tiling(const std::string& scene, const BenchSettings& settings, int batch,
                     int threads) {
  CheapModel model(settings.work);
  TilingOptions options;
  options.batch_size = batch;
  options.threads = threads;
  options.window_size = settings.window;
  options.overlap = settings.overlap;
  options.gdal_cache_bytes = static_cast<std::size_t>(settings.gdal_cache_mb) << 20;
  options.write.overwrite = true;
  options.write.format = settings.cog ? OutputFormat::kCOG : OutputFormat::kGTiff;
  TargetRequest dem("DEM", settings.out_dir + "/bench_dem.tif");
  dem.harmonise_offsets = settings.harmonise;
  const TilingSummary s = generate_scene(
      {{scene, "S2L2A"}}, model, {dem, {"LULC", settings.out_dir + "/bench_lulc.tif"}}, options);
  const RasterInfo info = inspect_raster(scene);
  RunResult result;
  result.width = info.width;
  result.height = info.height;
  result.windows = s.windows;
  result.skipped = s.skipped;
  result.seconds = s.seconds;
  result.model_seconds = s.model_seconds;
  result.accumulator_bytes = s.accumulator_bytes;
  return result;
}

// Seam strength of the DEM just written (in its own child: reading it fills GDAL's cache).
double dem_seams(const RunResult& run, const BenchSettings& settings) {
  long ignored = 0;
  const RunResult r = in_child(
      [&] {
        RunResult out;
        const WindowGrid grid(run.width, run.height, settings.window, settings.overlap);
        out.dem_seams = measure_seams(settings.out_dir + "/bench_dem.tif", grid).ratio();
        return out;
      },
      ignored);
  return r.ok ? r.dem_seams : -1.0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> scenes;
  std::string batches, threads, format;
  BenchSettings settings;
  po::options_description options("bench_tiling: tiled-inference throughput and memory");
  options.add_options()("help,h", "show this help")(
      "scene", po::value(&scenes)->required()->composing(), "S2L2A input (repeatable)")(
      "batch", po::value(&batches)->default_value("8"), "batch sizes, comma-separated")(
      "threads", po::value(&threads)->default_value("2"), "TBB thread counts, comma-separated")(
      "window", po::value(&settings.window)->default_value(224), "window size")(
      "overlap", po::value(&settings.overlap)->default_value(32), "window overlap")(
      "work", po::value(&settings.work)->default_value(1), "synthetic model cost multiplier")(
      "harmonise", po::bool_switch(&settings.harmonise), "harmonise DEM offsets")(
      "gdal-cache-mb", po::value(&settings.gdal_cache_mb)->default_value(384),
      "GDAL block cache cap during the run")("format", po::value(&format)->default_value("cog"),
                                             "output format: cog or gtiff")(
      "out", po::value(&settings.out_dir)->default_value("/tmp"), "folder for the outputs");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, options), vm);
    if (vm.count("help")) {
      std::cout << options;
      return 0;
    }
    po::notify(vm);
    if (format != "cog" && format != "gtiff") throw po::error("--format must be cog or gtiff");
    settings.cog = format == "cog";
  } catch (const po::error& e) {
    std::cerr << "bench_tiling: " << e.what() << "\n" << options;
    return 2;
  }
  std::printf("%-16s %11s %5s %7s %7s %7s %8s %9s %10s %9s %8s %9s\n", "scene", "size", "batch",
              "threads", "windows", "skipped", "time s", "windows/s", "model busy", "peak RSS",
              "band", "DEM seams");
  int failures = 0;
  for (const std::string& scene : scenes)
    for (int b : parse_list(batches))
      for (int t : parse_list(threads)) {
        long rss_kb = 0;
        RunResult r = in_child([&] { return run_tiling(scene, settings, b, t); }, rss_kb);
        if (!r.ok) {
          ++failures;
          continue;
        }
        r.dem_seams = dem_seams(r, settings);
        const std::string name = scene.substr(scene.find_last_of('/') + 1);
        const std::string size = std::to_string(r.width) + "x" + std::to_string(r.height);
        std::printf("%-16s %11s %5d %7d %7zu %7zu %8.2f %9.1f %9.0f%% %6.0f MB %5.0f MB %9.2f\n",
                    name.c_str(), size.c_str(), b, t, r.windows, r.skipped, r.seconds,
                    (r.windows - r.skipped) / r.seconds, 100.0 * r.model_seconds / r.seconds,
                    rss_kb / 1024.0, r.accumulator_bytes / 1048576.0, r.dem_seams);
        std::fflush(stdout);
      }
  return failures ? 1 : 0;
}
