// Reading descriptor files.
#include "descriptor.h"

#include <cpl_vsi.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace terramind::gdal_plugin {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string extension_of(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

// A scalar member as the text a connection string would carry.
std::string scalar_text(const json& value, const std::string& where) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_integer() || value.is_boolean()) return value.dump();
  throw SettingsError(where + " must be a string or an integer");
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
  for (const auto& [key, value] : doc.items())
    if (std::none_of(std::begin(kMembers), std::end(kMembers),
                     [&](const char* m) { return key == m; }))
      throw SettingsError("unknown member \"" + key +
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
      settings.runtime_options[key] = scalar_text(value, "option " + key);
  }
}

}  // namespace

bool looks_like_descriptor(const std::string& path, const char* header, int header_bytes) {
  const std::string ext = extension_of(path);
  if ((ext != ".tmgen" && ext != ".json") || header == nullptr || header_bytes <= 0) return false;
  const std::string head(header, static_cast<std::size_t>(header_bytes));
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
    apply_document(settings, doc, fs::path(absolute).parent_path().string());
  } catch (const json::exception& e) {
    throw SettingsError("descriptor " + absolute + " is not valid JSON: " + e.what());
  } catch (const SettingsError& e) {
    throw SettingsError("descriptor " + absolute + ": " + e.what());
  }
  return settings;
}

}  // namespace terramind::gdal_plugin
