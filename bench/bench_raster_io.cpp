// bench_raster_io: how fast tm_tiling reads windows from a scene and writes a COG of its size.
// Prints figures; not a test.
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "tm/tiling.h"

namespace po = boost::program_options;
using namespace terramind;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  std::string scene_path, out_path;
  int window = 224, overlap = 32;
  po::options_description options("bench_raster_io: window read and COG write throughput");
  options.add_options()("help,h", "show this help")(
      "scene", po::value(&scene_path)->required(), "input raster")(
      "window", po::value(&window)->default_value(224), "window size in pixels")(
      "overlap", po::value(&overlap)->default_value(32), "overlap between windows in pixels")(
      "out", po::value(&out_path), "also write a Float32 COG of the scene's size here");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, options), vm);
    if (vm.count("help")) {
      std::cout << options;
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "bench_raster_io: " << e.what() << "\n" << options;
    return 2;
  }
  try {
    const SceneReader scene = SceneReader::open(scene_path);
    const RasterInfo& info = scene.info();
    const int stride = window - overlap;
    std::size_t windows = 0, valid = 0;
    const auto t0 = Clock::now();
    for (int y = 0; y < info.height; y += stride)
      for (int x = 0; x < info.width; x += stride) {
        const WindowData data = scene.read({x, y, window, window}, EdgePolicy::kReflect);
        valid += data.valid_count();
        ++windows;
      }
    const double read_s = std::chrono::duration<double>(Clock::now() - t0).count();
    const double mb = windows * double(window) * window * info.band_count * 4 / 1e6;
    std::printf("scene %dx%dx%d %s\n", info.width, info.height, info.band_count,
                info.data_type.c_str());
    std::printf("read  %zu windows of %d px (overlap %d): %.2f s, %.0f windows/s, %.0f MB/s float32\n",
                windows, window, overlap, read_s, windows / read_s, mb / read_s);
    if (!out_path.empty()) {
      RasterSpec spec;
      spec.width = info.width;
      spec.height = info.height;
      spec.bands = 1;
      spec.georef = info.georef;
      WriteOptions write_options;
      write_options.overwrite = true;
      const auto t1 = Clock::now();
      AtomicRasterWriter writer(out_path, spec, write_options);
      std::vector<float> strip(static_cast<std::size_t>(info.width) * 512);
      for (std::size_t i = 0; i < strip.size(); ++i) strip[i] = float(i % 977) * 0.25f;
      for (int y = 0; y < info.height; y += 512) {
        const int rows = std::min(512, info.height - y);
        writer.write(PixelWindow{0, y, info.width, rows}, strip.data());
      }
      writer.commit();
      const double write_s = std::chrono::duration<double>(Clock::now() - t1).count();
      std::printf("write Float32 COG %dx%d: %.2f s, %.0f Mpx/s\n", info.width, info.height,
                  write_s, double(info.width) * info.height / 1e6 / write_s);
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_raster_io: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
