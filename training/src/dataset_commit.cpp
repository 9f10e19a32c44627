// All-or-nothing dataset writes shared by tm_shards build and tm_tokenize_shards.
#include "dataset_commit.h"

#include <cpl_vsi.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "vsi_files.h"

namespace terramind::shards {

void make_dirs(const std::string& path) {
  if (vsi_exists(path) || VSIMkdirRecursive(path.c_str(), 0755) == 0 || vsi_exists(path)) return;
  // GDAL's recursive mkdir gives up on a relative path ("tokens/"): local folders directly.
  std::error_code ec;
  if (path.rfind("/vsi", 0) != 0 && std::filesystem::create_directories(path, ec)) return;
  throw std::runtime_error(path + ": cannot create the folder" +
                           (ec ? " (" + ec.message() + ")" : std::string()));
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

void Staging::begin(const std::string& out) {
  if (!vsi_exists(out)) created_out = out;
  make_dirs(out);
  path = out + "/.tm-shards-staging-" + std::to_string(getpid());
  VSIRmdirRecursive(path.c_str());
  make_dirs(path);
}

Staging::~Staging() {
  if (!path.empty()) VSIRmdirRecursive(path.c_str());
  for (const auto& t : temporary) VSIUnlink(t.c_str());
  if (!committed && !created_out.empty()) VSIRmdir(created_out.c_str());
}

void commit_dataset(const std::string& out, Staging& staging, const Manifest& manifest) {
  std::set<std::string> previous;
  if (vsi_exists(out + "/manifest.json")) {
    try {
      for (const auto& e : read_manifest(out).shards) previous.insert(e.file);
    } catch (const FormatError&) {
    }
    if (VSIUnlink((out + "/manifest.json").c_str()) != 0)
      throw std::runtime_error(out + "/manifest.json: cannot replace it");
  }
  for (const auto& entry : manifest.shards) {
    make_dirs(out + "/" + entry.split);
    const std::string from = staging.path + "/" + entry.file, to = out + "/" + entry.file;
    if (VSIRename(from.c_str(), to.c_str()) != 0)
      throw std::runtime_error(to + ": cannot move the shard into place");
    previous.erase(entry.file);
  }
  for (const auto& stale : previous) VSIUnlink((out + "/" + stale).c_str());
  const std::string text = to_json(manifest);
  const std::string tmp = out + "/.manifest.json.tmp";
  VSILFILE* f = VSIFOpenL(tmp.c_str(), "wb");
  if (!f) throw std::runtime_error(tmp + ": cannot write the manifest");
  const bool ok = VSIFWriteL(text.data(), 1, text.size(), f) == text.size();
  if (VSIFCloseL(f) != 0 || !ok) {
    VSIUnlink(tmp.c_str());
    throw std::runtime_error(tmp + ": write failed (disk full?)");
  }
  if (VSIRename(tmp.c_str(), (out + "/manifest.json").c_str()) != 0)
    throw std::runtime_error(out + "/manifest.json: cannot move the manifest into place");
  staging.committed = true;
}

}  // namespace terramind::shards
