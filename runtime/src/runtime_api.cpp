// The C entry point the GDAL plugin dlopen()s (gdal_plugin/tm_runtime_api.h).
#include <cstring>

#include "tm/runtime.h"
#include "tm_runtime_api.h"

namespace {

terramind::WindowModel* open_model(const char* settings_json, char* error,
                                   std::size_t error_size) noexcept {
  try {
    auto model = terramind::open_terramind_window_model(
        terramind::runtime_settings_from_json(settings_json ? settings_json : "{}"));
    return model.release();
  } catch (const std::exception& e) {
    if (error && error_size) {
      std::strncpy(error, e.what(), error_size - 1);
      error[error_size - 1] = '\0';
    }
  } catch (...) {
    if (error && error_size) std::strncpy(error, "unknown error", error_size - 1);
  }
  return nullptr;
}

void close_model(terramind::WindowModel* model) noexcept { delete model; }

}  // namespace

TM_RUNTIME_EXPORT const TmRuntimeApi* tm_runtime_get_api(std::uint32_t wanted_version) {
  static const TmRuntimeApi api =
      terramind::make_runtime_api("TerraMind (LibTorch, CPU)", open_model, close_model);
  return wanted_version == TM_RUNTIME_API_VERSION ? &api : nullptr;
}
