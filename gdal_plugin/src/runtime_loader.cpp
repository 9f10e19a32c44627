// Which runtime library the plugin loads (runtime_library.h does the loading).
#include "runtime_loader.h"

#include <cpl_conv.h>
#include <dlfcn.h>

#include <filesystem>

namespace terramind::gdal_plugin {
namespace {

constexpr const char* kDefaultRuntimeName = "libtm_runtime.so";

// Folder of the shared object holding this function: the plugin's folder (or the executable's,
// when the driver is linked in).
std::string own_folder() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&own_folder), &info) == 0 || !info.dli_fname) return ".";
  return std::filesystem::path(info.dli_fname).parent_path().string();
}

}  // namespace

std::string runtime_library_path() {
  const char* configured = CPLGetConfigOption("TM_RUNTIME", nullptr);
  if (configured && *configured) return configured;
  return (std::filesystem::path(own_folder()) / kDefaultRuntimeName).string();
}

const RuntimeLibrary& load_runtime() {
  return load_runtime_library(runtime_library_path(),
                              "(install it next to gdal_TM.so or set TM_RUNTIME to its path)");
}

}  // namespace terramind::gdal_plugin
