// tm_tokenize_shards: a dataset's shards copied member for member, with each sample's token ids
// appended as "<key>.<modality>.tokens.npy.gz" (views x grid_h x grid_w), all or nothing.
#include <cpl_conv.h>
#include <cpl_vsi.h>

#include <cstring>
#include <filesystem>
#include <set>

#include "build_inputs.h"
#include "dataset_commit.h"
#include "tm/ascii_strings.h"
#include "tm/checksum.h"
#include "tm/registry.h"
#include "tm/shards.h"
#include "vsi_files.h"

namespace terramind::shards {
namespace {

std::string same_place(const std::string& path) {
  std::error_code ec;
  const auto p = std::filesystem::weakly_canonical(std::filesystem::path(path), ec);
  return ec ? path : p.string();
}

std::string key_of(const std::string& member_name) {
  return member_name.substr(0, member_name.find('.'));
}

// The registry modality of a pixel member ("<key>.<modality>.npy.gz"), else nullptr.
const Modality* pixel_modality(const std::string& member_name) {
  const auto dot = member_name.find('.');
  if (dot == std::string::npos) return nullptr;
  const std::string extension = member_name.substr(dot + 1);
  if (!ends_with(extension, ".npy.gz") || ends_with(extension, ".tokens.npy.gz")) return nullptr;
  return ModalityRegistry::instance().find(extension.substr(0, extension.size() - 7));
}

const Modality* token_modality(const std::string& member_name) {
  const auto dot = member_name.find('.');
  if (dot == std::string::npos) return nullptr;
  const std::string extension = member_name.substr(dot + 1);
  if (!ends_with(extension, ".tokens.npy.gz")) return nullptr;
  return ModalityRegistry::instance().find(extension.substr(0, extension.size() - 14));
}

class Tokenizing {
 public:
  Tokenizing(const TokenizeOptions& options, Manifest& manifest, TokenizeReport& report)
      : options_(options), manifest_(manifest), report_(report) {}

  // The token members of one sample, from its decoded pixels.
  std::vector<std::pair<std::string, std::vector<std::uint8_t>>> tokens_of(
      const std::string& key, const std::map<std::string, Array>& pixels, const std::string& what) {
    std::vector<std::pair<std::string, std::vector<std::uint8_t>>> members;
    for (const auto& [modality, encoder] : options_.encoders) {
      const auto it = pixels.find(modality);
      if (it == pixels.end()) continue;
      std::vector<std::vector<std::int64_t>> views;
      int grid_h = 0, grid_w = 0;
      views.push_back(encode(modality, encoder, it->second, grid_h, grid_w, what));
      if (options_.flips) {
        Sample flipped;
        flipped.record.key = key;
        flipped.record.width = it->second.width;
        flipped.record.height = it->second.height;
        flipped.arrays[modality] = it->second;
        crop_and_flip(flipped, 0, 0, 0, true, false);
        int h = 0, w = 0;
        views.push_back(encode(modality, encoder, flipped.arrays[modality], h, w, what));
        if (h != grid_h || w != grid_w)
          throw std::runtime_error(what + ": the " + modality +
                                   " tokenizer gave a different grid for the flipped sample");
      }
      TokenInfo& info = manifest_.tokens[modality];
      if (info.grid_h == 0) {
        info.tokenizer = encoder.tokenizer_name;
        info.vocabulary = encoder.vocabulary;
        info.grid_h = grid_h;
        info.grid_w = grid_w;
        info.views = static_cast<int>(views.size());
        info.dtype = encoder.vocabulary <= 65536 ? DType::kUInt16 : DType::kInt32;
      } else if (info.grid_h != grid_h || info.grid_w != grid_w) {
        throw std::runtime_error(what + ": " + modality + " tokens on a " + std::to_string(grid_h) +
                                 "x" + std::to_string(grid_w) + " grid, earlier samples' on " +
                                 std::to_string(info.grid_h) + "x" + std::to_string(info.grid_w) +
                                 " (samples of different sizes need separate datasets)");
      }
      Array a;
      a.dtype = info.dtype;
      a.bands = info.views;
      a.height = grid_h;
      a.width = grid_w;
      a.data.resize(a.byte_size());
      std::size_t at = 0;
      for (const auto& ids : views)
        for (const std::int64_t id : ids) {
          if (a.dtype == DType::kUInt16) {
            const auto v = static_cast<std::uint16_t>(id);
            std::memcpy(a.data.data() + at, &v, 2);
            at += 2;
          } else {
            const auto v = static_cast<std::int32_t>(id);
            std::memcpy(a.data.data() + at, &v, 4);
            at += 4;
          }
        }
      const auto npy = encode_npy(a);
      members.emplace_back(token_member_name(key, modality),
                           gzip_compress(npy.data(), npy.size(), options_.compression_level));
      ++report_.tokenised[modality];
    }
    return members;
  }

