// tm_models: the official TerraMind models by name, and the download cache that holds them.
#include <boost/program_options.hpp>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>

#include "tm/model_cache.h"

namespace po = boost::program_options;
using namespace terramind;

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

const char* const kUsage =
    "tm_models: the official TerraMind models by name, and the cache that holds their files\n\n"
    "usage: tm_models list               the official models and what of them is cached\n"
    "       tm_models fetch NAME         download the checkpoint and every tokenizer of NAME\n"
    "                                    (checks cached files by sha256, downloads damaged ones "
    "again)\n"
    "       tm_models path NAME          the cached card of NAME, what --model reads (exit 1 "
    "while\n"
    "                                    files are missing)\n"
    "       tm_models verify [NAME]      check the cached files (size, structure, sha256); exit "
    "1 if\n"
    "                                    one is damaged\n\n"
    "Every tool taking --model NAME downloads what the run needs on first use. Interrupted\n"
    "downloads resume (HTTP Range on a .part file); a file gets its final name only after its\n"
    "checks: the sha256 and size the card records, else size and zip structure, and the sha256\n"
    "seen at download is kept for later verification. Environment: TM_CACHE (the cache folder;\n"
    "default $XDG_CACHE_HOME/tm or ~/.cache/tm), TM_OFFLINE=1 (never touch the network),\n"
    "TM_HUB_ENDPOINT (replaces https://huggingface.co, e.g. a mirror), HF_TOKEN (sent for gated\n"
    "repositories), TM_MODEL_CARDS (another folder of model cards).\n\n"
    "options";

std::string megabytes(int64_t bytes) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << static_cast<double>(bytes) / 1e6 << " MB";
  return out.str();
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::vector<const ModelFile*> files_of(const OfficialModel& m) {
  std::vector<const ModelFile*> files{&m.checkpoint};
  for (const auto& item : m.tokenizers) files.push_back(&item.second);
  return files;
}

int list(ModelCache& cache) {
  const auto& s = cache.settings();
  std::cout << "cache      " << (s.root.empty() ? "(none: set TM_CACHE)" : s.root)
            << (s.offline ? "   (TM_OFFLINE: no downloads)" : "") << "\n"
            << "catalogue  " << s.catalogue << "\n\n";
  const auto names = cache.names();
  if (names.empty()) {
    std::cout << "no model cards in the catalogue\n";
    return 0;
  }
  std::cout << std::left << std::setw(24) << "name" << std::setw(12) << "checkpoint"
            << std::setw(12) << "tokenizers" << std::setw(12) << "cached"
            << "source\n";
  for (const auto& name : names) {
    const OfficialModel m = cache.model(name);
    int tokenizers_ok = 0;
    int64_t bytes = 0;
    std::error_code ec;
    for (const ModelFile* f : files_of(m)) {
      const FileCheck c = cache.check(*f, false);
      if (c.status == FileStatus::kOk)
        bytes += static_cast<int64_t>(std::filesystem::file_size(f->path, ec));
      if (f != &m.checkpoint && c.status == FileStatus::kOk) ++tokenizers_ok;
    }
    std::cout << std::setw(24) << name << std::setw(12)
              << to_string(cache.check(m.checkpoint, false).status) << std::setw(12)
              << (std::to_string(tokenizers_ok) + " of " + std::to_string(m.tokenizers.size()))
              << std::setw(12) << megabytes(bytes) << m.about << "\n";
  }
  std::cout << "\nTerraTorch's _tim and _generate suffixes name the same checkpoints "
               "(terramind_v1_base_tim is terramind_v1_base).\n";
  return 0;
}

int fetch(ModelCache& cache, const std::string& name, const std::string& only) {
  const std::string card =
      only.empty() ? cache.resolve_all(name, /*full_check=*/true)
                   : cache.resolve(name, only == "none" ? std::vector<std::string>{} : split(only),
                                   /*full_check=*/true);
  std::cout << card << "\n";
  return 0;
}

