#include "tm/model_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "file_checks.h"
#include "http_download.h"
#include "tm/checksum.h"

namespace terramind {
namespace {

namespace fs = std::filesystem;
using Kind = ModelCacheError::Kind;
using nlohmann::json;

constexpr const char* kHub = "https://huggingface.co";
// TerraTorch registers every size under these suffixes too; all of them load the same file.
const char* const kAliasSuffixes[] = {"_generate", "_tim", "_encdec"};

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

bool truthy(std::string value) {
  std::transform(value.begin(), value.end(), value.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return value == "1" || value == "true" || value == "yes" || value == "on";
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

std::string megabytes(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f MB", static_cast<double>(bytes) / 1e6);
  return text;
}

std::string base_name(const std::string& path) { return fs::path(path).filename().string(); }

json read_json(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) throw ModelCacheError(Kind::kCatalogue, what + " not found: " + path);
  try {
    json j = json::parse(in);
    if (!j.is_object()) throw ModelCacheError(Kind::kCatalogue, path + ": not a JSON object");
    return j;
  } catch (const json::exception& e) {
    throw ModelCacheError(Kind::kCatalogue, path + ": invalid JSON: " + e.what());
  }
}

std::string text_field(const json& j, const char* key, const std::string& path) {
  if (!j.contains(key)) return "";
  if (!j.at(key).is_string())
    throw ModelCacheError(Kind::kCatalogue, path + ": '" + key + "' must be a string");
  return j.at(key).get<std::string>();
}

// The cache's place for a URL: hub/<org>/<repo>/<revision>/<file> for Hub addresses
// (".../<org>/<repo>/resolve/<revision>/<file>"), files/<host>/<path> for any other.
std::string cache_relative(const std::string& url, const std::string& card) {
  const auto scheme = url.find("://");
  auto fail = [&](const std::string& why) -> std::string {
    throw ModelCacheError(Kind::kCatalogue, card + ": url '" + url + "' " + why);
  };
  if (scheme == std::string::npos ||
      (url.compare(0, scheme, "http") != 0 && url.compare(0, scheme, "https") != 0))
    return fail("must be an http:// or https:// address");
  std::string rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("?#"));
  std::vector<std::string> parts;
  std::stringstream stream(rest);
  for (std::string part; std::getline(stream, part, '/');) parts.push_back(part);
  if (parts.size() < 2) return fail("names no file");
  for (std::size_t i = 0; i < parts.size(); ++i)
    if (parts[i].empty() || parts[i] == "." || parts[i] == "..")
      return fail("has an empty, '.' or '..' path segment");
  std::vector<std::string> place;
  if (parts.size() >= 6 && parts[3] == "resolve") {
    place = {"hub", parts[1], parts[2], parts[4]};
    place.insert(place.end(), parts.begin() + 5, parts.end());
  } else {
    place = {"files"};
    place.insert(place.end(), parts.begin(), parts.end());
  }
  return join(place, "/");
}

ModelFile file_of(const json& card, const std::string& card_path, const std::string& role,
                  const std::string& root) {
  ModelFile f;
  f.role = role;
  const std::string checkpoint = text_field(card, "checkpoint", card_path);
  f.url = text_field(card, "url", card_path);
  f.sha256 = text_field(card, "sha256", card_path);
  std::transform(f.sha256.begin(), f.sha256.end(), f.sha256.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!f.sha256.empty() && (f.sha256.size() != 64 ||
                            f.sha256.find_first_not_of("0123456789abcdef") != std::string::npos))
    throw ModelCacheError(Kind::kCatalogue,
                          card_path + ": 'sha256' must be 64 hexadecimal digits, got " + f.sha256);
  if (card.contains("size")) {
    if (!card.at("size").is_number_integer() || card.at("size").get<int64_t>() <= 0)
      throw ModelCacheError(Kind::kCatalogue,
                            card_path + ": 'size' must be a positive integer (bytes)");
    f.size = card.at("size").get<int64_t>();
  }
  if (!f.url.empty()) {
    f.path = (fs::path(root) / cache_relative(f.url, card_path)).string();
  } else if (!checkpoint.empty()) {
    f.path = (fs::absolute(card_path).parent_path() / checkpoint).lexically_normal().string();
  } else {
    throw ModelCacheError(Kind::kCatalogue, card_path + ": names neither 'checkpoint' nor 'url'");
  }
  return f;
}

// What a download recorded beside its file: size and sha256 as they arrived.
struct Sidecar {
  int64_t size = -1;
  std::string sha256;
};

std::string sidecar_path(const std::string& path) { return path + ".tm-download"; }

Sidecar read_sidecar(const std::string& path) {
  Sidecar s;
  std::ifstream in(sidecar_path(path));
  if (!in) return s;
  try {
    const json j = json::parse(in);
    s.size = j.value("size", int64_t{-1});
    s.sha256 = j.value("sha256", std::string());
  } catch (const json::exception&) {
  }
  return s;
}

std::string cache_folder_message(const std::string& root, const std::string& what,
                                 const std::string& why) {
  return "cannot use the model cache " + root + ": " + what + ": " + why +
         " (set TM_CACHE to a writable folder)";
}

// Text to `path` by rename, unless the file already holds it.
void write_if_changed(const std::string& path, const std::string& text, const std::string& root) {
  {
    std::ifstream in(path);
    std::stringstream old;
    if (in) {
      old << in.rdbuf();
      if (old.str() == text) return;
    }
  }
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) throw ModelCacheError(Kind::kCacheFolder, cache_folder_message(root, path, ec.message()));
  const std::string temp = path + ".tmp-" + std::to_string(getpid());
  {
    std::ofstream out(temp);
    out << text;
    out.close();
    if (!out) {
      const std::string why = std::strerror(errno);
      std::remove(temp.c_str());
      throw ModelCacheError(Kind::kCacheFolder, cache_folder_message(root, path, why));
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(temp.c_str());
    throw ModelCacheError(Kind::kCacheFolder, cache_folder_message(root, path, why));
  }
}

// An exclusive lock on <path>.lock for one download at a time per file, across processes.
class FileLock {
 public:
  FileLock(const std::string& path, const std::string& label, bool progress) {
    fd_ = ::open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return;  // reported by the download that follows
    if (flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
    if (progress)
      std::cerr << "waiting for another tm process downloading " << label << "\n" << std::flush;
    while (flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
    }
  }
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

std::string exe_share_cards() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  const fs::path cards = exe.parent_path().parent_path() / "share/tm/cards";
  return fs::is_directory(cards, ec) ? cards.string() : "";
}

std::string timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

}  // namespace

const char* to_string(FileStatus status) {
  switch (status) {
    case FileStatus::kMissing:
      return "missing";
    case FileStatus::kPartial:
      return "partial";
    case FileStatus::kOk:
      return "ok";
    case FileStatus::kCorrupt:
      return "corrupt";
  }
  return "?";
}

CacheSettings CacheSettings::from_environment() {
  CacheSettings s;
  if (!env("TM_CACHE").empty()) {
    s.root = env("TM_CACHE");
  } else if (!env("XDG_CACHE_HOME").empty() && env("XDG_CACHE_HOME")[0] == '/') {
    s.root = env("XDG_CACHE_HOME") + "/tm";
  } else if (!env("HOME").empty()) {
    s.root = env("HOME") + "/.cache/tm";
  }
  s.catalogue = env("TM_MODEL_CARDS");
  if (s.catalogue.empty()) s.catalogue = exe_share_cards();
  if (s.catalogue.empty()) s.catalogue = TM_SOURCE_CARDS_DIR;
  s.endpoint = !env("TM_HUB_ENDPOINT").empty() ? env("TM_HUB_ENDPOINT") : env("HF_ENDPOINT");
  s.offline = truthy(env("TM_OFFLINE"));
  s.token = !env("HF_TOKEN").empty() ? env("HF_TOKEN") : env("HUGGING_FACE_HUB_TOKEN");
  return s;
}

ModelCache::ModelCache(CacheSettings settings) : settings_(std::move(settings)) {
  while (settings_.endpoint.size() > 1 && settings_.endpoint.back() == '/')
    settings_.endpoint.pop_back();
}

std::vector<std::string> ModelCache::names() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(settings_.catalogue, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".json" && it->is_regular_file(ec))
      out.push_back(it->path().stem().string());
  std::sort(out.begin(), out.end());
  return out;
}

bool looks_like_model_name(const std::string& argument) {
  return !argument.empty() && argument.find('/') == std::string::npos &&
         argument.find('.') == std::string::npos;
}

std::string ModelCache::catalogue_card(const std::string& name) const {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const std::vector<std::string> known = names();
  auto has = [&](const std::string& n) {
    return std::binary_search(known.begin(), known.end(), n);
  };
  std::string found;
  if (looks_like_model_name(lower)) {
    if (has(lower)) found = lower;
    for (const char* suffix : kAliasSuffixes)
      if (found.empty() && ends_with(lower, suffix) &&
          has(lower.substr(0, lower.size() - std::strlen(suffix))))
        found = lower.substr(0, lower.size() - std::strlen(suffix));
  }
  if (found.empty())
    throw ModelCacheError(
        Kind::kUnknownName,
        "unknown model '" + name + "': not a file, and not an official model name" +
            (known.empty() ? " (the catalogue " + settings_.catalogue +
                                 " holds no cards; set TM_MODEL_CARDS to the cards folder)"
                           : " (known: " + join(known, ", ") + "; tm_models list shows them)"));
  return settings_.catalogue + "/" + found + ".json";
}

bool ModelCache::knows(const std::string& name) const {
  try {
    catalogue_card(name);
    return true;
  } catch (const ModelCacheError&) {
    return false;
  }
}

OfficialModel ModelCache::model(const std::string& name) const {
  OfficialModel m;
  m.card = catalogue_card(name);
  m.name = fs::path(m.card).stem().string();
  const json card = read_json(m.card, "model card");
  m.about = text_field(card, "source", m.card);
  m.checkpoint = file_of(card, m.card, m.name + " checkpoint", settings_.root);
  if (card.contains("tokenizers")) {
    if (!card.at("tokenizers").is_object())
      throw ModelCacheError(Kind::kCatalogue, m.card + ": 'tokenizers' must be an object");
    for (const auto& item : card.at("tokenizers").items()) {
      if (!item.value().is_string())
        throw ModelCacheError(Kind::kCatalogue, m.card + ": 'tokenizers' must name card files");
      const std::string file = item.value().get<std::string>();
      const std::string path =
          (fs::path(file).is_absolute() ? fs::path(file) : fs::path(m.card).parent_path() / file)
              .lexically_normal()
              .string();
      m.tokenizer_cards[item.key()] = path;
      if (ends_with(path, ".json")) {
        m.tokenizers[item.key()] = file_of(read_json(path, "tokenizer card"), path,
                                           item.key() + " tokenizer", settings_.root);
      } else {  // a checkpoint named directly
        ModelFile f;
        f.role = item.key() + " tokenizer";
        f.path = path;
        m.tokenizers[item.key()] = f;
      }
    }
  }
  return m;
}

std::string ModelCache::download_url(const ModelFile& file) const {
  const std::string hub = kHub;
  if (!settings_.endpoint.empty() && file.url.compare(0, hub.size() + 1, hub + "/") == 0)
    return settings_.endpoint + file.url.substr(hub.size());
  return file.url;
}

FileCheck ModelCache::check(const ModelFile& file, bool full) const {
  FileCheck c;
  std::error_code ec;
  if (!fs::is_regular_file(file.path, ec)) {
    const std::string part = file.path + ".part";
    if (fs::is_regular_file(part, ec)) {
      c.status = FileStatus::kPartial;
      c.detail = "interrupted download, " +
                 megabytes(static_cast<int64_t>(fs::file_size(part, ec))) +
                 (file.size > 0 ? " of " + megabytes(file.size) : "") +
                 " received; the next fetch resumes it";
    } else {
      c.status = FileStatus::kMissing;
      c.detail = "not downloaded";
    }
    return c;
  }
  const auto size = static_cast<int64_t>(fs::file_size(file.path, ec));
  const Sidecar recorded = read_sidecar(file.path);
  const int64_t expected_size = file.size > 0 ? file.size : recorded.size;
  c.status = FileStatus::kCorrupt;
  if (expected_size > 0 && size != expected_size) {
    c.detail = std::to_string(size) + " bytes, " +
               (file.size > 0 ? "the card records " : "the download had ") +
               std::to_string(expected_size);
    return c;
  }
  std::vector<std::string> checked;
  if (expected_size > 0) checked.push_back("size");
  std::string structure;
  if (const std::string problem = structure_problem(file.path, size, &structure);
      !problem.empty()) {
    c.detail = problem;
    return c;
  }
  if (!structure.empty()) checked.push_back(structure);
  if (full) {
    const std::string expected = !file.sha256.empty() ? file.sha256 : recorded.sha256;
    if (expected.empty()) {
      checked.push_back("no sha256 known");
    } else {
      const std::string actual = sha256_file(file.path);
      const std::string source = !file.sha256.empty() ? "the card's" : "the download's";
      if (actual != expected) {
        c.detail = "sha256 " + actual + " differs from " + source + " " + expected;
        return c;
      }
      checked.push_back("sha256 (" + source.substr(4) + ")");
    }
  }
  c.status = FileStatus::kOk;
  c.detail = checked.empty() ? "present" : join(checked, ", ") + " ok";
  return c;
}

void ModelCache::download(const ModelFile& file) {
  const std::string part = file.path + ".part";
  const std::string url = download_url(file);
  const std::string label = base_name(file.path);
  HttpTransfer transfer{url, part, settings_.token, label, settings_.progress};
  std::error_code ec;
  const bool resuming = fs::is_regular_file(part, ec) && fs::file_size(part, ec) > 0;
  if (settings_.progress)
    std::cerr << (resuming ? "resuming " : "downloading ") << label << " (" << file.role
              << (file.size > 0 ? ", " + megabytes(file.size) : std::string()) << ") from " << url
              << "\n"
              << std::flush;
  const auto start = std::chrono::steady_clock::now();
  double delay = settings_.retry_delay_s;
  const int attempts = std::max(1, settings_.attempts);
  int64_t received = 0;
  for (int attempt = 1;; ++attempt) {
    const TransferResult r = http_transfer(transfer);
    received += r.received;
    if (r.complete) break;
    if (r.write_failed)
      throw ModelCacheError(Kind::kCacheFolder,
                            cache_folder_message(settings_.root, "writing " + label, r.error));
    const auto kept = fs::is_regular_file(part, ec) ? fs::file_size(part, ec) : 0;
    if (!r.retryable || attempt >= attempts) {
      std::string message = "downloading " + label + " (" + file.role + ") from " + url +
                            " failed" +
                            (attempt > 1 ? " after " + std::to_string(attempt) + " attempts" : "") +
                            ": " + r.error + "; nothing was placed in the cache";
      if (kept > 0)
        message += " (the " + std::to_string(kept) + " bytes received are kept in " + part +
                   " and the next fetch resumes from there)";
      else
        std::remove(part.c_str());  // nothing received: no empty .part left behind
      throw ModelCacheError(Kind::kDownload, message);
    }
    if (settings_.progress)
      std::cerr << label << ": " << r.error << "; trying again in " << delay << " s (attempt "
                << attempt + 1 << " of " << attempts
                << (kept > 0 ? ", resuming at byte " + std::to_string(kept) : std::string())
                << ")\n"
                << std::flush;
    std::this_thread::sleep_for(std::chrono::duration<double>(delay));
    delay *= 2;
  }

  // Checked before it gets its final name; a failing download is removed, never kept.
  const auto size = static_cast<int64_t>(fs::file_size(part, ec));
  auto refuse = [&](const std::string& why) {
    std::remove(part.c_str());
    throw ModelCacheError(Kind::kVerification,
                          label + " (" + file.role + ") from " + url + " failed verification: " +
                              why + "; the download was removed and nothing was kept");
  };
  if (file.size > 0 && size != file.size)
    refuse(std::to_string(size) + " bytes arrived, the card records " + std::to_string(file.size));
  std::string structure;
  if (const std::string problem = structure_problem(part, size, &structure); !problem.empty())
    refuse(problem);
  const std::string sha = sha256_file(part);
  if (!file.sha256.empty() && sha != file.sha256)
    refuse("sha256 " + sha + " differs from the card's " + file.sha256);
  const json sidecar = {{"url", file.url},
                        {"downloaded_from", url},
                        {"size", size},
                        {"sha256", sha},
                        {"downloaded", timestamp()}};
  write_if_changed(sidecar_path(file.path), sidecar.dump(2) + "\n", settings_.root);
  if (std::rename(part.c_str(), file.path.c_str()) != 0)
    throw ModelCacheError(Kind::kCacheFolder,
                          cache_folder_message(settings_.root, file.path, std::strerror(errno)));
  if (settings_.progress) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::ostringstream line;
    line.precision(1);
    line << std::fixed << label << ": " << megabytes(size) << " in " << seconds << " s";
    if (resuming) line << " (" << megabytes(received) << " this time)";
    line << ", "
         << (file.sha256.empty() ? "sha256 " + sha.substr(0, 12) + "… recorded" : "sha256 ok")
         << (structure.empty() ? "" : ", " + structure + " ok") << "\n";
    std::cerr << line.str() << std::flush;
  }
}

