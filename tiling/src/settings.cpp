// The generation settings both tools share: the table and the one reader of its values.
#include "tm/settings.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "tm/ascii_strings.h"
#include "tm/option_names.h"

namespace terramind {
namespace {

// Defaults as both tools show them: 1 and 0.8, not 1.000000.
std::string shown_number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

std::string shown_bool(bool value) { return value ? "true" : "false"; }

std::int64_t parse_integer(const Setting& setting, const std::string& shown,
                           const std::string& value) {
  std::int64_t parsed{};
  const char* end = value.data() + value.size();
  const auto [ptr, ec] = std::from_chars(value.data(), end, parsed);
  if (value.empty() || ec != std::errc() || ptr != end)
    throw std::invalid_argument(shown + " must be an integer, got '" + value + "'");
  // No bound but int's above: "batch must be >= 1, got 0".
  if (parsed < setting.min && setting.max >= std::numeric_limits<int>::max())
    throw std::invalid_argument(shown + " must be >= " + std::to_string(setting.min) + ", got " +
                                value);
  if (parsed < setting.min || parsed > setting.max)
    throw std::invalid_argument(shown + " must be in [" + std::to_string(setting.min) + ", " +
                                std::to_string(setting.max) + "], got " + value);
  return parsed;
}

double parse_float(const std::string& shown, const std::string& value) {
  try {
    std::size_t used = 0;
    const double parsed = std::stod(value, &used);
    if (used == value.size()) return parsed;
  } catch (const std::logic_error&) {  // stod: not a number, out of range
  }
  throw std::invalid_argument(shown + " must be a number, got '" + value + "'");
}

Setting make(std::string key, std::string option, SettingType type, std::string default_value,
             std::string help, std::vector<std::string> values = {}) {
  Setting s;
  s.key = std::move(key);
  s.option = std::move(option);
  s.type = type;
  s.default_value = std::move(default_value);
  s.help = std::move(help);
  s.values = std::move(values);
  return s;
}

std::vector<Setting> make_table() {
  const TilingOptions engine;
  const RuntimeSettings runtime;
  using T = SettingType;
  auto engine_int = [](const std::string& key, int value, std::string help, std::int64_t min,
                       std::int64_t max) {
    Setting s = make(key, key, T::kInt, std::to_string(value), std::move(help));
    s.min = min;
    s.max = max;
    return s;
  };
  auto runtime_setting = [](std::string key, std::string option, T type, std::string value,
                            std::string help) {
    Setting s = make(std::move(key), std::move(option), type, std::move(value), std::move(help));
    s.runtime = true;
    return s;
  };
  // In tm_generate's order (its --help follows it). The plugin lists its keys in this order too,
  // the opt.* ones last.
  return {
      engine_int("window", engine.window_size,
                 "window size in pixels (a multiple of what the model needs)", 1, 8192),
      engine_int("overlap", engine.overlap, "overlap between windows in pixels", 0, 8191),
      // As many as the engine takes: it bounds a batch by the windows there are.
      engine_int("batch", engine.batch_size, "windows per model call", 1,
                 std::numeric_limits<int>::max()),
      runtime_setting("steps", "steps", T::kInt, std::to_string(runtime.diffusion_steps),
                      "diffusion decoder steps"),
      runtime_setting("opt.decoding_steps", "decoding-steps", T::kInt,
                      std::to_string(runtime.decoding_steps), "token decoding steps"),
      runtime_setting("seed", "seed", T::kInt, std::to_string(runtime.seed),
                      "random seed (same seed, same output)"),
      runtime_setting("opt.temperature", "temperature", T::kFloat,
                      shown_number(runtime.temperature),
                      "token sampling temperature (0: greedy, deterministic tokens)"),
      runtime_setting("opt.top_p", "top-p", T::kFloat, shown_number(runtime.top_p),
                      "nucleus sampling mass, in [0, 1] (0: off)"),
      runtime_setting("opt.top_k", "", T::kInt, std::to_string(runtime.top_k),
                      "sample from the k likeliest tokens (0: off)"),
      runtime_setting("opt.chain", "chain-targets", T::kBoolean, shown_bool(runtime.chain_targets),
                      "generate targets in the order given, each conditioned on the earlier ones "
                      "(the reference's chained generation; a target then depends on the targets "
                      "before it)"),
      make("blend", "blend", T::kChoice, to_string(engine.weighting),
           "taper (seamless) or mean (as the paper)", {"taper", "mean"}),
      make("edge", "", T::kChoice, to_string(engine.edge),
           "padding of windows reaching past the scene", {"reflect", "replicate", "fill"}),
      runtime_setting("opt.clamp", "no-clamp", T::kBoolean, shown_bool(runtime.clamp),
                      "clamp diffusion outputs to mean +- 1 std (the reference clamps)"),
      runtime_setting("device", "device", T::kString, runtime.device,
                      "torch device: cpu, cuda or cuda:N"),
      runtime_setting("threads", "threads", T::kInt, std::to_string(runtime.threads),
                      "LibTorch threads (0: all cores)"),
      runtime_setting("opt.head_dim", "head-dim", T::kInt, std::to_string(runtime.head_dim),
                      "head width for checkpoints without card"),
      runtime_setting("opt.targets", "", T::kString, "",
                      "comma-separated targets to offer (default: every decodable output)"),
      // The plugin's own opt.* key (tm_generate --allow-resolution): not passed to the runtime.
      make("opt.allow_resolution", "allow-resolution", T::kBoolean,
           shown_bool(engine.open.allow_any_resolution),
           "accept inputs whose pixel size is far from the modality's native resolution"),
  };
}

}  // namespace

const std::vector<Setting>& settings_table() {
  static const std::vector<Setting> table = make_table();
  return table;
}

const Setting* find_setting(const std::string& key) {
  for (const Setting& setting : settings_table())
    if (setting.key == key) return &setting;
  return nullptr;
}

const char* gdal_type_name(SettingType type) {
  switch (type) {
    case SettingType::kInt:
      return "int";
    case SettingType::kFloat:
      return "float";
    case SettingType::kBoolean:
      return "boolean";
    case SettingType::kChoice:
      return "string-select";
    case SettingType::kString:
      break;
  }
  return "string";
}

std::string boolean_setting(const std::string& shown, const std::string& value) {
  const std::string v = to_lower(value);
  if (v == "true" || v == "yes" || v == "on" || v == "1") return "true";
  if (v == "false" || v == "no" || v == "off" || v == "0") return "false";
  throw std::invalid_argument(
      shown + " must be a boolean (true/false, yes/no, on/off, 1/0), got '" + value + "'");
}

void apply_setting(const Setting& setting, const std::string& shown, const std::string& value,
                   TilingOptions& tiling, RuntimeSettings& runtime) {
  const std::string& key = setting.key;
  switch (setting.type) {
    case SettingType::kInt: {
      const std::int64_t v = parse_integer(setting, shown, value);
      if (key == "window") tiling.window_size = static_cast<int>(v);
      if (key == "overlap") tiling.overlap = static_cast<int>(v);
      if (key == "batch") tiling.batch_size = static_cast<int>(v);
      if (key == "steps") runtime.diffusion_steps = v;
      if (key == "seed") runtime.seed = v;
      // Beyond int: kept at int's bounds, which validate(RuntimeSettings) refuses.
      if (key == "threads")
        runtime.threads = static_cast<int>(std::clamp<std::int64_t>(
            v, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
      if (key == "opt.top_k") runtime.top_k = v;
      if (key == "opt.decoding_steps") runtime.decoding_steps = v;
      if (key == "opt.head_dim") runtime.head_dim = v;
      return;
    }
    case SettingType::kFloat: {
      const double v = parse_float(shown, value);
      if (key == "opt.temperature") runtime.temperature = v;
      if (key == "opt.top_p") runtime.top_p = v;
      return;
    }
    case SettingType::kBoolean: {
      const bool v = boolean_setting(shown, value) == "true";
      if (key == "opt.allow_resolution") tiling.open.allow_any_resolution = v;
      if (key == "opt.clamp") runtime.clamp = v;
      if (key == "opt.chain") runtime.chain_targets = v;
      return;
    }
    case SettingType::kChoice:
      if (key == "blend") {
        const auto weighting = blend_weighting_from(value);
        if (!weighting) throw std::invalid_argument(shown + " must be taper or mean, got " + value);
        tiling.weighting = *weighting;
      } else if (key == "edge") {
        const auto edge = edge_policy_from(value);
        if (!edge)
          throw std::invalid_argument(shown + " must be reflect, replicate or fill, got " + value);
        tiling.edge = *edge;
      }
      return;
    case SettingType::kString:
      if (key == "device") runtime.device = value;
      if (key == "opt.targets") runtime.targets = split(value, ',');
      return;
  }
}

}  // namespace terramind
