#include "test_paths.h"

#include <unistd.h>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace terramind::testing {

namespace fs = std::filesystem;

static std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::string(value) : fallback;
}

std::string shared_dir() { return env_or("TM_SHARED", TM_DEFAULT_SHARED_DIR); }
std::string fixtures_dir() { return env_or("TM_FIXTURES", shared_dir() + "/fixtures"); }
std::string data_dir() { return shared_dir() + "/data"; }
std::string spec_dir() { return shared_dir() + "/spec"; }
std::string sample_scene() { return TM_SAMPLE_SCENE; }
std::string sample_lulc() { return TM_SAMPLE_LULC; }

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

ScratchDir::ScratchDir() {
  std::string pattern = (fs::temp_directory_path() / "tm-test-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::vector<std::string> ScratchDir::entries() const {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(path_))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace terramind::testing