std::string ModelCache::fetch(const ModelFile& file, bool full_check) {
  const std::string label = base_name(file.path);
  FileCheck c = check(file, full_check);
  if (c.status == FileStatus::kOk) return file.path;
  if (file.url.empty())
    throw ModelCacheError(
        c.status == FileStatus::kCorrupt ? Kind::kVerification : Kind::kCatalogue,
        file.role + " " + file.path +
            (c.status == FileStatus::kCorrupt ? " fails its check: " + c.detail : " not found") +
            " (its card names no url to download it from)");
  if (settings_.offline) {
    if (c.status == FileStatus::kCorrupt)
      throw ModelCacheError(Kind::kVerification,
                            "the cached " + label + " (" + file.role + ") is damaged: " + c.detail +
                                "; TM_OFFLINE=1 forbids downloading it again (unset it and run "
                                "tm_models fetch)");
    throw ModelCacheError(Kind::kOffline, "TM_OFFLINE=1 and the " + file.role + " " + label +
                                              " is not in the cache: missing " + file.path +
                                              "; unset TM_OFFLINE to download it (tm_models "
                                              "fetch), or save " +
                                              file.url + " there");
  }
  if (settings_.root.empty())
    throw ModelCacheError(
        Kind::kCacheFolder,
        "no folder for the model cache: set TM_CACHE (or HOME or XDG_CACHE_HOME)");
  std::error_code ec;
  fs::create_directories(fs::path(file.path).parent_path(), ec);
  if (ec)
    throw ModelCacheError(
        Kind::kCacheFolder,
        cache_folder_message(settings_.root,
                             "creating " + fs::path(file.path).parent_path().string(),
                             ec.message()));
  FileLock lock(file.path, label, settings_.progress);
  c = check(file, full_check);  // another process may have finished it meanwhile
  if (c.status == FileStatus::kOk) return file.path;
  if (c.status == FileStatus::kCorrupt) {
    if (settings_.progress)
      std::cerr << "the cached " << label << " is damaged (" << c.detail
                << "): downloading it again\n"
                << std::flush;
    fs::remove(file.path, ec);
    fs::remove(sidecar_path(file.path), ec);
  }
  download(file);
  return file.path;
}

