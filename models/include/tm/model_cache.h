// tm/model_cache.h — official TerraMind models by name: the catalogue of cards, the download
// cache, and its checks (public header of tm_model_cache; plain C++, HTTP through libcurl, no
// LibTorch, no GDAL).
//
// A name such as "terramind_v1_base" is the stem of a card in the catalogue folder (the official
// cards, libtm/data/cards, installed to <prefix>/share/tm/cards). Its checkpoint and the tokenizer
// checkpoints a run needs are downloaded on first use from the addresses the cards record ("url",
// optionally "sha256" and "size") into the cache folder, resumably, checked, and placed
// atomically. resolve() returns a card in the cache whose paths point at the cached files: what
// TerraMindModel::open and the runtime read.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace terramind {

// Everything that goes wrong in the cache, with a kind the tools map to exit statuses.
class ModelCacheError : public std::runtime_error {
 public:
  enum class Kind {
    kUnknownName,   // not a model of the catalogue (the message lists the known ones)
    kOffline,       // TM_OFFLINE and a file is not in the cache (the message says how to get it)
    kDownload,      // the server or the network failed
    kVerification,  // a download or a cached file failed its checks
    kCacheFolder,   // the cache folder cannot be created or written
    kCatalogue,     // a catalogue card is missing or malformed
  };
  ModelCacheError(Kind kind, const std::string& message)
      : std::runtime_error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

// Where the cache lives and how it may reach the network.
struct CacheSettings {
  std::string root;       // the cache folder
  std::string catalogue;  // folder of model cards (tokenizer cards as the cards name them)
  // Replaces the Hub address "https://huggingface.co" at the start of card URLs (a mirror, or a
  // local test server); empty: the URLs as the cards write them.
  std::string endpoint;
  bool offline = false;  // never touch the network; missing files are errors
  bool progress = true;  // progress on stderr: a bar on a terminal, start and end lines otherwise
  std::string token;     // sent as "Authorization: Bearer" for gated repositories (empty: none)
  int attempts = 4;      // tries per file; interrupted transfers resume from their .part file
  double retry_delay_s = 1.0;  // before the second try, doubled after each failed one

  // TM_CACHE (else $XDG_CACHE_HOME/tm, else $HOME/.cache/tm), TM_MODEL_CARDS (else the installed
  // <prefix>/share/tm/cards beside the running tool, else the source tree's cards),
  // TM_HUB_ENDPOINT (else HF_ENDPOINT), TM_OFFLINE=1, HF_TOKEN.
  static CacheSettings from_environment();
};

// One downloadable file of a model: its checkpoint or a tokenizer's.
struct ModelFile {
  std::string role;    // "checkpoint", "S1GRD tokenizer"
  std::string url;     // as the card writes it; empty: a local file named by the card
  std::string sha256;  // 64 lower-case hex digits; empty when the card records none
  int64_t size = -1;   // bytes; -1 when the card records none
  std::string path;    // where it lives: in the cache (url set) or beside the card
};

struct OfficialModel {
  std::string name;   // "terramind_v1_base"
  std::string card;   // the catalogue's card
  std::string about;  // the card's "source" (its Hub page)
  ModelFile checkpoint;
  std::map<std::string, ModelFile> tokenizers;         // by registry modality name
  std::map<std::string, std::string> tokenizer_cards;  // the catalogue's tokenizer cards
};

enum class FileStatus {
  kMissing,  // not in the cache
  kPartial,  // only an interrupted download (<path>.part), resumed by the next fetch
  kOk,       // present and passed the checks asked for
  kCorrupt,  // present but fails a check
};

struct FileCheck {
  FileStatus status = FileStatus::kMissing;
  std::string detail;  // what was checked, or why it failed
};

const char* to_string(FileStatus status);

class ModelCache {
 public:
  explicit ModelCache(CacheSettings settings = CacheSettings::from_environment());

  const CacheSettings& settings() const { return settings_; }

  // The catalogue's model names, sorted; aliases (TerraTorch's "_tim" and "_generate" suffixes,
  // which load the same checkpoint) are accepted by the functions below but not listed.
  std::vector<std::string> names() const;
  bool knows(const std::string& name) const;
  // The model's files; kUnknownName (listing names()) when the catalogue has no such card.
  OfficialModel model(const std::string& name) const;

  // Makes the checkpoint and the tokenizers of `modalities` (registry names; others of the card
  // are left alone) present, downloading what is missing unless offline, and returns the path of
  // the model's card in the cache, which names the cached files. Files already cached get the
  // quick check (size, archive structure); `full_check` also compares their sha256 and downloads
  // again those that fail.
  std::string resolve(const std::string& name, const std::vector<std::string>& modalities,
                      bool full_check = false);
  // The same with every tokenizer of the card.
  std::string resolve_all(const std::string& name, bool full_check = false);
  // The cached card without downloading anything (its files may be missing).
  std::string card_path(const std::string& name);

  // Makes one file present and returns its path. kOffline, kDownload, kVerification,
  // kCacheFolder on failure; nothing is ever left under the final name unless it passed.
  std::string fetch(const ModelFile& file, bool full_check = false);
  // Quick: size and structure (a .pt is a zip archive; safetensors' header must match its
  // size). Full: also the sha256, against the card's or else the one recorded at download.
  FileCheck check(const ModelFile& file, bool full) const;

  // The address a file is downloaded from (the card's, with the endpoint applied).
  std::string download_url(const ModelFile& file) const;

 private:
  std::string catalogue_card(const std::string& name) const;
  void download(const ModelFile& file);

  CacheSettings settings_;
};

// True for what --model takes as a model name rather than a path: no '/', no file extension.
bool looks_like_model_name(const std::string& argument);

// What --model means: an existing file as it is; an official name resolved through a cache made
// from the environment (checkpoint plus the tokenizers of `modalities`); anything else that
// looks like a name is ModelCacheError kUnknownName listing the known ones.
std::string resolve_model_argument(const std::string& argument,
                                   const std::vector<std::string>& modalities);

// The built-in default model, a demo trained by tm itself on a handful of real samples
// (sample_data/demo_model/README.md): $TM_DEFAULT_MODEL when set, else the installed
// <prefix>/share/tm/demo_model/tm_demo_v1.json, else the source tree's. "" when there is none.
// --model demo names it too.
std::string default_model_card();

}  // namespace terramind
