// Fuzz target: the GDAL plugin's connection strings (gdal_plugin/src/connection_string.cpp).
// descriptor= items may only name the in-memory sample descriptor (no files are read), and every
// value must survive quote_value -> split_connection_string unchanged.
#include <cpl_vsi.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "connection_string.h"
#include "fuzz_support.h"

namespace {

constexpr const char* kDescriptorPath = "/vsimem/fuzz/sample.tmgen";
constexpr const char* kDescriptor =
    R"({"tm_descriptor": 1, "inputs": {"S2L2A": "scene.tif"}, "targets": ["S1GRD", "LULC"],)"
    R"( "model": "synthetic", "settings": {"window": 224, "seed": 1}, "options": {"a": "b"}})";

void install_descriptor() {
  static const bool done = [] {
    VSIFCloseL(VSIFileFromMemBuffer(kDescriptorPath,
                                    reinterpret_cast<GByte*>(const_cast<char*>(kDescriptor)),
                                    std::strlen(kDescriptor), FALSE));
    return true;
  }();
  (void)done;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace terramind::gdal_plugin;
  install_descriptor();
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (has_connection_prefix(text) != (text.size() >= 3 && (text[0] | 0x20) == 't' &&
                                      (text[1] | 0x20) == 'm' && text[2] == ':'))
    tm_fuzz::invariant_failed("has_connection_prefix", text);
  std::vector<std::pair<std::string, std::string>> items;
  try {
    items = split_connection_string(text);
  } catch (const SettingsError&) {
    return 0;
  }
  for (const auto& [key, value] : items) {
    if (key.empty()) tm_fuzz::invariant_failed("empty key", text);
    const std::string again = std::string("TM:k=") + quote_value(value);
    try {
      const auto split = split_connection_string(again);
      if (split.size() != 1 || split[0].second != value)
        tm_fuzz::invariant_failed("quote_value round trip", value + "\n" + again);
    } catch (const SettingsError& e) {
      tm_fuzz::invariant_failed("quote_value round trip throws", again + "\n" + e.what());
    }
    try {
      if (canonical_key(key) == "descriptor" && value != kDescriptorPath) return 0;
    } catch (const SettingsError&) {
    }
  }
  try {
    const GenerationSettings settings = parse_connection_string(text);
    validate(settings);
    connection_string_for(settings, settings.targets.empty() ? "LULC" : settings.targets.front());
  } catch (const SettingsError&) {
  }
  return 0;
}
