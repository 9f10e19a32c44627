// Reading descriptor files.
#include "descriptor.h"

#include <cpl_vsi.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "tm/ascii_strings.h"

namespace terramind::gdal_plugin {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string extension_of(const std::string& path) {
  return to_lower(fs::path(path).extension().string());
}

// A scalar member as the text a connection string would carry.
std::string scalar_text(const json& value, const std::string& where) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_integer() || value.is_boolean()) return value.dump();
  throw SettingsError(where + " must be a string or an integer");
}

constexpr const char kByteOrderMark[] = "\xEF\xBB\xBF";  // UTF-8, as some editors write it

bool starts_with_bom(const std::string& text) { return text.rfind(kByteOrderMark, 0) == 0; }

// JSON lets the last of two equal keys win silently; a descriptor refuses them, naming the key
// and both lines. Keys of "inputs", "settings" and "options" are compared as the settings see them
// (S2L2A and s2l2a, seed and SEED are one key). `text` is valid JSON.
void refuse_duplicate_keys(const std::string& text) {
  struct Frame {
    bool object;
    std::string name;                               // "" for the document, "settings", "inputs" ...
    std::vector<std::pair<std::string, int>> keys;  // key, line
    bool expect_key;
  };
  auto canonical = [](const std::string& object, const std::string& key) {
    try {
      if (object == "inputs" || object == "settings") return canonical_key(key);
      if (object == "options") return canonical_key("opt." + key);
    } catch (const SettingsError&) {  // unknown keys are refused later, with their own message
    }
    return key;
  };
  std::vector<Frame> stack;
  int line = 1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
    } else if (c == '"') {
      const std::size_t start = i;
      for (++i; i < text.size() && text[i] != '"'; ++i)
        if (text[i] == '\\') ++i;
      if (stack.empty() || !stack.back().object || !stack.back().expect_key) continue;
      Frame& frame = stack.back();
      frame.expect_key = false;
      const std::string key = json::parse(text.substr(start, i - start + 1)).get<std::string>();
      const std::string in = frame.name.empty() ? "" : " in \"" + frame.name + "\"";
      for (const auto& [seen, seen_line] : frame.keys) {
        if (seen == key)
          throw SettingsError("key \"" + key + "\"" + in + " appears twice (" +
                              (seen_line == line ? "both on line " + std::to_string(line)
                                                 : "lines " + std::to_string(seen_line) + " and " +
                                                       std::to_string(line)) +
                              ")");
        if (canonical(frame.name, seen) == canonical(frame.name, key))
          throw SettingsError("\"" + frame.name + "\": \"" + seen + "\" (line " +
                              std::to_string(seen_line) + ") and \"" + key + "\" (line " +
                              std::to_string(line) + ") are the same key");
      }
      frame.keys.emplace_back(key, line);
    } else if (c == '{' || c == '[') {
      std::string name;
      if (!stack.empty()) {
        const Frame& parent = stack.back();
        const std::string member =
            parent.object && !parent.keys.empty() ? parent.keys.back().first : parent.name + "[]";
        name = parent.name.empty() || !parent.object ? member : parent.name + "." + member;
        // Names only label messages: capped, or deep nesting costs memory quadratic in the depth.
        if (name.size() > 200) name.resize(200);
      }
      stack.push_back({c == '{', name, {}, c == '{'});
    } else if (c == '}' || c == ']') {
      if (!stack.empty()) stack.pop_back();
    } else if (c == ',' && !stack.empty() && stack.back().object) {
      stack.back().expect_key = true;
    }
  }
}

std::string read_text(const std::string& path) {
  GByte* data = nullptr;
  vsi_l_offset size = 0;
  constexpr GIntBig kMaxBytes = 1 << 20;  // a descriptor is a few hundred bytes
  if (!VSIIngestFile(nullptr, path.c_str(), &data, &size, kMaxBytes)) {
    VSIFree(data);
    throw SettingsError("cannot read descriptor " + path);
  }
  std::string text(reinterpret_cast<const char*>(data), static_cast<std::size_t>(size));
  VSIFree(data);
  // nlohmann::json stops at a NUL byte and would ignore what follows it.
  if (text.find('\0') != std::string::npos)
    throw SettingsError("descriptor " + path + " holds a NUL byte: it is not a JSON text file");
  if (starts_with_bom(text)) text.erase(0, std::strlen(kByteOrderMark));
  return text;
}

