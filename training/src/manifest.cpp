// manifest.json of a tm shards dataset (tm/shards.h; format in training/README.md).
#include <cpl_vsi.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "tm/ascii_strings.h"
#include "tm/shards.h"

namespace terramind::shards {

using nlohmann::json;

namespace {

// Statistics of an empty band are NaN: written as null, read back as NaN.
json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
double number(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>()
                                               : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

std::string to_json(const Manifest& m) {
  json j;
  j["format"] = m.format;
  j["dataset"] = m.dataset;
  j["created"] = m.created;
  j["tm_version"] = m.tm_version;
  j["val_fraction"] = m.val_fraction;
  j["modalities"] = m.modalities;
  j["sources"] = m.sources;
  json splits = json::object();
  for (const auto& [name, s] : m.splits) {
    json stats = json::object();
    for (const auto& [modality, bands] : s.statistics) {
      json list = json::array();
      for (const auto& b : bands)
        list.push_back({{"band", b.band},
                        {"count", b.count},
                        {"mean", number(b.mean)},
                        {"std", number(b.std)},
                        {"min", number(b.min)},
                        {"max", number(b.max)},
                        {"nodata_fraction", number(b.nodata_fraction)}});
      stats[modality] = list;
    }
    splits[name] = {
        {"samples", s.samples}, {"modality_samples", s.modality_samples}, {"statistics", stats}};
  }
  j["splits"] = splits;
  json shards = json::array();
  for (const auto& s : m.shards)
    shards.push_back({{"file", s.file},
                      {"split", s.split},
                      {"samples", s.samples},
                      {"bytes", s.bytes},
                      {"sha256", s.sha256}});
  j["shards"] = shards;
  j["skipped"] = m.skipped;
  if (!m.tokens.empty()) {
    json tokens = json::object();
    for (const auto& [modality, t] : m.tokens)
      tokens[modality] = {{"tokenizer", t.tokenizer},
                          {"vocabulary", t.vocabulary},
                          {"grid", {t.grid_h, t.grid_w}},
                          {"views", t.views},
                          {"dtype", to_string(t.dtype)}};
    j["tokens"] = tokens;
  }
  return j.dump(2) + "\n";
}

Manifest manifest_from_json(const std::string& text, const std::string& what) {
  Manifest m;
  try {
    const json j = json::parse(text);
    m.format = j.at("format").get<std::string>();
    if (!starts_with(m.format, "tm-shards/"))
      throw FormatError(what + ": not a tm shards manifest (format \"" + m.format + "\")");
    if (m.format != "tm-shards/1")
      throw FormatError(what + ": manifest format " + m.format +
                        " is newer than this tm reads (tm-shards/1)");
    m.dataset = j.value("dataset", "");
    m.created = j.value("created", "");
    m.tm_version = j.value("tm_version", "");
    m.val_fraction = j.value("val_fraction", 0.0);
    m.modalities = j.value("modalities", std::vector<std::string>{});
    m.sources = j.value("sources", std::vector<std::string>{});
    for (const auto& [name, s] : j.at("splits").items()) {
      SplitSummary summary;
      summary.samples = s.at("samples").get<std::int64_t>();
      summary.modality_samples = s.value("modality_samples", std::map<std::string, std::int64_t>{});
      if (s.contains("statistics"))
        for (const auto& [modality, bands] : s["statistics"].items())
          for (const auto& b : bands) {
            BandStatistics st;
            st.band = b.value("band", "");
            st.count = b.value("count", std::int64_t{0});
            st.mean = number(b, "mean");
            st.std = number(b, "std");
            st.min = number(b, "min");
            st.max = number(b, "max");
            st.nodata_fraction = number(b, "nodata_fraction");
            summary.statistics[modality].push_back(st);
          }
      m.splits[name] = summary;
    }
    for (const auto& s : j.at("shards")) {
      ShardEntry e;
      e.file = s.at("file").get<std::string>();
      e.split = s.at("split").get<std::string>();
      e.samples = s.at("samples").get<std::int64_t>();
      e.bytes = s.at("bytes").get<std::uint64_t>();
      e.sha256 = s.at("sha256").get<std::string>();
      if (e.file.empty() || e.file.find("..") != std::string::npos || e.file[0] == '/')
        throw FormatError(what + ": shard path \"" + e.file + "\" leaves the dataset folder");
      m.shards.push_back(e);
    }
    m.skipped = j.value("skipped", std::map<std::string, std::int64_t>{});
    if (j.contains("tokens"))
      for (const auto& [modality, t] : j["tokens"].items()) {
        TokenInfo info;
        info.tokenizer = t.value("tokenizer", "");
        info.vocabulary = t.at("vocabulary").get<std::int64_t>();
        const auto grid = t.at("grid").get<std::vector<int>>();
        if (grid.size() != 2 || grid[0] < 1 || grid[1] < 1 || info.vocabulary < 1)
          throw FormatError(what + ": tokens of " + modality + ": bad grid or vocabulary");
        info.grid_h = grid[0];
        info.grid_w = grid[1];
        info.views = t.value("views", 1);
        const std::string dtype = t.value("dtype", "uint16");
        if (dtype == "uint16")
          info.dtype = DType::kUInt16;
        else if (dtype == "int32")
          info.dtype = DType::kInt32;
        else
          throw FormatError(what + ": tokens of " + modality + ": dtype \"" + dtype +
                            "\" (uint16 or int32)");
        if (info.views != 1 && info.views != 2)
          throw FormatError(what + ": tokens of " + modality + ": views must be 1 or 2");
        m.tokens[modality] = info;
      }
  } catch (const FormatError&) {
    throw;
  } catch (const std::exception& e) {
    throw FormatError(what + ": not a readable manifest (" + e.what() + ")");
  }
  return m;
}

Manifest read_manifest(const std::string& root_or_file) {
  std::string path = root_or_file;
  VSIStatBufL st;
  if (VSIStatL(path.c_str(), &st) == 0 && VSI_ISDIR(st.st_mode)) path += "/manifest.json";
  if (VSIStatL(path.c_str(), &st) != 0)
    throw FormatError(path + ": no such file (not a tm shards dataset?)");
  GByte* bytes = nullptr;
  vsi_l_offset size = 0;
  if (!VSIIngestFile(nullptr, path.c_str(), &bytes, &size, 64 << 20))
    throw FormatError(path + ": cannot read the manifest (missing, or not a tm shards folder?)");
  const std::string text(reinterpret_cast<const char*>(bytes), static_cast<std::size_t>(size));
  VSIFree(bytes);
  return manifest_from_json(text, path);
}

}  // namespace terramind::shards
