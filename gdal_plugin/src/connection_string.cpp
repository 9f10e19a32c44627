// Connection-string grammar: items separated by ':', values optionally double-quoted.
#include "connection_string.h"

#include <cctype>
#include <set>

#include "descriptor.h"

namespace terramind::gdal_plugin {
namespace {

bool is_key_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

// Reads a quoted value starting at text[pos] == '"'; returns it unescaped and moves pos past the
// closing quote.
std::string read_quoted(const std::string& text, std::size_t& pos, const std::string& key) {
  std::string value;
  for (++pos; pos < text.size(); ++pos) {
    const char c = text[pos];
    if (c == '"') {
      ++pos;
      return value;
    }
    if (c == '\\') {
      if (pos + 1 >= text.size() || (text[pos + 1] != '"' && text[pos + 1] != '\\'))
        throw SettingsError("in the value of " + key + ": '\\' must be followed by '\"' or '\\'");
      value += text[++pos];
    } else {
      value += c;
    }
  }
  throw SettingsError("the value of " + key + " has no closing '\"'");
}

}  // namespace

bool has_connection_prefix(const std::string& text) {
  if (text.size() < 3) return false;
  return std::toupper(static_cast<unsigned char>(text[0])) == 'T' &&
         std::toupper(static_cast<unsigned char>(text[1])) == 'M' && text[2] == ':';
}

std::vector<std::pair<std::string, std::string>> split_connection_string(const std::string& text) {
  if (!has_connection_prefix(text))
    throw SettingsError("a connection string starts with " + std::string(kConnectionPrefix));
  std::vector<std::pair<std::string, std::string>> items;
  std::size_t pos = 3;
  if (pos >= text.size())
    throw SettingsError("empty connection string: expected TM:key=value[:key=value...]");
  while (true) {
    const std::size_t key_start = pos;
    while (pos < text.size() && is_key_char(text[pos])) ++pos;
    const std::string key = text.substr(key_start, pos - key_start);
    if (key.empty())
      throw SettingsError("empty or malformed item at character " + std::to_string(key_start + 1) +
                          ": expected key=value");
    if (pos >= text.size() || text[pos] != '=')
      throw SettingsError("item '" + key + "' has no '=' (expected " + key + "=value)");
    ++pos;
    std::string value;
    if (pos < text.size() && text[pos] == '"') {
      value = read_quoted(text, pos, key);
    } else {
      const std::size_t value_start = pos;
      while (pos < text.size() && text[pos] != ':') {
        if (text[pos] == '"')
          throw SettingsError("the value of " + key +
                              " has a '\"' inside: quote the whole value instead");
        ++pos;
      }
      value = text.substr(value_start, pos - value_start);
    }
    items.emplace_back(key, value);
    if (pos >= text.size()) break;
    if (text[pos] != ':')
      throw SettingsError("after the quoted value of " + key + ": expected ':' or the end");
    ++pos;
    if (pos >= text.size()) throw SettingsError("the connection string ends with ':'");
  }
  return items;
}

GenerationSettings parse_connection_string(const std::string& text) {
  const auto items = split_connection_string(text);
  std::set<std::string> seen;
  std::string descriptor;
  for (const auto& [key, value] : items) {
    const std::string name = canonical_key(key);
    if (!seen.insert(name).second) throw SettingsError(name + " is given twice");
    if (name == "descriptor") descriptor = value;
  }
  GenerationSettings settings;
  if (!descriptor.empty()) settings = load_descriptor(descriptor);
  for (const auto& [key, value] : items)
    if (canonical_key(key) != "descriptor") apply_setting(settings, key, value, "");
  return settings;
}

std::string quote_value(const std::string& value) {
  bool needs_quotes = value.empty();
  for (char c : value)
    if (c == ':' || c == '"' || c == '\\' || std::isspace(static_cast<unsigned char>(c)))
      needs_quotes = true;
  if (!needs_quotes) return value;
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string connection_string_for(const GenerationSettings& s, const std::string& target) {
  std::string out = kConnectionPrefix;
  if (!s.descriptor.empty())
    return out + "descriptor=" + quote_value(s.descriptor) + ":target=" + quote_value(target);
  out += "target=" + quote_value(target);
  if (!s.model.empty()) out += ":model=" + quote_value(s.model);
  for (const SceneInput& input : s.inputs)
    out += ":" + input.modality + "=" + quote_value(input.path);
  const GenerationSettings defaults;
  if (s.steps) out += ":steps=" + std::to_string(*s.steps);
  if (s.seed) out += ":seed=" + std::to_string(*s.seed);
  if (!s.device.empty()) out += ":device=" + quote_value(s.device);
  if (s.threads) out += ":threads=" + std::to_string(*s.threads);
  if (s.window_size != defaults.window_size) out += ":window=" + std::to_string(s.window_size);
  if (s.overlap != defaults.overlap) out += ":overlap=" + std::to_string(s.overlap);
  if (s.weighting != defaults.weighting) out += std::string(":blend=") + to_string(s.weighting);
  if (s.edge != defaults.edge) out += std::string(":edge=") + to_string(s.edge);
  if (s.batch_size != defaults.batch_size) out += ":batch=" + std::to_string(s.batch_size);
  if (s.cache_mb != defaults.cache_mb) out += ":cache_mb=" + std::to_string(s.cache_mb);
  if (s.overview_levels != defaults.overview_levels)
    out += ":overviews=" + std::to_string(s.overview_levels);
  if (s.allow_resolution) out += ":opt.allow_resolution=YES";
  for (const auto& [name, value] : s.runtime_options)
    out += ":opt." + name + "=" + quote_value(value);
  return out;
}

}  // namespace terramind::gdal_plugin
