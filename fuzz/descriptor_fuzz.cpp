// Fuzz target: the GDAL plugin's .tmgen descriptors (gdal_plugin/src/descriptor.cpp), read from
// GDAL's in-memory file system.
#include <cpl_vsi.h>

#include <cstddef>
#include <cstdint>

#include "connection_string.h"
#include "descriptor.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace terramind::gdal_plugin;
  constexpr const char* kPath = "/vsimem/fuzz/layer.tmgen";
  looks_like_descriptor(kPath, reinterpret_cast<const char*>(data), static_cast<int>(size));
  VSIFCloseL(VSIFileFromMemBuffer(kPath, const_cast<GByte*>(data), size, FALSE));
  try {
    const GenerationSettings settings = load_descriptor(kPath);
    if (settings.descriptor != kPath) tm_fuzz::invariant_failed("descriptor path", settings.descriptor);
    validate(settings);
    connection_string_for(settings, settings.targets.empty() ? "LULC" : settings.targets.front());
  } catch (const SettingsError&) {
  }
  VSIUnlink(kPath);
  return 0;
}
