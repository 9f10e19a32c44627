// dlopen() of a runtime library and the version handshake.
#include "runtime_library.h"

#include <dlfcn.h>

#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>

namespace terramind {
namespace {

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

const RuntimeLibrary& load_runtime_library(const std::string& path, const std::string& hint) {
  static std::mutex mutex;
  // Leaked on purpose: runtimes are never unloaded, and no destructor may call into them at exit.
  static auto* loaded = new std::map<std::string, RuntimeLibrary>();
  std::lock_guard<std::mutex> lock(mutex);
  if (const auto it = loaded->find(path); it != loaded->end()) return it->second;
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    throw std::runtime_error("cannot load the TM model runtime " + path + ": " +
                             (why ? why : "unknown error") + (hint.empty() ? "" : " " + hint));
  }
  // A refused library stays loaded too: unloading what its constructors set up is not safe.
  const TmRuntimeApi* api = handshake(path, handle);
  return loaded->emplace(path, RuntimeLibrary{path, api}).first->second;
}

RuntimeModelPtr open_runtime_model(const RuntimeLibrary& runtime,
                                   const std::string& settings_json) {
  char error[1024] = "";
  WindowModel* opened = nullptr;
  try {
    opened = runtime.api->open_model(settings_json.c_str(), error, sizeof(error));
  } catch (...) {  // a runtime breaking its no-throw promise must not take the host down
    throw std::runtime_error("the TM model runtime " + runtime.path + " failed to open the model");
  }
  if (!opened)
    throw std::runtime_error(std::string("cannot open the model: ") +
                             (error[0] ? error : "the runtime gave no reason"));
  return RuntimeModelPtr(opened, RuntimeModelCloser{runtime.api});
}

}  // namespace terramind
