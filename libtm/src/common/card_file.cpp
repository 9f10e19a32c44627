#include "card_file.h"

#include <fstream>
#include <sstream>

namespace terramind {

std::string read_card_text(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument(what + " not found: " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string beside_card(const std::string& card_path, const std::string& file) {
  const auto slash = card_path.find_last_of('/');
  if (file.empty() || file[0] == '/' || slash == std::string::npos) return file;
  return card_path.substr(0, slash + 1) + file;
}

}  // namespace terramind