 private:
  std::vector<std::int64_t> encode(const std::string& modality, const TokenEncoder& encoder,
                                   const Array& pixels, int& grid_h, int& grid_w,
                                   const std::string& what) {
    std::vector<std::int64_t> ids;
    try {
      ids = encoder.encode(pixels, grid_h, grid_w);
    } catch (const std::exception& e) {
      throw std::runtime_error(what + ": the " + modality + " tokenizer failed: " + e.what());
    }
    if (grid_h < 1 || grid_w < 1 ||
        ids.size() != static_cast<std::size_t>(grid_h) * static_cast<std::size_t>(grid_w))
      throw std::runtime_error(what + ": the " + modality + " tokenizer returned " +
                               std::to_string(ids.size()) + " ids for a " + std::to_string(grid_h) +
                               "x" + std::to_string(grid_w) + " grid");
    for (const std::int64_t id : ids)
      if (id < 0 || id >= encoder.vocabulary)
        throw std::runtime_error(what + ": the " + modality + " tokenizer returned id " +
                                 std::to_string(id) + ", outside its vocabulary of " +
                                 std::to_string(encoder.vocabulary));
    return ids;
  }

  const TokenizeOptions& options_;
  Manifest& manifest_;
  TokenizeReport& report_;
};

}  // namespace

TokenizeReport tokenize_dataset(const TokenizeOptions& options) {
  ensure_gdal_registered();
  if (options.out.empty()) throw std::invalid_argument("no output folder (--out)");
  if (options.encoders.empty())
    throw std::invalid_argument("no tokenizers given (--tokenizer MODALITY=CHECKPOINT)");
  if (options.compression_level < 0 || options.compression_level > 9)
    throw std::invalid_argument("--compression must lie in 0..9");
  if (same_place(options.out) == same_place(options.dataset))
    throw std::invalid_argument(options.out +
                                ": is the input dataset; token shards go to a new folder");
  const Manifest input = read_manifest(options.dataset);
  TokenizeOptions o = options;
  o.encoders.clear();
  for (const auto& [name, encoder] : options.encoders) {
    const Modality* m = ModalityRegistry::instance().find(name);
    if (!m) throw std::invalid_argument("unknown modality '" + name + "' (--tokenizer)");
    if (std::find(input.modalities.begin(), input.modalities.end(), m->name) ==
        input.modalities.end())
      throw std::invalid_argument(options.dataset + ": has no " + m->name + " pixels to tokenise");
    if (encoder.vocabulary < 1 || !encoder.encode)
      throw std::invalid_argument("the " + m->name + " tokenizer has no vocabulary or encoder");
    o.encoders[m->name] = encoder;
  }
  if (vsi_exists(o.out + "/manifest.json") && !o.overwrite)
    throw std::invalid_argument(o.out +
                                ": already holds a dataset (manifest.json); --overwrite "
                                "replaces it");
  std::string folder = options.dataset;
  if (!vsi_is_dir(folder)) folder = CPLGetPath(folder.c_str());

  TokenizeReport report;
  Manifest& manifest = report.manifest;
  manifest = input;
  manifest.created = utc_now();
  manifest.tm_version = tm_version();
  manifest.shards.clear();
  for (const auto& entry : o.encoders) manifest.tokens.erase(entry.first);  // re-tokenised
  Tokenizing tokenizing(o, manifest, report);

  Staging staging;
  staging.begin(o.out);
  std::int64_t total = 0, done = 0;
  for (const auto& e : input.shards) total += e.samples;
  for (const ShardEntry& in : input.shards) {
    const std::string path = folder + "/" + in.file;
    TarReader tar(path);
    ShardEntry entry = in;
    make_dirs(CPLGetPath((staging.path + "/" + in.file).c_str()));
    const std::string staged = staging.path + "/" + in.file;
    TarWriter writer(staged);
    std::string key;
    std::map<std::string, Array> pixels;
    const auto finish_sample = [&] {
      if (key.empty()) return;
      for (const auto& [name, bytes] : tokenizing.tokens_of(key, pixels, path + ": " + key))
        writer.add(name, bytes);
      pixels.clear();
      ++report.samples;
      ++done;
      if (o.progress) o.progress(done, total);
    };
    TarMember member;
    std::vector<std::uint8_t> bytes;
    while (tar.next(member, &bytes)) {
      const std::string this_key = key_of(member.name);
      if (this_key != key) {
        finish_sample();
        key = this_key;
      }
      const Modality* tokens = token_modality(member.name);
      if (tokens && o.encoders.count(tokens->name)) continue;  // replaced by the new tokens
      writer.add(member.name, bytes);
      const Modality* m = pixel_modality(member.name);
      if (m && o.encoders.count(m->name)) {
        const std::string what = path + ": " + member.name;
        const auto npy = gzip_decompress(bytes.data(), bytes.size(), what);
        pixels[m->name] = decode_npy(npy.data(), npy.size(), what);
      }
    }
    finish_sample();
    writer.close();
    entry.bytes = writer.bytes_written();
    entry.sha256 = sha256_file(staged);
    manifest.shards.push_back(entry);
  }
  for (const auto& [modality, encoder] : o.encoders)
    if (!report.tokenised.count(modality))
      throw std::runtime_error(options.dataset + ": no sample holds " + modality + " pixels");
  commit_dataset(o.out, staging, manifest);
  return report;
}

}  // namespace terramind::shards
