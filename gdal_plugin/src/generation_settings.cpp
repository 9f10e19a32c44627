// Parsing and checking the settings of a generated scene.
#include "generation_settings.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "tm/ascii_strings.h"

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

}  // namespace

const std::vector<SettingKey>& setting_table() {
  static const std::vector<SettingKey> table = [] {
    const TilingOptions engine;
    const GenerationSettings defaults;
    std::vector<SettingKey> t = {
        {"target", "string", "", "Target modality to generate, e.g. S1GRD or LULC", {}},
        {"model", "string", "", "Model checkpoint or name, passed to the runtime", {}},
        {"steps", "int", "", "Generation steps, passed to the runtime", {}},
        {"seed", "int", "", "Random seed, passed to the runtime", {}},
        {"device", "string", "", "cpu, cuda, cuda:N, passed to the runtime", {}},
        {"threads", "int", "", "Model threads (0: runtime default), passed to the runtime", {}},
        {"window",
         "int",
         std::to_string(engine.window_size),
         "Window size in pixels (a multiple of what the model needs)",
         {}},
        {"overlap",
         "int",
         std::to_string(engine.overlap),
         "Window overlap in pixels, smaller than the window",
         {}},
        {"blend",
         "string-select",
         to_string(engine.weighting),
         "taper (raised-cosine ramps, no seams) or mean",
         {"taper", "mean"}},
        {"edge",
         "string-select",
         to_string(engine.edge),
         "Padding of windows reaching past the scene",
         {"reflect", "replicate", "fill"}},
        {"batch", "int", std::to_string(engine.batch_size), "Windows per model call", {}},
        {"cache_mb",
         "int",
         std::to_string(defaults.cache_mb),
         "Window cache of the scene in MiB",
         {}},
        {"overviews", "string", "auto", "auto or the number of overview levels (0: none)", {}},
        {"descriptor",
         "string",
         "",
         "A descriptor file to start from (connection strings only)",
         {},
         false},
        // The plugin's own opt.* key: checked where the inputs are opened, not passed on.
        {"opt.allow_resolution",
         "boolean",
         "false",
         "Accept inputs whose pixel size is far from the modality's native resolution (read "
         "by the plugin, not passed to the runtime)",
         {}},
        // The TerraMind runtime's options (runtime/src/runtime_settings.cpp), passed through.
        {"opt.temperature",
         "float",
         "1.0",
         "TerraMind runtime: token sampling temperature (0: greedy, deterministic tokens)",
         {}},
        {"opt.top_p",
         "float",
         "0.8",
         "TerraMind runtime: nucleus sampling probability mass, in [0, 1] (0: off)",
         {}},
        {"opt.top_k",
         "int",
         "0",
         "TerraMind runtime: sample from the k likeliest tokens (0: off)",
         {}},
        {"opt.decoding_steps",
         "int",
         "1",
         "TerraMind runtime: decoding steps of the transformer, 1 to 4096",
         {}},
        {"opt.head_dim",
         "int",
         "64",
         "TerraMind runtime: attention head size when the model card is inferred from a "
         "checkpoint",
         {}},
        {"opt.clamp",
         "boolean",
         "true",
         "TerraMind runtime: clamp diffusion outputs to mean +- 1 std, as the reference does",
         {}},
        {"opt.chain",
         "boolean",
         "false",
         "TerraMind runtime: chained generation, later targets conditioned on earlier ones "
         "(false: each target from the inputs alone)",
         {}},
        {"opt.targets",
         "string",
         "",
         "TerraMind runtime: comma-separated targets to offer (default: every decodable output)",
         {}},
    };
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

// GDAL's spellings of a boolean (CPLTestBool) as the TerraMind runtime reads them.
std::string boolean_value(const std::string& key, const std::string& value) {
  const std::string v = to_lower(value);
  if (v == "true" || v == "yes" || v == "on" || v == "1") return "true";
  if (v == "false" || v == "no" || v == "off" || v == "0") return "false";
  throw SettingsError(key + " must be a boolean (true/false, yes/no, on/off, 1/0), got '" + value +
                      "'");
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
  const int kMaxInt = std::numeric_limits<int>::max();
  if (name == "opt.allow_resolution") {
    s.allow_resolution = boolean_value(name, value) == "true";
    return;
  }
  if (name.rfind("opt.", 0) == 0) {
    const SettingKey* entry = runtime_option_entry(name.substr(4));
    s.runtime_options[name.substr(4)] =
        entry && entry->type == "boolean" ? boolean_value(name, value) : value;
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
