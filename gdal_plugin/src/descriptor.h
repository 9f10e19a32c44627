// The descriptor file (*.tmgen): a small JSON document naming a generated layer, so QGIS users
// can add it like any raster file. Format in gdal_plugin/README.md.
#pragma once

#include <string>

#include "generation_settings.h"

namespace terramind::gdal_plugin {

// The member every descriptor carries (with the format version, 1); Identify() looks for it.
constexpr const char* kDescriptorMarker = "\"tm_descriptor\"";
constexpr int kDescriptorVersion = 1;

// Cheap test for Identify(): a .tmgen or .json name whose first bytes hold a JSON object with the
// marker member.
bool looks_like_descriptor(const std::string& path, const char* header, int header_bytes);

// Reads a descriptor; relative paths in it are relative to its folder. Throws SettingsError
// naming the file and the problem.
GenerationSettings load_descriptor(const std::string& path);

}  // namespace terramind::gdal_plugin
