#include "card_file.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
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

nlohmann::json parse_card_json(const std::string& json_text, const std::string& what) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(what + ": invalid JSON: " + e.what());
  }
  if (!j.is_object()) throw std::invalid_argument(what + ": must be a JSON object");
  return j;
}

namespace {

// A value as the card wrote it, shortened for messages.
std::string shown(const nlohmann::json& value) {
  std::string text = value.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

std::string range(int64_t min, int64_t max) {
  return "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
}

std::string format_number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

CardFields::CardFields(const nlohmann::json& object, std::string what, std::string prefix)
    : object_(object), what_(std::move(what)), prefix_(std::move(prefix)) {
  if (!object_.is_object()) {
    if (prefix_.empty()) fail("must be a JSON object");
    fail("'" + prefix_.substr(0, prefix_.size() - 1) + "' must be a JSON object, got " +
         shown(object_));
  }
}

void CardFields::fail(const std::string& message) const {
  throw std::invalid_argument(what_ + ": " + message);
}

void CardFields::only(const std::vector<std::string>& known) const {
  for (const auto& item : object_.items()) {
    if (std::find(known.begin(), known.end(), item.key()) != known.end()) continue;
    std::string list;
    for (const auto& key : known) list += (list.empty() ? "" : ", ") + key;
    fail("unknown key '" + name(item.key()) + "' (known keys" +
         (prefix_.empty() ? "" : " of '" + prefix_.substr(0, prefix_.size() - 1) + "'") + ": " +
         list + ")");
  }
}

const nlohmann::json& CardFields::required(const std::string& key) const {
  const auto it = object_.find(key);
  if (it == object_.end()) fail("'" + name(key) + "' is missing");
  return *it;
}

int64_t CardFields::to_integer(const nlohmann::json& value, const std::string& key, int64_t min,
                               int64_t max) const {
  const std::string expected = "'" + key + "' must be an integer in " + range(min, max);
  if (!value.is_number_integer()) fail(expected + ", got " + shown(value));
  if (value.is_number_unsigned() &&
      value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    fail(expected + ", got " + shown(value));
  const auto number = value.get<int64_t>();
  if (number < min || number > max) fail(expected + ", got " + shown(value));
  return number;
}

int64_t CardFields::integer(const std::string& key, int64_t min, int64_t max) const {
  return to_integer(required(key), name(key), min, max);
}

int64_t CardFields::integer(const std::string& key, int64_t min, int64_t max,
                            int64_t fallback) const {
  return has(key) ? integer(key, min, max) : fallback;
}

double CardFields::number_between(const std::string& key, double above, double below,
                                  double fallback) const {
  if (!has(key)) return fallback;
  const nlohmann::json& value = object_.at(key);
  const std::string expected = "'" + name(key) + "' must be a number in (" + format_number(above) +
                               ", " + format_number(below) + ")";
  if (!value.is_number()) fail(expected + ", got " + shown(value));
  const double number = value.get<double>();
  if (!std::isfinite(number) || !(number > above) || !(number < below))
    fail(expected + ", got " + shown(value));
  return number;
}

bool CardFields::boolean(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  const nlohmann::json& value = object_.at(key);
  if (!value.is_boolean()) fail("'" + name(key) + "' must be true or false, got " + shown(value));
  return value.get<bool>();
}

std::string CardFields::text(const std::string& key) const {
  const nlohmann::json& value = required(key);
  if (!value.is_string()) fail("'" + name(key) + "' must be a string, got " + shown(value));
  return value.get<std::string>();
}

std::string CardFields::text(const std::string& key, const std::string& fallback) const {
  return has(key) ? text(key) : fallback;
}

std::vector<std::string> CardFields::texts(const std::string& key) const {
  const nlohmann::json& value = required(key);
  const std::string expected = "'" + name(key) + "' must be a list of strings, got ";
  if (!value.is_array()) fail(expected + shown(value));
  std::vector<std::string> out;
  for (const auto& item : value) {
    if (!item.is_string()) fail(expected + shown(value));
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::vector<std::string> CardFields::texts(const std::string& key,
                                           const std::vector<std::string>& fallback) const {
  return has(key) ? texts(key) : fallback;
}

std::vector<int64_t> CardFields::integers(const std::string& key, int64_t min, int64_t max,
                                          std::size_t max_count) const {
  const nlohmann::json& value = required(key);
  if (!value.is_array() || value.size() > max_count)
    fail("'" + name(key) + "' must be a list of at most " + std::to_string(max_count) +
         " integers, got " + shown(value));
  std::vector<int64_t> out;
  for (std::size_t i = 0; i < value.size(); ++i)
    out.push_back(to_integer(value[i], name(key) + "[" + std::to_string(i) + "]", min, max));
  return out;
}

std::vector<int64_t> CardFields::integers(const std::string& key, int64_t min, int64_t max,
                                          std::size_t max_count,
                                          const std::vector<int64_t>& fallback) const {
  return has(key) ? integers(key, min, max, max_count) : fallback;
}

std::map<std::string, std::string> CardFields::text_map(const std::string& key) const {
  std::map<std::string, std::string> out;
  if (!has(key)) return out;
  const nlohmann::json& value = object_.at(key);
  const std::string expected = "'" + name(key) + "' must be an object of strings, got ";
  if (!value.is_object()) fail(expected + shown(value));
  for (const auto& item : value.items()) {
    if (!item.value().is_string()) fail(expected + shown(value));
    out.emplace(item.key(), item.value().get<std::string>());
  }
  return out;
}

const nlohmann::json& CardFields::object(const std::string& key) const { return required(key); }

const std::vector<std::string>& card_download_keys() {
  static const std::vector<std::string> keys{"url", "sha256", "size"};
  return keys;
}

void check_download_fields(const CardFields& f) {
  const std::string url = f.text("url", "");
  if (f.has("url") && url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0)
    f.fail("'url' must be an http:// or https:// address, got \"" + url + "\"");
  const std::string sha = f.text("sha256", "");
  if (f.has("sha256") &&
      (sha.size() != 64 || sha.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos))
    f.fail("'sha256' must be 64 hexadecimal digits, got \"" + sha + "\"");
  f.integer("size", 1, std::numeric_limits<int64_t>::max(), 1);
}

void require_card(bool condition, const std::string& what, const std::string& message) {
  if (!condition) throw std::invalid_argument(what + ": " + message);
}

void require_card_in(int64_t value, int64_t min, int64_t max, const std::string& what,
                     const std::string& key) {
  require_card(value >= min && value <= max, what,
               "'" + key + "' must be an integer in [" + std::to_string(min) + ", " +
                   std::to_string(max) + "], got " + std::to_string(value));
}

}  // namespace terramind