int path(ModelCache& cache, const std::string& name) {
  const OfficialModel m = cache.model(name);
  const std::string card = cache.card_path(name);
  std::vector<std::string> missing;
  for (const ModelFile* f : files_of(m))
    if (cache.check(*f, false).status != FileStatus::kOk) missing.push_back(f->role);
  std::cout << card << "\n";
  if (missing.empty()) return 0;
  std::cerr << "tm_models: " << m.name << ": not in the cache yet:";
  for (const auto& role : missing) std::cerr << " " << role << ";";
  std::cerr << " tm_models fetch " << m.name
            << " downloads them (tools taking --model fetch what a run needs)\n";
  return kExitFailure;
}

int verify(ModelCache& cache, const std::string& name) {
  const std::vector<std::string> names =
      name.empty() ? cache.names() : std::vector<std::string>{cache.model(name).name};
  std::set<std::string> seen;  // tokenizers are shared between models
  int damaged = 0, checked = 0;
  for (const auto& n : names) {
    const OfficialModel m = cache.model(n);
    for (const ModelFile* f : files_of(m)) {
      if (!seen.insert(f->path).second) continue;
      const FileCheck c = cache.check(*f, true);
      if (name.empty() && c.status == FileStatus::kMissing) continue;
      ++checked;
      if (c.status == FileStatus::kCorrupt) ++damaged;
      std::cout << std::left << std::setw(9) << to_string(c.status) << f->role << "  " << f->path
                << "\n         " << c.detail
                << (c.status == FileStatus::kCorrupt
                        ? "; tm_models fetch " + m.name + " downloads it again"
                        : "")
                << "\n";
    }
  }
  if (checked == 0) std::cout << "nothing cached in " << cache.settings().root << "\n";
  if (damaged > 0) {
    std::cerr << "tm_models: " << damaged << " damaged file" << (damaged > 1 ? "s" : "")
              << " in the cache\n";
    return kExitFailure;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string command, name, only;
  bool quiet = false;
  po::options_description visible(kUsage);
  visible.add_options()("help,h", "show this help")(
      "tokenizers", po::value(&only),
      "fetch: only these tokenizers (comma-separated modalities, e.g. S1GRD,LULC; none: the "
      "checkpoint alone)")("quiet,q", po::bool_switch(&quiet), "no download progress");
  po::options_description all;
  all.add(visible).add_options()("command", po::value(&command))("name", po::value(&name));
  po::positional_options_description positional;
  positional.add("command", 1).add("name", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "tm_models: " << e.what() << " (see --help)\n";
    return kExitUsage;
  }
  if (vm.count("help")) {
    std::cout << visible;
    return 0;
  }
  const bool needs_name = command == "fetch" || command == "path";
  if (command.empty() || (command != "list" && command != "verify" && !needs_name)) {
    std::cerr << "tm_models: "
              << (command.empty() ? "name a command" : "unknown command '" + command + "'")
              << ": list, fetch NAME, path NAME or verify [NAME] (see --help)\n";
    return kExitUsage;
  }
  if (needs_name && name.empty()) {
    std::cerr << "tm_models: " << command << " needs a model name (tm_models list shows them)\n";
    return kExitUsage;
  }
  if (command == "list" && !name.empty()) {
    std::cerr << "tm_models: list takes no name\n";
    return kExitUsage;
  }
  if (!only.empty() && command != "fetch") {
    std::cerr << "tm_models: --tokenizers goes with fetch\n";
    return kExitUsage;
  }
  CacheSettings settings = CacheSettings::from_environment();
  settings.progress = !quiet;
  ModelCache cache(settings);
  try {
    if (command == "list") return list(cache);
    if (command == "fetch") return fetch(cache, name, only);
    if (command == "path") return path(cache, name);
    return verify(cache, name);
  } catch (const ModelCacheError& e) {
    std::cerr << "tm_models: " << e.what() << "\n";
    return e.kind() == ModelCacheError::Kind::kUnknownName ? kExitUsage : kExitFailure;
  } catch (const std::exception& e) {
    std::cerr << "tm_models: " << e.what() << "\n";
    return kExitFailure;
  }
}