void apply_document(GenerationSettings& settings, const json& doc, const std::string& base_dir) {
  if (!doc.is_object()) throw SettingsError("the document is not a JSON object");
  const auto version = doc.find("tm_descriptor");
  if (version == doc.end() || !version->is_number_integer() ||
      version->get<int>() != kDescriptorVersion)
    throw SettingsError("\"tm_descriptor\" must be " + std::to_string(kDescriptorVersion));
  static const char* kMembers[] = {"tm_descriptor", "description", "inputs",   "target",
                                   "targets",       "model",       "settings", "options"};
  for (const auto& item : doc.items())  // no structured binding: clang < 16 cannot capture one
    if (std::none_of(std::begin(kMembers), std::end(kMembers),
                     [&](const char* m) { return item.key() == m; }))
      throw SettingsError("unknown member \"" + item.key() +
                          "\" (members: tm_descriptor, description, inputs, target or targets, "
                          "model, settings, options)");

  const auto inputs = doc.find("inputs");
  if (inputs == doc.end() || !inputs->is_object() || inputs->empty())
    throw SettingsError(
        "\"inputs\" must map modalities to rasters, e.g. {\"S2L2A\": \"scene.tif\"}");
  for (const auto& [modality, path] : inputs->items()) {
    if (!path.is_string()) throw SettingsError("input " + modality + " must be a path string");
    if (!ModalityRegistry::instance().find(modality))
      throw SettingsError("\"inputs\": unknown modality " + modality);
    apply_setting(settings, modality, path.get<std::string>(), base_dir);
  }

  if (doc.contains("target") && doc.contains("targets"))
    throw SettingsError("give \"target\" or \"targets\", not both");
  if (const auto target = doc.find("target"); target != doc.end())
    apply_setting(settings, "target", scalar_text(*target, "\"target\""), base_dir);
  if (const auto targets = doc.find("targets"); targets != doc.end()) {
    if (!targets->is_array()) throw SettingsError("\"targets\" must be an array of names");
    std::vector<std::string> names;
    for (const json& t : *targets) {
      apply_setting(settings, "target", scalar_text(t, "each of \"targets\""), base_dir);
      names.push_back(settings.targets.front());
    }
    settings.targets = names;
  }
  if (const auto model = doc.find("model"); model != doc.end())
    apply_setting(settings, "model", scalar_text(*model, "\"model\""), base_dir);

  if (const auto members = doc.find("settings"); members != doc.end()) {
    if (!members->is_object()) throw SettingsError("\"settings\" must be an object");
    for (const auto& [key, value] : members->items()) {
      const std::string name = canonical_key(key);
      const auto& keys = setting_keys();
      if (std::find(keys.begin(), keys.end(), name) == keys.end() || name == "target" ||
          name == "model" || name == "descriptor")
        throw SettingsError("\"settings\" cannot hold " + key +
                            " (inputs, target and model are members of their own)");
      apply_setting(settings, name, scalar_text(value, "setting " + key), base_dir);
    }
  }
  if (const auto options = doc.find("options"); options != doc.end()) {
    if (!options->is_object()) throw SettingsError("\"options\" must be an object");
    for (const auto& [key, value] : options->items())
      apply_setting(settings, "opt." + key, scalar_text(value, "option " + key), base_dir);
  }
}

}  // namespace

bool looks_like_descriptor(const std::string& path, const char* header, int header_bytes) {
  const std::string ext = extension_of(path);
  if ((ext != ".tmgen" && ext != ".json") || header == nullptr || header_bytes <= 0) return false;
  std::string head(header, static_cast<std::size_t>(header_bytes));
  if (starts_with_bom(head)) head.erase(0, std::strlen(kByteOrderMark));
  const std::size_t first = head.find_first_not_of(" \t\r\n");
  return first != std::string::npos && head[first] == '{' &&
         head.find(kDescriptorMarker) != std::string::npos;
}

GenerationSettings load_descriptor(const std::string& path) {
  const std::string absolute =
      path.rfind("/vsi", 0) == 0 ? path : fs::absolute(path).lexically_normal().string();
  GenerationSettings settings;
  settings.descriptor = absolute;
  const std::string text = read_text(absolute);
  try {
    const json doc = json::parse(text);
    refuse_duplicate_keys(text);
    apply_document(settings, doc, fs::path(absolute).parent_path().string());
  } catch (const json::exception& e) {
    throw SettingsError("descriptor " + absolute + " is not valid JSON: " + e.what());
  } catch (const SettingsError& e) {
    throw SettingsError("descriptor " + absolute + ": " + e.what());
  }
  return settings;
}

}  // namespace terramind::gdal_plugin
