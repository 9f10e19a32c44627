// Parsing and checking the settings of a generated scene.
#include "generation_settings.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

namespace terramind::gdal_plugin {
namespace {

namespace fs = std::filesystem;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

template <typename Int>
Int parse_integer(const std::string& key, const std::string& value, Int min, Int max) {
  Int parsed{};
  const char* end = value.data() + value.size();
  const auto [ptr, ec] = std::from_chars(value.data(), end, parsed);
  if (value.empty() || ec != std::errc() || ptr != end)
    throw SettingsError(key + " must be an integer, got '" + value + "'");
  if (parsed < min || parsed > max)
    throw SettingsError(key + " must be in [" + std::to_string(min) + ", " + std::to_string(max) +
                        "], got " + value);
  return parsed;
}

// GDAL virtual paths (/vsizip/..., /vsicurl/...) and URLs are taken as they are.
bool is_virtual_path(const std::string& path) {
  return path.rfind("/vsi", 0) == 0 || path.find("://") != std::string::npos;
}

std::string resolve_path(const std::string& path, const std::string& base_dir) {
  if (is_virtual_path(path) || fs::path(path).is_absolute()) return path;
  const fs::path base = base_dir.empty() ? fs::current_path() : fs::path(base_dir);
  return (base / path).lexically_normal().string();
}

// The model may be a checkpoint path or a name the runtime knows: only an existing file is
// resolved.
std::string resolve_model(const std::string& model, const std::string& base_dir) {
  if (model.empty() || is_virtual_path(model) || fs::path(model).is_absolute()) return model;
  const std::string resolved = resolve_path(model, base_dir);
  std::error_code ec;
  return fs::exists(resolved, ec) ? resolved : model;
}

}  // namespace

const std::vector<std::string>& setting_keys() {
  static const std::vector<std::string> keys = {
      "target",  "model", "steps", "seed",  "device",   "threads",   "window",
      "overlap", "blend", "edge",  "batch", "cache_mb", "overviews", "descriptor"};
  return keys;
}

std::string canonical_key(const std::string& key) {
  const std::string name = lower(key);
  const auto& keys = setting_keys();
  if (std::find(keys.begin(), keys.end(), name) != keys.end()) return name;
  if (name.rfind("opt.", 0) == 0 && name.size() > 4) return "opt." + key.substr(4);
  if (const Modality* modality = ModalityRegistry::instance().find(key)) return modality->name;
  std::string known;
  for (const auto& k : keys) known += k + ", ";
  throw SettingsError("unknown key '" + key + "' (keys: " + known +
                      "opt.<name>, or an input modality such as S2L2A)");
}

void apply_setting(GenerationSettings& s, const std::string& key, const std::string& value,
                   const std::string& base_dir) {
  const std::string name = canonical_key(key);
  const int kMaxInt = std::numeric_limits<int>::max();
  if (name.rfind("opt.", 0) == 0) {
    s.runtime_options[name.substr(4)] = value;
    return;
  }
  if (name == "descriptor")
    throw SettingsError("descriptor= is only valid in a connection string, once");
  if (value.empty()) throw SettingsError(name + " has an empty value");
  if (name == "target") {
    const Modality* modality = ModalityRegistry::instance().find(value);
    s.targets = {modality ? modality->name : value};
  } else if (name == "model") {
    s.model = resolve_model(value, base_dir);
  } else if (name == "steps") {
    s.steps = parse_integer<int>(name, value, 1, 100000);
  } else if (name == "seed") {
    s.seed = parse_integer<std::int64_t>(name, value, std::numeric_limits<std::int64_t>::min(),
                                         std::numeric_limits<std::int64_t>::max());
  } else if (name == "device") {
    s.device = value;
  } else if (name == "threads") {
    s.threads = parse_integer<int>(name, value, 0, 4096);
  } else if (name == "window") {
    s.window_size = parse_integer<int>(name, value, 1, 8192);
  } else if (name == "overlap") {
    s.overlap = parse_integer<int>(name, value, 0, 8191);
  } else if (name == "blend") {
    const auto weighting = blend_weighting_from(value);
    if (!weighting) throw SettingsError("blend must be taper or mean, got " + value);
    s.weighting = *weighting;
  } else if (name == "edge") {
    const auto edge = edge_policy_from(value);
    if (!edge) throw SettingsError("edge must be reflect, replicate or fill, got " + value);
    s.edge = *edge;
  } else if (name == "batch") {
    s.batch_size = parse_integer<int>(name, value, 1, 4096);
  } else if (name == "cache_mb") {
    s.cache_mb = parse_integer<int>(name, value, 0, kMaxInt);
  } else if (name == "overviews") {
    s.overview_levels = lower(value) == "auto" ? -1 : parse_integer<int>(name, value, 0, 16);
  } else {  // a modality: an input scene
    const std::string path = resolve_path(value, base_dir);
    auto same = [&](const SceneInput& in) { return in.modality == name; };
    const auto existing = std::find_if(s.inputs.begin(), s.inputs.end(), same);
    if (existing != s.inputs.end()) {
      existing->path = path;
    } else {
      s.inputs.push_back({path, name});
    }
  }
}

void validate(const GenerationSettings& s) {
  if (s.inputs.empty())
    throw SettingsError(
        "no input scene: give at least one as <modality>=<path>, e.g. S2L2A=scene.tif");
  if (s.overlap >= s.window_size)
    throw SettingsError("overlap " + std::to_string(s.overlap) + " must be smaller than window " +
                        std::to_string(s.window_size));
}

std::string runtime_settings_json(const GenerationSettings& s) {
  nlohmann::json json = nlohmann::json::object();
  if (!s.model.empty()) json["model"] = s.model;
  if (s.steps) json["steps"] = *s.steps;
  if (s.seed) json["seed"] = *s.seed;
  if (!s.device.empty()) json["device"] = s.device;
  if (s.threads) json["threads"] = *s.threads;
  if (!s.runtime_options.empty()) json["options"] = s.runtime_options;
  return json.dump();
}

}  // namespace terramind::gdal_plugin
