// tm_shards build: samples -> WebDataset shards + manifest, all or nothing (tm/shards.h).
//
// Shards are written under a staging folder inside `out`, renamed to their final names when
// every sample is in, and the manifest is written last (temporary name, then rename): a
// refused or failed build leaves no shard and no manifest under a final name.
#include <cpl_conv.h>
#include <cpl_vsi.h>

#include <set>

#include "build_inputs.h"
#include "dataset_commit.h"
#include "tm/ascii_strings.h"
#include "tm/checksum.h"
#include "tm/registry.h"
#include "vsi_files.h"

namespace terramind::shards {
namespace {

std::string dataset_name(const BuildOptions& o) {
  std::string name = o.dataset;
  if (name.empty()) {
    std::string out = o.out;
    while (out.size() > 1 && out.back() == '/') out.pop_back();
    name = CPLGetFilename(out.c_str());
  }
  for (char& c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) c = '_';
  return name.empty() ? "shards" : name;
}

void check_options(const BuildOptions& o) {
  if (o.out.empty()) throw std::invalid_argument("no output folder (--out)");
  if (!(o.val_fraction >= 0 && o.val_fraction <= 1))
    throw std::invalid_argument("--val-fraction must lie in [0, 1]");
  if (o.shard_bytes == 0) throw std::invalid_argument("--shard-size must be positive");
  if (o.max_samples_per_shard < 1)
    throw std::invalid_argument("--max-samples-per-shard must be at least 1");
  if (o.chip < 0 || o.stride < 0) throw std::invalid_argument("--chip and --stride must be >= 0");
  if (o.stride > 0 && o.chip == 0) throw std::invalid_argument("--stride needs --chip");
  if (o.compression_level < 0 || o.compression_level > 9)
    throw std::invalid_argument("--compression must lie in 0..9");
  if (!(o.max_nodata_fraction >= 0 && o.max_nodata_fraction <= 1))
    throw std::invalid_argument("--max-nodata must lie in [0, 1]");
}

// The shards of one split being written.
struct SplitWriter {
  std::string split;
  std::unique_ptr<TarWriter> tar;
  std::string staged;  // current tar's staging path
  ShardEntry entry;
  std::vector<std::pair<std::string, ShardEntry>> done;  // staging path, entry
  StatisticsAccumulator statistics;
  SplitSummary summary;
};

}  // namespace

BuildReport build_shards(const BuildOptions& options) {
  check_options(options);
  ensure_gdal_registered();
  const std::string out = options.out;
  if (vsi_exists(out + "/manifest.json") && !options.overwrite)
    throw std::invalid_argument(out +
                                ": already holds a dataset (manifest.json); --overwrite "
                                "replaces it");
  Discovery discovery = discover_samples(options);
  Staging staging;
  staging.temporary = discovery.temporary_files;
  const std::string dataset = dataset_name(options);
  staging.begin(out);

  BuildReport report;
  Manifest& manifest = report.manifest;
  manifest.dataset = dataset;
  manifest.created = utc_now();
  manifest.tm_version = tm_version();
  manifest.val_fraction = options.val_fraction;
  manifest.modalities = discovery.modalities;
  manifest.sources = discovery.sources;
  if (options.derive_ndvi) add_derived_modality(manifest.modalities, "NDVI");

  std::map<std::string, SplitWriter> writers;
  auto finish_shard = [&](SplitWriter& w) {
    if (!w.tar) return;
    w.tar->close();
    w.entry.bytes = w.tar->bytes_written();
    w.tar.reset();
    w.done.emplace_back(w.staged, w.entry);
  };
  auto cache = make_dataset_cache();
  const std::int64_t total = static_cast<std::int64_t>(discovery.candidates.size());
  std::int64_t done = 0;
  bool refusing = false;
  std::set<std::string> reported;
  for (const Candidate& candidate : discovery.candidates) {
    LoadedSample loaded = load_sample(candidate, options, *cache);
    if (!loaded.problems.empty()) {
      std::set<std::string> reasons;
      for (auto& p : loaded.problems) {
        reasons.insert(p.reason);
        // The chips of one scene share its pairing problems: each message once.
        if (reported.insert(p.detail).second) report.problems.push_back(p);
      }
      for (const auto& r : reasons) ++manifest.skipped[r];
      if (!options.skip_invalid) refusing = true;
    } else if (!refusing) {
      Sample& sample = loaded.sample;
      if (options.derive_ndvi) derive_ndvi(loaded);
      const std::string split = split_for_key(sample.record.key, options.val_fraction);
      sample.record.split = split;
      std::vector<std::pair<std::string, std::vector<std::uint8_t>>> members;
      const std::string json = to_json(sample.record);
      members.emplace_back(record_member_name(sample.record.key),
                           std::vector<std::uint8_t>(json.begin(), json.end()));
      std::uint64_t bytes = 512 + json.size();
      for (const auto& [modality, array] : sample.arrays) {
        const auto npy = encode_npy(array);
        members.emplace_back(array_member_name(sample.record.key, modality),
                             gzip_compress(npy.data(), npy.size(), options.compression_level));
        bytes += 512 + members.back().second.size();
      }
      SplitWriter& w = writers[split];
      w.split = split;
      if (w.tar && (w.entry.samples >= options.max_samples_per_shard ||
                    w.tar->bytes_written() + bytes > options.shard_bytes))
        finish_shard(w);
      if (!w.tar) {
        char name[64];
        std::snprintf(name, sizeof name, "-%06zu.tar", w.done.size());
        w.entry = ShardEntry{};
        w.entry.split = split;
        w.entry.file = split + "/" + dataset + "-" + split + name;
        make_dirs(staging.path + "/" + split);
        w.staged = staging.path + "/" + w.entry.file;
        w.tar = std::make_unique<TarWriter>(w.staged);
      }
      for (const auto& [name, data] : members) w.tar->add(name, data);
      ++w.entry.samples;
      ++w.summary.samples;
      for (const auto& [modality, array] : sample.arrays) {
        ++w.summary.modality_samples[modality];
        w.statistics.add(modality, array, loaded.nodata[modality]);
      }
    }
    ++done;
    if (options.progress) options.progress(done, total);
  }
  if (refusing) {
    report.refused = true;
    return report;  // Staging's destructor removes everything written
  }
  std::int64_t written = 0;
  for (auto& [split, w] : writers) written += w.summary.samples;
  if (written == 0)
    throw std::invalid_argument("no valid samples: all " + std::to_string(total) +
                                " were skipped (see the problems above)");

  for (auto& [split, w] : writers) {
    finish_shard(w);
    w.summary.statistics = w.statistics.result();
    manifest.splits[split] = w.summary;
    for (auto& [staged, entry] : w.done) {
      entry.sha256 = sha256_file(staged);
      manifest.shards.push_back(entry);
    }
  }
  commit_dataset(out, staging, manifest);
  return report;
}

}  // namespace terramind::shards