std::string ModelCache::card_path(const std::string& name) {
  const OfficialModel m = model(name);
  json card = read_json(m.card, "model card");
  card["checkpoint"] = m.checkpoint.path;
  const std::string cards = (fs::path(settings_.root) / "cards").string();
  if (card.contains("tokenizers"))
    for (auto& item : card["tokenizers"].items()) {
      const std::string source = m.tokenizer_cards.at(item.key());
      const ModelFile& file = m.tokenizers.at(item.key());
      if (!ends_with(source, ".json")) {
        item.value() = file.path;
        continue;
      }
      json tokenizer = read_json(source, "tokenizer card");
      tokenizer["checkpoint"] = file.path;
      const std::string path = cards + "/tokenizer_cards/" + base_name(source);
      write_if_changed(path, tokenizer.dump(2) + "\n", settings_.root);
      item.value() = path;
    }
  const std::string path = cards + "/" + m.name + ".json";
  write_if_changed(path, card.dump(2) + "\n", settings_.root);
  return path;
}

std::string ModelCache::resolve(const std::string& name, const std::vector<std::string>& modalities,
                                bool full_check) {
  const OfficialModel m = model(name);
  std::vector<const ModelFile*> files{&m.checkpoint};
  for (const auto& modality : modalities)
    if (const auto it = m.tokenizers.find(modality); it != m.tokenizers.end())
      files.push_back(&it->second);
  if (settings_.offline) {  // every missing file in one message
    std::vector<std::string> missing;
    for (const ModelFile* f : files)
      if (!f->url.empty() && check(*f, false).status != FileStatus::kOk)
        missing.push_back(f->role + " " + f->path + " (" + f->url + ")");
    if (!missing.empty())
      throw ModelCacheError(Kind::kOffline,
                            "TM_OFFLINE=1 and " + m.name +
                                " needs files that are not in the cache: " + join(missing, "; ") +
                                ". Unset TM_OFFLINE to download them (tm_models fetch " + m.name +
                                "), or save each address at its path");
  }
  for (const ModelFile* f : files) fetch(*f, full_check);
  return card_path(name);
}

