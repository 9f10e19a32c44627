// runtime_library.h — loading a model runtime library (tm_runtime_api.h) by path, for the GDAL
// plugin and for tools that run third-party runtimes (tm_mosaic --runtime). No GDAL.
#pragma once

#include <memory>
#include <string>

#include "tm_runtime_api.h"

namespace terramind {

struct RuntimeLibrary {
  std::string path;
  const TmRuntimeApi* api = nullptr;
};

// dlopen()s `path` once per process (it stays loaded: LibTorch does not survive being unloaded)
// and checks its entry point, API version and ABI. Throws std::runtime_error naming the file and
// the problem; `hint` ends the message when the library cannot be loaded at all.
const RuntimeLibrary& load_runtime_library(const std::string& path, const std::string& hint = {});

// A model of a runtime library, closed by the runtime that opened it.
struct RuntimeModelCloser {
  const TmRuntimeApi* api = nullptr;
  void operator()(WindowModel* model) const {
    if (api && model) api->close_model(model);
  }
};
using RuntimeModelPtr = std::unique_ptr<WindowModel, RuntimeModelCloser>;

// Opens a model with the runtime's settings JSON (tm_runtime_api.h); std::runtime_error with the
// runtime's reason when it refuses.
RuntimeModelPtr open_runtime_model(const RuntimeLibrary& runtime, const std::string& settings_json);

}  // namespace terramind
