// Shard listing and the tm shards sample source; the TerraMesh layout is terramesh_source.cpp.
#include <cpl_string.h>
#include <cpl_vsi.h>

#include <gdal.h>

#include <algorithm>
#include <mutex>

#include "build_inputs.h"
#include "terramesh_source.h"
#include "tm/ascii_strings.h"
#include "tm/registry.h"
#include "tm/shards.h"
#include "vsi_files.h"

namespace terramind::shards {
namespace {

// A folder holding registry-named modality folders (the TerraMesh split layout)?
bool has_modality_folders(const std::string& folder) {
  for (const auto& e : vsi_folder_entries(folder))
    if (ModalityRegistry::instance().find(e) && vsi_is_dir(folder + "/" + e)) return true;
  return false;
}

// The WebDataset key of a member: its name up to the first '.' of the last path component.
std::string member_key(const std::string& name, std::string& extension) {
  const auto slash = name.rfind('/');
  const auto dot = name.find('.', slash == std::string::npos ? 0 : slash + 1);
  if (dot == std::string::npos) {
    extension.clear();
    return name;
  }
  extension = name.substr(dot + 1);
  return name.substr(0, dot);
}

// Samples of one tm shard: members grouped by key, in archive order.
class TmShardSource : public SampleSource {
 public:
  TmShardSource(const ShardRef& shard, std::vector<std::string> modalities,
                std::vector<std::string> token_modalities)
      : shard_(shard),
        tar_(shard.path),
        modalities_(std::move(modalities)),
        token_modalities_(std::move(token_modalities)) {}

  bool next(Sample& sample) override { return read(&sample); }
  bool skip() override { return read(nullptr); }
  std::uint64_t bytes_read() const override { return tar_.bytes_read(); }

 private:
  bool wanted(const std::string& modality) const {
    return (modalities_.empty() && token_modalities_.empty()) ||
           std::find(modalities_.begin(), modalities_.end(), modality) != modalities_.end();
  }
  bool wanted_tokens(const std::string& modality) const {
    return std::find(token_modalities_.begin(), token_modalities_.end(), modality) !=
           token_modalities_.end();
  }

  bool advance() {
    held_ = tar_.next_header(member_);
    return held_;
  }

  bool read(Sample* sample) {
    if (!held_ && !advance()) return false;
    std::string extension;
    const std::string key = member_key(member_.name, extension);
    if (sample) {
      *sample = Sample{};
      sample->shard = shard_.name;
    }
    bool have_record = false;
    std::vector<std::uint8_t> bytes;
    while (held_) {
      const std::string this_key = member_key(member_.name, extension);
      if (this_key != key) break;
      const std::string what = tar_.path() + ": " + member_.name;
      if (extension == "json") {
        have_record = true;
        if (sample) {
          tar_.read_data(bytes);
          sample->record = record_from_json(std::string(bytes.begin(), bytes.end()), what);
        }
      } else if (ends_with(extension, ".tokens.npy.gz") && sample) {
        const Modality* m =
            ModalityRegistry::instance().find(extension.substr(0, extension.size() - 14));
        if (m && wanted_tokens(m->name)) {
          tar_.read_data(bytes);
          const auto npy = gzip_decompress(bytes.data(), bytes.size(), what);
          sample->tokens[m->name] = decode_npy(npy.data(), npy.size(), what);
        }
      } else if (ends_with(extension, ".npy.gz") && sample) {
        const Modality* m =
            ModalityRegistry::instance().find(extension.substr(0, extension.size() - 7));
        if (m && wanted(m->name)) {
          tar_.read_data(bytes);
          const auto npy = gzip_decompress(bytes.data(), bytes.size(), what);
          sample->arrays[m->name] = decode_npy(npy.data(), npy.size(), what);
        }
      }
      advance();
    }
    if (!have_record)
      throw FormatError(tar_.path() + ": sample \"" + key + "\" has no " + record_member_name(key) +
                        " record");
    if (sample && sample->record.key != key)
      throw FormatError(tar_.path() + ": member " + record_member_name(key) + " names key \"" +
                        sample->record.key + "\"");
    return true;
  }

  ShardRef shard_;
  TarReader tar_;
  std::vector<std::string> modalities_, token_modalities_;
  TarMember member_;
  bool held_ = false;  // member_ is the first member of the next sample
};

}  // namespace

void ensure_gdal_registered() {
  static std::once_flag once;
  std::call_once(once, [] { GDALAllRegister(); });
}

std::vector<ShardRef> list_shards(const std::string& root, const std::string& split,
                                  const std::vector<std::string>& modalities) {
  ensure_gdal_registered();
  if (!vsi_exists(root)) throw FormatError(root + ": no such dataset folder or shard");
  if (!vsi_is_dir(root)) {  // one tar
    ShardRef ref;
    ref.name = CPLGetFilename(root.c_str());
    ref.path = root;
    return {ref};
  }
  if (vsi_exists(root + "/manifest.json")) {
    const Manifest manifest = read_manifest(root);
    std::vector<ShardRef> out;
    for (const auto& entry : manifest.shards) {
      if (!split.empty() && entry.split != split) continue;
      ShardRef ref;
      ref.name = entry.file;
      ref.path = root + "/" + entry.file;
      ref.samples = entry.samples;
      out.push_back(ref);
    }
    if (out.empty() && !split.empty() && !manifest.splits.count(split))
      throw FormatError(root + ": the dataset has no split \"" + split + "\"");
    return out;
  }
  if ((!split.empty() && vsi_is_dir(root + "/" + split) &&
       has_modality_folders(root + "/" + split)) ||
      has_modality_folders(root))
    return list_terramesh_shards(root, split, modalities);
  // A folder of tm shards without a manifest (e.g. one split folder): its tars, sorted.
  std::vector<ShardRef> out;
  for (const auto& e : vsi_folder_entries(root))
    if (ends_with(e, ".tar")) {
      ShardRef ref;
      ref.name = e;
      ref.path = root + "/" + e;
      out.push_back(ref);
    }
  if (out.empty())
    throw FormatError(root +
                      ": no shards here (no manifest.json, no .tar files, no TerraMesh "
                      "modality folders)");
  return out;
}

std::unique_ptr<SampleSource> open_shard(const ShardRef& shard,
                                         const std::vector<std::string>& modalities,
                                         const std::vector<std::string>& token_modalities) {
  ensure_gdal_registered();
  const auto canonical = [](const std::vector<std::string>& names) {
    std::vector<std::string> out;
    for (const auto& m : names) out.push_back(ModalityRegistry::instance().get(m).name);
    return out;
  };
  if (shard.layout == Layout::kTerraMesh) {
    if (!token_modalities.empty())
      throw FormatError(shard.name +
                        ": the TerraMesh layout holds no token arrays (tokenise a "
                        "tm shards dataset with `tm_tokenize_shards`)");
    return open_terramesh_shard(shard, canonical(modalities));
  }
  return std::make_unique<TmShardSource>(shard, canonical(modalities), canonical(token_modalities));
}

}  // namespace terramind::shards
