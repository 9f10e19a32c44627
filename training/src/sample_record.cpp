// Sample records ("<key>.json"), WebDataset member names and the hash split (tm/shards.h).
#include <cmath>
#include <nlohmann/json.hpp>

#include "tm/ascii_strings.h"
#include "tm/checksum.h"
#include "tm/shards.h"

namespace terramind::shards {

using nlohmann::json;

std::string to_json(const SampleRecord& r) {
  json j;
  j["key"] = r.key;
  j["split"] = r.split;
  j["crs"] = r.crs;
  j["geotransform"] = r.geotransform;
  j["width"] = r.width;
  j["height"] = r.height;
  j["date"] = r.date.empty() ? json(nullptr) : json(r.date);
  j["center_lon"] = std::isfinite(r.center_lon) ? json(r.center_lon) : json(nullptr);
  j["center_lat"] = std::isfinite(r.center_lat) ? json(r.center_lat) : json(nullptr);
  j["sources"] = r.sources;
  return j.dump();
}

SampleRecord record_from_json(const std::string& text, const std::string& what) {
  SampleRecord r;
  try {
    const json j = json::parse(text);
    r.key = j.at("key").get<std::string>();
    r.split = j.value("split", "");
    r.crs = j.value("crs", "");
    const auto gt = j.at("geotransform").get<std::vector<double>>();
    if (gt.size() != 6) throw FormatError(what + ": geotransform must have 6 numbers");
    for (int i = 0; i < 6; ++i) r.geotransform[i] = gt[i];
    r.width = j.at("width").get<int>();
    r.height = j.at("height").get<int>();
    if (j.contains("date") && j["date"].is_string()) r.date = j["date"].get<std::string>();
    if (j.contains("center_lon") && j["center_lon"].is_number())
      r.center_lon = j["center_lon"].get<double>();
    if (j.contains("center_lat") && j["center_lat"].is_number())
      r.center_lat = j["center_lat"].get<double>();
    if (j.contains("sources")) r.sources = j["sources"].get<std::map<std::string, std::string>>();
  } catch (const FormatError&) {
    throw;
  } catch (const std::exception& e) {
    throw FormatError(what + ": not a sample record (" + e.what() + ")");
  }
  if (r.key.empty()) throw FormatError(what + ": sample record without a key");
  return r;
}

std::string record_member_name(const std::string& key) { return key + ".json"; }

std::string array_member_name(const std::string& key, const std::string& modality) {
  return key + "." + to_lower(modality) + ".npy.gz";
}

std::string token_member_name(const std::string& key, const std::string& modality) {
  return key + "." + to_lower(modality) + ".tokens.npy.gz";
}

std::string split_for_key(const std::string& key, double val_fraction) {
  const std::string digest = sha256_hex(key);
  const std::uint64_t head = std::stoull(digest.substr(0, 16), nullptr, 16);
  // head / 2^64 < val_fraction, without rounding a fraction of 1 below the largest head.
  const long double position = static_cast<long double>(head) / 18446744073709551616.0L;
  return position < static_cast<long double>(val_fraction) ? "val" : "train";
}

}  // namespace terramind::shards
