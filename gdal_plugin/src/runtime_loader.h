// Loading the model runtime (tm_runtime_api.h) on the first Open, never at registration.
#pragma once

#include <string>

#include "runtime_library.h"

namespace terramind::gdal_plugin {

using terramind::RuntimeLibrary;

// The runtime library to load: the TM_RUNTIME configuration option (or environment variable) when
// set, else libtm_runtime.so in the folder of the plugin itself.
std::string runtime_library_path();

// Loads the runtime at runtime_library_path() once per process and checks its API version and
// ABI (load_runtime_library). Throws std::runtime_error naming the file and the problem.
const RuntimeLibrary& load_runtime();

}  // namespace terramind::gdal_plugin