std::string ModelCache::resolve_all(const std::string& name, bool full_check) {
  std::vector<std::string> modalities;
  for (const auto& item : model(name).tokenizers) modalities.push_back(item.first);
  return resolve(name, modalities, full_check);
}

std::string resolve_model_argument(const std::string& argument,
                                   const std::vector<std::string>& modalities) {
  std::error_code ec;
  if (fs::exists(argument, ec) || !looks_like_model_name(argument)) return argument;
  if (argument == "demo") {
    const std::string card = default_model_card();
    if (card.empty())
      throw ModelCacheError(ModelCacheError::Kind::kUnknownName,
                            "the demo model is not installed (sample_data/demo_model)");
    return card;
  }
  ModelCache cache;
  return cache.resolve(argument, modalities);
}

std::string default_model_card() {
  std::error_code ec;
  if (!env("TM_DEFAULT_MODEL").empty()) return env("TM_DEFAULT_MODEL");
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed =
        exe.parent_path().parent_path() / "share/tm/demo_model/tm_demo_v1.json";
    if (fs::is_regular_file(installed, ec)) return installed.string();
  }
  const fs::path source = TM_SOURCE_DEMO_MODEL;
  return fs::is_regular_file(source, ec) ? source.string() : "";
}

}  // namespace terramind
