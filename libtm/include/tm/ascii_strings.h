// tm/ascii_strings.h — ASCII case mapping, prefix/suffix tests and separated lists of plain
// std::string (part of tm_registry, header only).
//
// Names, keys and options in tm are ASCII: case is mapped byte by byte in the "C" locale, so
// UTF-8 text passes through unchanged. One definition for every library and tool.
#pragma once

#include <cctype>
#include <string>
#include <vector>

namespace terramind {

inline std::string to_lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

inline std::string to_upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

inline bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

inline bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The items between separators, empty ones dropped: split("a,,b,", ',') == {"a", "b"}.
inline std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> items;
  std::string::size_type start = 0;
  while (start <= text.size()) {
    auto end = text.find(separator, start);
    if (end == std::string::npos) end = text.size();
    if (end > start) items.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return items;
}

// The items with `separator` between them: join({"a", "b"}, ", ") == "a, b".
inline std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? separator : "") + items[i];
  return out;
}

// Integers in decimal: join({8, 8, 8, 6, 5}, "-") == "8-8-8-6-5" (FSQ levels).
inline std::string join(const std::vector<int>& numbers, const std::string& separator) {
  std::string out;
  for (std::size_t i = 0; i < numbers.size(); ++i)
    out += (i ? separator : "") + std::to_string(numbers[i]);
  return out;
}

}  // namespace terramind
