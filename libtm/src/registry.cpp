// Modality registry: parses the embedded modalities.json once and answers lookups.
#include "tm/registry.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "tm/ascii_strings.h"

namespace terramind {
namespace embedded {
extern const char* const kModalitiesJson;
}

namespace {

ModalityKind parse_kind(const std::string& text) {
  if (text == "pixel") return ModalityKind::kPixel;
  if (text == "image-token") return ModalityKind::kImageToken;
  if (text == "sequence") return ModalityKind::kSequence;
  throw std::invalid_argument("modality registry: unknown kind '" + text + "'");
}

std::array<std::uint8_t, 3> parse_colour(const std::string& hex) {
  if (hex.size() != 7 || hex[0] != '#')
    throw std::invalid_argument("modality registry: colour '" + hex + "' is not #rrggbb");
  std::array<std::uint8_t, 3> rgb{};
  for (int i = 0; i < 3; ++i)
    rgb[i] = static_cast<std::uint8_t>(std::stoi(hex.substr(1 + 2 * i, 2), nullptr, 16));
  return rgb;
}

std::optional<ChannelStats> parse_stats(const nlohmann::json& norm, const char* version,
                                        const Modality& m) {
  if (!norm.contains(version)) return std::nullopt;
  ChannelStats stats{norm.at(version).at("mean").get<std::vector<double>>(),
                     norm.at(version).at("std").get<std::vector<double>>()};
  if (static_cast<int>(stats.mean.size()) != m.channels() ||
      static_cast<int>(stats.std.size()) != m.channels())
    throw std::invalid_argument("modality registry: " + m.name + " " + version +
                                " statistics do not have one value per band");
  for (double s : stats.std)
    if (!(s > 0)) throw std::invalid_argument("modality registry: non-positive std in " + m.name);
  return stats;
}

constexpr std::pair<QuicklookStyle, const char*> kQuicklookNames[] = {
    {QuicklookStyle::kNone, "none"},
    {QuicklookStyle::kTrueColour, "true_colour"},
    {QuicklookStyle::kDbStretch, "db_stretch"},
    {QuicklookStyle::kHillshade, "hillshade"},
    {QuicklookStyle::kPalette, "palette"},
    {QuicklookStyle::kNdviRamp, "ndvi_ramp"},
};

// "quicklook" and "quicklook_range": known style, one that fits the modality's bands, and a
// range exactly where the style uses one.
void parse_quicklook(const nlohmann::json& j, Modality& m) {
  const std::string where = "modality registry: " + m.name + " ";
  try {
    m.quicklook = quicklook_style_from_string(j.value("quicklook", "none"));
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(where + e.what());
  }
  if (j.contains("quicklook_range")) {
    const auto range = j.at("quicklook_range").get<std::vector<double>>();
    if (range.size() != 2 || !(range[0] < range[1]))
      throw std::invalid_argument(where + "quicklook_range must be [low, high] with low < high");
    m.quicklook_range = std::array<double, 2>{range[0], range[1]};
  }
  const std::string style = to_string(m.quicklook);
  if (m.quicklook != QuicklookStyle::kNone && !m.is_image())
    throw std::invalid_argument(where + "is a sequence and cannot have a " + style + " quicklook");
  if (m.quicklook == QuicklookStyle::kTrueColour)
    for (const char* colour : {"RED", "GREEN", "BLUE"})
      if (m.band_index(colour) < 0)
        throw std::invalid_argument(where + "has no " + colour +
                                    " band for a true_colour quicklook");
  if (m.quicklook == QuicklookStyle::kDbStretch && !m.quicklook_range)
    throw std::invalid_argument(where + "db_stretch quicklook needs a quicklook_range");
  if (m.quicklook_range && m.quicklook != QuicklookStyle::kDbStretch &&
      m.quicklook != QuicklookStyle::kTrueColour)
    throw std::invalid_argument(where + "quicklook_range is not used by a " + style + " quicklook");
}

Modality parse_modality(const nlohmann::json& j) {
  Modality m;
  m.name = j.at("name").get<std::string>();
  m.aliases = j.value("aliases", std::vector<std::string>{});
  m.description = j.value("description", "");
  m.kind = parse_kind(j.at("kind").get<std::string>());
  m.input_key = j.at("input_key").get<std::string>();
  m.input_id = j.at("input_id").get<int>();
  m.output_key = j.value("output_key", "");
  m.output_id = j.value("output_id", -1);
  m.vocab_size = j.value("vocab_size", 0);
  m.fsq_levels = j.value("fsq_levels", std::vector<int>{});
  m.max_length = j.value("max_length", 0);
  m.tokenizer = j.value("tokenizer", "");
  m.units = j.value("units", "");
  m.resolution_m = j.value("resolution_m", 0.0);
  m.raster_types = j.value("raster_types", std::vector<std::string>{});
  if (j.contains("plausible_range")) {
    const auto range = j.at("plausible_range").get<std::vector<double>>();
    if (range.size() != 2 || !(range[0] < range[1]))
      throw std::invalid_argument("modality registry: " + m.name +
                                  " plausible_range must be [low, high] with low < high");
    m.plausible_range = std::array<double, 2>{range[0], range[1]};
  }
  m.output_type = j.value("output_type", "");
  for (const auto& b : j.value("bands", nlohmann::json::array()))
    m.bands.push_back(Band{b.at(0).get<std::string>(), b.at(1).get<std::string>()});
  if (j.contains("normalization")) {
    m.stats_v1 = parse_stats(j.at("normalization"), "v1", m);
    m.stats_v01 = parse_stats(j.at("normalization"), "v0.1", m);
  }
  if (!m.fsq_levels.empty()) {
    int product = 1;
    for (int level : m.fsq_levels) product *= level;
    if (product != m.vocab_size)
      throw std::invalid_argument("modality registry: " + m.name +
                                  " FSQ levels do not multiply to its vocabulary size");
  }
  if (m.is_image() && m.bands.empty())
    throw std::invalid_argument("modality registry: image modality " + m.name + " has no bands");
  m.class_map = j.value("class_map", false);
  m.level_offsets = j.value("level_offsets", false);
  if (m.class_map && (!m.is_image() || m.channels() != 1))
    throw std::invalid_argument("modality registry: class map " + m.name +
                                " must be an image modality with one band");
  if (m.level_offsets && (!m.is_image() || m.class_map))
    throw std::invalid_argument("modality registry: level offsets of " + m.name +
                                " need a continuous image modality");
  parse_quicklook(j, m);
  return m;
}

}  // namespace

const char* to_string(ModalityKind kind) {
  switch (kind) {
    case ModalityKind::kPixel:
      return "pixel";
    case ModalityKind::kImageToken:
      return "image-token";
    case ModalityKind::kSequence:
      return "sequence";
  }
  return "?";
}

const char* to_string(StatsVersion version) { return version == StatsVersion::kV1 ? "v1" : "v0.1"; }

const char* to_string(QuicklookStyle style) {
  for (const auto& [value, name] : kQuicklookNames)
    if (value == style) return name;
  return "?";
}

QuicklookStyle quicklook_style_from_string(const std::string& text) {
  std::string known;
  for (const auto& [value, name] : kQuicklookNames) {
    if (text == name) return value;
    known += std::string(known.empty() ? "" : ", ") + name;
  }
  throw std::invalid_argument("unknown quicklook '" + text + "' (known: " + known + ")");
}

StatsVersion stats_version_from_string(const std::string& text) {
  const std::string t = to_lower(text);
  if (t == "v1" || t == "1" || t == "1.0") return StatsVersion::kV1;
  if (t == "v0.1" || t == "0.1" || t == "v01") return StatsVersion::kV01;
  throw std::invalid_argument("unknown normalisation version '" + text + "' (use v1 or v0.1)");
}

std::string canonical_band_name(const std::string& text) {
  std::string t = to_upper(text);
  // Sentinel-2 band numbers: B1 -> B01, B8A stays.
  if (t.size() == 2 && t[0] == 'B' && std::isdigit(static_cast<unsigned char>(t[1])))
    return std::string("B0") + t[1];
  return t;
}

bool Modality::accepts_raster_type(const std::string& gdal_type_name) const {
  return std::find(raster_types.begin(), raster_types.end(), gdal_type_name) != raster_types.end();
}

const ChannelStats& Modality::stats(StatsVersion version) const {
  const auto& table = version == StatsVersion::kV1 ? stats_v1 : stats_v01;
  if (!table)
    throw std::out_of_range("modality " + name + " has no " + to_string(version) +
                            " normalisation statistics");
  return *table;
}

int Modality::band_index(const std::string& band_name) const {
  const std::string wanted = canonical_band_name(band_name);
  for (std::size_t i = 0; i < bands.size(); ++i)
    if (canonical_band_name(bands[i].name) == wanted || to_upper(bands[i].long_name) == wanted)
      return static_cast<int>(i);
  return -1;
}

ModalityRegistry ModalityRegistry::from_json(const std::string& json_text) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("modality registry: invalid JSON: ") + e.what());
  }
  ModalityRegistry registry;
  try {
    for (const auto& j : doc.at("modalities")) registry.modalities_.push_back(parse_modality(j));
    for (const auto& c : doc.at("lulc_classes").at("classes"))
      registry.lulc_classes_.push_back(LulcClass{c.at(0).get<int>(), c.at(1).get<std::string>(),
                                                 parse_colour(c.at(2).get<std::string>())});
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("modality registry: ") + e.what());
  }
  // Names and aliases must be unambiguous.
  std::vector<std::string> seen;
  for (const auto& m : registry.modalities_) {
    std::vector<std::string> names = m.aliases;
    names.push_back(m.name);
    for (const auto& n : names) {
      const std::string key = to_lower(n);
      if (std::find(seen.begin(), seen.end(), key) != seen.end())
        throw std::invalid_argument("modality registry: name '" + n + "' is used twice");
      seen.push_back(key);
    }
  }
  return registry;
}

