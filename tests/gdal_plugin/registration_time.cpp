// Measures what the plugin costs every GDAL process: loading gdal_TM.so and GDALRegister_TM(),
// and GDALAllRegister() with and without the plugin folder. Fails when registration is not cheap
// (over the bound given, 200 ms by default) or when it pulls the model runtime or LibTorch in.
//
//   tm_plugin_registration_time <plugin folder> [bound ms]
#include <dlfcn.h>
#include <gdal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace {

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

// Whether a shared object whose path contains `part` is mapped into this process.
bool mapped(const std::string& part) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line))
    if (line.find(part) != std::string::npos) return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <plugin folder> [bound ms]\n", argv[0]);
    return 2;
  }
  const std::string folder = argv[1];
  const double bound_ms = argc > 2 ? std::atof(argv[2]) : 200.0;

  // GDAL's own drivers first, without any plugin, so the plugin's share stands alone.
  setenv("GDAL_DRIVER_PATH", "disable", 1);
  auto start = std::chrono::steady_clock::now();
  GDALAllRegister();
  const double builtin_ms = ms_since(start);

  start = std::chrono::steady_clock::now();
  void* plugin = dlopen((folder + "/gdal_TM.so").c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!plugin) {
    std::fprintf(stderr, "cannot load the plugin: %s\n", dlerror());
    return 1;
  }
  const double load_ms = ms_since(start);
  auto reg = reinterpret_cast<void (*)()>(dlsym(plugin, "GDALRegister_TM"));
  if (!reg) {
    std::fprintf(stderr, "no GDALRegister_TM in the plugin\n");
    return 1;
  }
  start = std::chrono::steady_clock::now();
  reg();
  const double register_ms = ms_since(start);

  std::printf("GDALAllRegister without plugins: %.2f ms\n", builtin_ms);
  std::printf("gdal_TM.so dlopen: %.2f ms, GDALRegister_TM: %.3f ms, plugin total: %.2f ms\n",
              load_ms, register_ms, load_ms + register_ms);
  const bool registered = GDALGetDriverByName("TM") != nullptr;
  const bool heavy = mapped("libtorch") || mapped("tm_runtime") || mapped("libtbb");
  std::printf("driver registered: %s; runtime, LibTorch or TBB loaded: %s\n",
              registered ? "yes" : "no", heavy ? "yes" : "no");
  if (!registered || heavy) return 1;
  if (load_ms + register_ms > bound_ms) {
    std::fprintf(stderr, "registration took %.2f ms, over the %.0f ms bound\n",
                 load_ms + register_ms, bound_ms);
    return 1;
  }
  return 0;
}
