#include "output_names.h"

#include <unistd.h>

#include <atomic>

namespace terramind {

std::string parent_folder(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string temp_name_for(const std::string& path, const char* tag) {
  static std::atomic<int> counter{0};
  return parent_folder(path) + "/." + base_name(path) + "." + tag + "-" + std::to_string(getpid()) +
         "-" + std::to_string(counter++);
}

}  // namespace terramind