const ModalityRegistry& ModalityRegistry::instance() {
  static const ModalityRegistry registry = from_json(embedded::kModalitiesJson);
  return registry;
}

const Modality* ModalityRegistry::find(const std::string& name_or_alias) const {
  const std::string wanted = to_lower(name_or_alias);
  for (const auto& m : modalities_) {
    if (to_lower(m.name) == wanted) return &m;
    for (const auto& a : m.aliases)
      if (to_lower(a) == wanted) return &m;
  }
  return nullptr;
}

const Modality& ModalityRegistry::get(const std::string& name_or_alias) const {
  if (const Modality* m = find(name_or_alias)) return *m;
  std::ostringstream msg;
  msg << "unknown modality '" << name_or_alias << "'; known modalities:";
  for (const auto& m : modalities_) msg << ' ' << m.name;
  throw UnknownModality(msg.str());
}

const Modality* ModalityRegistry::find_by_key(const std::string& key) const {
  for (const auto& m : modalities_)
    if (m.input_key == key || m.output_key == key) return &m;
  return nullptr;
}

bool ModalityRegistry::is_pixel_input_key(const std::string& key) const {
  for (const auto& m : modalities_)
    if (m.kind == ModalityKind::kPixel && m.input_key == key) return true;
  return false;
}

bool ModalityRegistry::is_token_key(const std::string& key) const {
  for (const auto& m : modalities_)
    if (m.is_image() && !key.empty() &&
        (m.output_key == key || (m.kind == ModalityKind::kImageToken && m.input_key == key)))
      return true;
  return false;
}

const char* tm_version() { return TM_VERSION_STRING; }

}  // namespace terramind
