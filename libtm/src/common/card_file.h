// Cards (model and tokenizer configuration, JSON) read from files: errors name the file, and
// file names inside a card are taken relative to the card's folder.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

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

// Typed, range-checked reads of the fields of one JSON object of a card. Every problem throws
// std::invalid_argument "<what>: '<prefix><key>' must be <what is valid>, got <value>". Integers
// must be JSON integers (64.5 and "64" are refused, never truncated); ranges are inclusive.
class CardFields {
 public:
  // `prefix` names nested objects in messages ("encoder." for the encoder object).
  CardFields(const nlohmann::json& object, std::string what, std::string prefix = "");

  bool has(const std::string& key) const { return object_.contains(key); }
  // The dotted key as messages write it.
  std::string name(const std::string& key) const { return prefix_ + key; }
  [[noreturn]] void fail(const std::string& message) const;

  // Refuses any key outside `known`, listing them.
  void only(const std::vector<std::string>& known) const;

  int64_t integer(const std::string& key, int64_t min, int64_t max) const;  // required
  int64_t integer(const std::string& key, int64_t min, int64_t max, int64_t fallback) const;
  // A finite number in the open interval (above, below).
  double number_between(const std::string& key, double above, double below, double fallback) const;
  bool boolean(const std::string& key, bool fallback) const;
  std::string text(const std::string& key) const;  // required
  std::string text(const std::string& key, const std::string& fallback) const;
  std::vector<std::string> texts(const std::string& key) const;  // required
  std::vector<std::string> texts(const std::string& key,
                                 const std::vector<std::string>& fallback) const;
  // A list of at most `max_count` integers, each in [min, max].
  std::vector<int64_t> integers(const std::string& key, int64_t min, int64_t max,
                                std::size_t max_count) const;  // required
  std::vector<int64_t> integers(const std::string& key, int64_t min, int64_t max,
                                std::size_t max_count, const std::vector<int64_t>& fallback) const;
  // An object of strings ({"S1GRD": "tokenizer.json"}).
  std::map<std::string, std::string> text_map(const std::string& key) const;
  // A nested object (required), for its own CardFields.
  const nlohmann::json& object(const std::string& key) const;

 private:
  const nlohmann::json& required(const std::string& key) const;
  int64_t to_integer(const nlohmann::json& value, const std::string& key, int64_t min,
                     int64_t max) const;

  const nlohmann::json& object_;
  std::string what_;
  std::string prefix_;
};

// The download fields a card may carry for its checkpoint (read by tm/model_cache.h, which
// fetches official models by name): "url" (http:// or https://), "sha256" (64 hex digits) and
// "size" (bytes, positive). Checked here so that a bad value is refused wherever the card is read.
const std::vector<std::string>& card_download_keys();
void check_download_fields(const CardFields& fields);

// Bounds shared by model and tokenizer cards: far beyond every TerraMind release (width 1024,
// 24 blocks), and small enough that sizes multiply without overflow.
constexpr int64_t kCardMaxDim = 65536;
constexpr int64_t kCardMaxDepth = 1024;
constexpr int64_t kCardMaxMlpRatio = 64;
constexpr int64_t kCardMaxImageSize = 16384;

// std::invalid_argument "<what>: <message>" unless `condition`.
void require_card(bool condition, const std::string& what, const std::string& message);
// The same check as CardFields::integer, for values of cards built in code or inferred.
void require_card_in(int64_t value, int64_t min, int64_t max, const std::string& what,
                     const std::string& key);

// Parses card text, std::invalid_argument "<what>: invalid JSON: ..." when it is not JSON, and
// "<what>: must be a JSON object" when it is not an object.
nlohmann::json parse_card_json(const std::string& json_text, const std::string& what);

}  // namespace terramind
