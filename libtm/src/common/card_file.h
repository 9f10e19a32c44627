// Cards (model and tokenizer configuration, JSON) read from files: errors name the file, and
// file names inside a card are taken relative to the card's folder.
#pragma once

#include <stdexcept>
#include <string>

namespace terramind {

// The whole file; "<what> not found: <path>" when it cannot be opened.
std::string read_card_text(const std::string& path, const std::string& what);

// `file` as written in the card at `card_path`: absolute, or relative to the card's folder.
std::string beside_card(const std::string& card_path, const std::string& file);

template <typename Card>
Card read_card(const std::string& path, const std::string& what,
               Card (*parse)(const std::string& json_text)) {
  const std::string text = read_card_text(path, what);
  try {
    return parse(text);
  } catch (const std::exception& e) {
    throw std::invalid_argument(path + ": " + e.what());
  }
}

}  // namespace terramind
