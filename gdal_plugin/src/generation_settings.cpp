// Parsing and checking the settings of a generated scene.
#include "generation_settings.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "tm/ascii_strings.h"
#include "tm/settings.h"

namespace terramind::gdal_plugin {
namespace {

namespace fs = std::filesystem;

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

// A GDAL dataset name in a driver's own syntax: a prefix of two or more letters, digits or '_'
// (starting with a letter) and ':', e.g. GTIFF_DIR:1:/x/crop.tif, NETCDF:"f.nc":var,
// HDF5:"f.h5"://data, SENTINEL2_L2A:/x/MTD_MSIL2A.xml:10m:EPSG_32632, PG:dbname=x.
bool has_driver_prefix(const std::string& name) {
  const std::size_t colon = name.find(':');
  if (colon == std::string::npos || colon < 2 || !std::isalpha(static_cast<unsigned char>(name[0])))
    return false;
  return std::all_of(name.begin(), name.begin() + static_cast<std::ptrdiff_t>(colon),
                     [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

// Input names: relative plain paths are taken relative to `base_dir` (the current folder when
// empty); absolute paths, virtual paths, URLs and driver syntaxes go to GDAL as they are, as
// tm_generate passes them. A relative name that only looks like a driver syntax ("dem:v2.tif")
// is a file when one of that name exists.
std::string resolve_path(const std::string& path, const std::string& base_dir) {
  if (is_virtual_path(path) || fs::path(path).is_absolute()) return path;
  const fs::path base = base_dir.empty() ? fs::current_path() : fs::path(base_dir);
  const std::string resolved = (base / path).lexically_normal().string();
  std::error_code ec;
  if (has_driver_prefix(path) && !fs::exists(resolved, ec)) return path;
  return resolved;
}

// The model may be a checkpoint path or a name the runtime knows: only an existing file is
// resolved.
std::string resolve_model(const std::string& model, const std::string& base_dir) {
  if (model.empty() || is_virtual_path(model) || fs::path(model).is_absolute()) return model;
  const std::string resolved = resolve_path(model, base_dir);
  std::error_code ec;
  return fs::exists(resolved, ec) ? resolved : model;
}

std::string capitalised(std::string text) {
  if (!text.empty()) text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
  return text;
}

// A shared setting (tm/settings.h) as the plugin declares it.
SettingKey plugin_key(const Setting& setting) {
  std::string description = capitalised(setting.help);
  if (setting.key == "opt.allow_resolution")
    description += " (read by the plugin, not passed to the runtime)";
  else if (setting.runtime && starts_with(setting.key, "opt."))
    description = "TerraMind runtime: " + setting.help;
  else if (setting.runtime)
    description += ", passed to the runtime";
  return {setting.key, gdal_type_name(setting.type), setting.default_value, description,
          setting.values};
}

}  // namespace

TilingOptions engine_options(const GenerationSettings& s) {
  TilingOptions options;
  options.window_size = s.window_size;
  options.overlap = s.overlap;
  options.weighting = s.weighting;
  options.edge = s.edge;
  options.batch_size = s.batch_size;
  options.open.allow_any_resolution = s.allow_resolution;
  return options;
}

const std::vector<SettingKey>& setting_table() {
  static const std::vector<SettingKey> table = [] {
    const GenerationSettings defaults;
    // target and model, the shared settings (tm/settings.h) in their order, the plugin's scene
    // keys, then the shared opt.* options.
    std::vector<SettingKey> t = {
        {"target", "string", "", "Target modality to generate, e.g. S1GRD or LULC", {}},
        {"model", "string", "", "Model checkpoint or name, passed to the runtime", {}},
    };
    for (const Setting& setting : settings_table())
      if (!starts_with(setting.key, "opt.")) t.push_back(plugin_key(setting));
    t.push_back({"cache_mb",
                 "int",
                 std::to_string(defaults.cache_mb),
                 "Window cache of the scene in MiB",
                 {}});
    t.push_back(
        {"overviews", "string", "auto", "auto or the number of overview levels (0: none)", {}});
    t.push_back({"descriptor",
                 "string",
                 "",
                 "A descriptor file to start from (connection strings only)",
                 {},
                 false});
    for (const Setting& setting : settings_table())
      if (starts_with(setting.key, "opt.")) t.push_back(plugin_key(setting));
    return t;
  }();
  return table;
}

const std::vector<std::string>& setting_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> names;
    for (const SettingKey& key : setting_table())
      if (key.name.rfind("opt.", 0) != 0) names.push_back(key.name);
    return names;
  }();
  return keys;
}

namespace {

// The table's entry for a runtime option name (case-insensitive), or nullptr.
const SettingKey* runtime_option_entry(const std::string& name) {
  const std::string wanted = "opt." + to_lower(name);
  for (const SettingKey& key : setting_table())
    if (key.name == wanted) return &key;
  return nullptr;
}

}  // namespace

std::string canonical_key(const std::string& key) {
  const std::string name = to_lower(key);
  const auto& keys = setting_keys();
  if (std::find(keys.begin(), keys.end(), name) != keys.end()) return name;
  if (name.rfind("opt.", 0) == 0 && name.size() > 4) {
    // Declared runtime options in any case (open options are upper case: OPT.TEMPERATURE);
    // others keep the case they were given in, for the runtime to judge.
    if (const SettingKey* entry = runtime_option_entry(key.substr(4))) return entry->name;
    return "opt." + key.substr(4);
  }
  if (const Modality* modality = ModalityRegistry::instance().find(key)) return modality->name;
  std::string known;
  for (const auto& k : keys) known += k + ", ";
  throw SettingsError("unknown key '" + key + "' (keys: " + known +
                      "opt.<name>, or an input modality such as S2L2A)");
}

void apply_setting(GenerationSettings& s, const std::string& key, const std::string& value,
                   const std::string& base_dir) {
  const std::string name = canonical_key(key);
  const Setting* shared = find_setting(name);
  if (!shared && starts_with(name, "opt.")) {  // another runtime's option: passed on as it is
    s.runtime_options[name.substr(4)] = value;
    return;
  }
  if (name == "descriptor")
    throw SettingsError("descriptor= is only valid in a connection string, once");
  if (!starts_with(name, "opt.") && value.empty())
    throw SettingsError(name + " has an empty value");
  if (shared) {
    // The engine's and the runtime's settings are read as tm_generate reads them (one reader,
    // one set of messages); the runtime's go on as settings JSON, in their canonical spelling.
    TilingOptions engine = engine_options(s);
    RuntimeSettings runtime;
    try {
      apply_setting(*shared, name, value, engine, runtime);
    } catch (const std::invalid_argument& e) {
      throw SettingsError(e.what());
    }
    s.window_size = engine.window_size;
    s.overlap = engine.overlap;
    s.weighting = engine.weighting;
    s.edge = engine.edge;
    s.batch_size = engine.batch_size;
    s.allow_resolution = engine.open.allow_any_resolution;
    if (name == "steps") s.steps = static_cast<int>(runtime.diffusion_steps);
    if (name == "seed") s.seed = runtime.seed;
    if (name == "device") s.device = runtime.device;
    if (name == "threads") s.threads = runtime.threads;
    if (starts_with(name, "opt.") && shared->runtime)
      s.runtime_options[name.substr(4)] =
          shared->type == SettingType::kBoolean ? boolean_setting(name, value) : value;
    return;
  }
  const int kMaxInt = std::numeric_limits<int>::max();
  if (name == "target") {
    const Modality* modality = ModalityRegistry::instance().find(value);
    s.targets = {modality ? modality->name : value};
  } else if (name == "model") {
    s.model = resolve_model(value, base_dir);
  } else if (name == "cache_mb") {
    s.cache_mb = parse_integer<int>(name, value, 0, kMaxInt);
  } else if (name == "overviews") {
    s.overview_levels = to_lower(value) == "auto" ? -1 : parse_integer<int>(name, value, 0, 16);
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
