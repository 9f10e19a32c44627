// dlopen() of the runtime library and the version handshake.
#include "runtime_loader.h"

#include <cpl_conv.h>
#include <dlfcn.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>

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

const TmRuntimeApi* handshake(const std::string& path, void* handle) {
  auto get_api = reinterpret_cast<TmRuntimeGetApi>(dlsym(handle, TM_RUNTIME_ENTRY_POINT));
  if (!get_api)
    throw std::runtime_error(path + " is not a TM model runtime (it has no " +
                             TM_RUNTIME_ENTRY_POINT + " entry point)");
  const TmRuntimeApi* api = get_api(TM_RUNTIME_API_VERSION);
  if (!api || api->api_version != TM_RUNTIME_API_VERSION)
    throw std::runtime_error("the TM model runtime " + path + " does not offer API version " +
                             std::to_string(TM_RUNTIME_API_VERSION) +
                             "; rebuild it together with the plugin");
  if (api->struct_size < sizeof(TmRuntimeApi) || !api->open_model || !api->close_model)
    throw std::runtime_error("the TM model runtime " + path + " has an incomplete API table");
  if (!api->abi_tag || std::strcmp(api->abi_tag, TM_RUNTIME_ABI_TAG) != 0)
    throw std::runtime_error("the TM model runtime " + path + " was built for ABI " +
                             (api->abi_tag ? api->abi_tag : "(none)") + ", the plugin for " +
                             TM_RUNTIME_ABI_TAG + "; rebuild them with one toolchain");
  return api;
}

}  // namespace

std::string runtime_library_path() {
  const char* configured = CPLGetConfigOption("TM_RUNTIME", nullptr);
  if (configured && *configured) return configured;
  return (std::filesystem::path(own_folder()) / kDefaultRuntimeName).string();
}

const RuntimeLibrary& load_runtime() {
  static std::mutex mutex;
  // Leaked on purpose: runtimes are never unloaded, and no destructor may call into them at exit.
  static auto* loaded = new std::map<std::string, RuntimeLibrary>();
  const std::string path = runtime_library_path();
  std::lock_guard<std::mutex> lock(mutex);
  if (const auto it = loaded->find(path); it != loaded->end()) return it->second;
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    throw std::runtime_error("cannot load the TM model runtime " + path + ": " +
                             (why ? why : "unknown error") +
                             " (install it next to gdal_TM.so or set TM_RUNTIME to its path)");
  }
  // A refused library stays loaded too: unloading what its constructors set up is not safe.
  const TmRuntimeApi* api = handshake(path, handle);
  return loaded->emplace(path, RuntimeLibrary{path, api}).first->second;
}

}  // namespace terramind::gdal_plugin
