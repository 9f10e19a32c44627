// The TM connection string: TM:key=value[:key=value ...] (grammar in gdal_plugin/README.md).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "generation_settings.h"

namespace terramind::gdal_plugin {

constexpr const char* kConnectionPrefix = "TM:";

bool has_connection_prefix(const std::string& text);

// Splits the items after "TM:" into (key, value) pairs, unquoting quoted values. Throws
// SettingsError for an empty string or item, a missing '=', a bad quote or a duplicate key.
std::vector<std::pair<std::string, std::string>> split_connection_string(const std::string& text);

// The settings of a connection string. A descriptor= item is loaded first; the other items then
// override it. Relative paths are relative to the current folder. Throws SettingsError.
GenerationSettings parse_connection_string(const std::string& text);

// A value as written in a connection string: quoted when it holds ':', '"', '\' or blanks.
std::string quote_value(const std::string& value);

// A connection string that opens `target` of `settings` (descriptor-based settings stay short:
// TM:descriptor="...":target=...).
std::string connection_string_for(const GenerationSettings& settings, const std::string& target);

}  // namespace terramind::gdal_plugin
