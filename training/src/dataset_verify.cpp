// tm_shards verify: checksums against the manifest, every member decoded (tm/shards.h).
#include <cpl_conv.h>
#include <cpl_vsi.h>

#include <set>

#include "build_inputs.h"
#include "tm/ascii_strings.h"
#include "tm/checksum.h"
#include "tm/registry.h"
#include "tm/shards.h"

namespace terramind::shards {
namespace {

// Decodes every member of one shard; returns its sample count.
std::int64_t verify_members(const std::string& path, const ShardEntry& entry,
                            const Manifest& manifest, VerifyReport& report) {
  TarReader tar(path);
  TarMember member;
  std::vector<std::uint8_t> bytes;
  std::set<std::string> keys, with_record;
  std::map<std::string, SampleRecord> records;
  std::map<std::string, std::vector<std::pair<std::string, Array>>> arrays;
  std::string previous_key;
  while (tar.next(member, &bytes)) {
    ++report.members;
    const std::string what = path + ": " + member.name;
    const auto dot = member.name.find('.');
    const std::string key = member.name.substr(0, dot);
    const std::string extension = dot == std::string::npos ? "" : member.name.substr(dot + 1);
    if (keys.count(key) && key != previous_key)
      report.problems.push_back({path, "scattered sample",
                                 what + ": sample \"" + key + "\" is not in one run of members"});
    keys.insert(key);
    previous_key = key;
    try {
      if (extension == "json") {
        records[key] = record_from_json(std::string(bytes.begin(), bytes.end()), what);
        with_record.insert(key);
        if (records[key].split != entry.split)
          report.problems.push_back({path, "wrong split",
                                     what + ": record says split \"" + records[key].split +
                                         "\", the shard is in " + entry.split});
      } else if (ends_with(extension, ".tokens.npy.gz")) {
        const std::string name = extension.substr(0, extension.size() - 14);
        const Modality* m = ModalityRegistry::instance().find(name);
        if (!m) throw FormatError(what + ": unknown modality \"" + name + "\"");
        const auto info = manifest.tokens.find(m->name);
        if (info == manifest.tokens.end())
          throw FormatError(what + ": " + m->name + " tokens the manifest does not describe");
        const auto npy = gzip_decompress(bytes.data(), bytes.size(), what);
        const Array a = decode_npy(npy.data(), npy.size(), what);
        const TokenInfo& t = info->second;
        if (a.dtype != t.dtype || a.bands != t.views || a.height != t.grid_h || a.width != t.grid_w)
          throw FormatError(what + ": " + std::to_string(a.bands) + "x" + std::to_string(a.height) +
                            "x" + std::to_string(a.width) + " " + to_string(a.dtype) +
                            " tokens, the manifest says " + std::to_string(t.views) + "x" +
                            std::to_string(t.grid_h) + "x" + std::to_string(t.grid_w) + " " +
                            to_string(t.dtype));
        for (std::size_t i = 0; i < a.count(); ++i)
          if (a.value(i) < 0 || a.value(i) >= static_cast<double>(t.vocabulary))
            throw FormatError(what + ": token id " +
                              std::to_string(static_cast<long long>(a.value(i))) +
                              " outside the vocabulary of " + std::to_string(t.vocabulary));
      } else if (ends_with(extension, ".npy.gz")) {
        const std::string name = extension.substr(0, extension.size() - 7);
        const Modality* m = ModalityRegistry::instance().find(name);
        if (!m) throw FormatError(what + ": unknown modality \"" + name + "\"");
        const auto npy = gzip_decompress(bytes.data(), bytes.size(), what);
        Array a = decode_npy(npy.data(), npy.size(), what);
        if (a.bands != m->channels())
          throw FormatError(what + ": " + std::to_string(a.bands) + " bands, " + m->name + " has " +
                            std::to_string(m->channels()));
        arrays[key].emplace_back(m->name, std::move(a));
      } else {
        throw FormatError(what +
                          ": unexpected member (not .json, .<modality>.npy.gz or "
                          ".<modality>.tokens.npy.gz)");
      }
    } catch (const FormatError& e) {
      report.problems.push_back({path, "unreadable member", e.what()});
    }
  }
  for (const auto& key : keys) {
    if (!with_record.count(key)) {
      report.problems.push_back(
          {path, "no record", path + ": sample \"" + key + "\" has no " + record_member_name(key)});
      continue;
    }
    const SampleRecord& r = records[key];
    for (const auto& [modality, a] : arrays[key])
      if (a.width != r.width || a.height != r.height)
        report.problems.push_back({path, "size mismatch",
                                   path + ": " + array_member_name(key, modality) + " is " +
                                       std::to_string(a.width) + "x" + std::to_string(a.height) +
                                       ", the record says " + std::to_string(r.width) + "x" +
                                       std::to_string(r.height)});
  }
  return static_cast<std::int64_t>(keys.size());
}

// SHA-256 of a file read through GDAL (local, /vsitar/, /vsicurl/ ...), 4 MiB at a time.
std::string sha256_of(const std::string& path) {
  VSILFILE* f = VSIFOpenL(path.c_str(), "rb");
  if (!f) throw FormatError(path + ": cannot open the shard");
  Sha256 hash;
  std::vector<std::uint8_t> block(std::size_t{4} << 20);
  std::size_t got;
  while ((got = VSIFReadL(block.data(), 1, block.size(), f)) > 0) hash.update(block.data(), got);
  VSIFCloseL(f);
  return hash.hex_digest();
}

}  // namespace

VerifyReport verify_dataset(const std::string& root) {
  ensure_gdal_registered();
  VerifyReport report;
  const Manifest manifest = read_manifest(root);
  std::string folder = root;
  VSIStatBufL st;
  if (VSIStatL(root.c_str(), &st) == 0 && !VSI_ISDIR(st.st_mode)) folder = CPLGetPath(root.c_str());
  std::map<std::string, std::int64_t> split_samples;
  for (const auto& entry : manifest.shards) {
    ++report.shards;
    const std::string path = folder + "/" + entry.file;
    if (VSIStatL(path.c_str(), &st) != 0) {
      report.problems.push_back(
          {path, "missing shard", path + ": listed in the manifest, not found"});
      continue;
    }
    if (static_cast<std::uint64_t>(st.st_size) != entry.bytes)
      report.problems.push_back({path, "size mismatch",
                                 path + ": " + std::to_string(st.st_size) +
                                     " bytes, the manifest says " + std::to_string(entry.bytes)});
    const std::string digest = sha256_of(path);
    if (digest != entry.sha256)
      report.problems.push_back({path, "checksum mismatch",
                                 path + ": sha256 differs from the manifest's (the file changed "
                                        "after it was built)"});
    try {
      const std::int64_t n = verify_members(path, entry, manifest, report);
      report.samples += n;
      split_samples[entry.split] += n;
      if (n != entry.samples)
        report.problems.push_back({path, "count mismatch",
                                   path + ": " + std::to_string(n) +
                                       " samples, the manifest says " +
                                       std::to_string(entry.samples)});
    } catch (const FormatError& e) {
      report.problems.push_back({path, "unreadable shard", e.what()});
    }
  }
  for (const auto& [split, summary] : manifest.splits)
    if (split_samples[split] != summary.samples)
      report.problems.push_back(
          {root, "count mismatch",
           root + ": split " + split + " holds " + std::to_string(split_samples[split]) +
               " samples, the manifest says " + std::to_string(summary.samples)});
  return report;
}

}  // namespace terramind::shards
