// The two text modalities on top of the WordPiece tokenizer: coordinates (v1) and captions
// (v0.1), with the reference's formatting and parsing rules (spec sections 9.2, 9.3).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "text_normalizer.h"
#include "tm/model.h"

namespace terramind {

namespace {

// torch.round(v * 4) / 4 in float32; nearbyint rounds half to even like torch.round.
float snap_to_grid(float v) { return std::nearbyint(v * 4.0f) / 4.0f; }

// Python's str.strip(chars): removes any of `chars` from both ends.
std::string strip_chars(const std::string& s, const std::string& chars) {
  const auto first = s.find_first_not_of(chars);
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(chars) - first + 1);
}

// float(text) for the decimal forms the decoder can produce; nullopt otherwise.
std::optional<double> parse_float(const std::string& text) {
  const std::string trimmed = strip_chars(text, " \t\n\r");
  if (trimmed.empty()) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(trimmed.c_str(), &end);
  if (end != trimmed.c_str() + trimmed.size()) return std::nullopt;
  return value;
}

}  // namespace

std::string format_coordinates(float lon, float lat) {
  char text[96];
  std::snprintf(text, sizeof text, "lat=%.2f lon=%.2f [EOS]",
                static_cast<double>(snap_to_grid(lat)), static_cast<double>(snap_to_grid(lon)));
  return text;
}

std::vector<int64_t> encode_coordinates(const WordPieceTokenizer& tokenizer, float lon, float lat) {
  return tokenizer.encode(format_coordinates(lon, lat));
}

std::pair<double, double> decode_coordinates(const WordPieceTokenizer& tokenizer,
                                             const std::vector<int64_t>& ids) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  const std::vector<int64_t> first_two(ids.begin(),
                                       ids.begin() + std::min<std::size_t>(2, ids.size()));
  std::string text;
  try {
    text = tokenizer.decode(first_two, /*skip_special_tokens=*/false);
  } catch (const std::out_of_range&) {
    return {kNaN, kNaN};
  }
  // The reference splits at " " into exactly two parts and strips the *characters* of "lat=" /
  // "lon=" from both ends of each (str.strip), so "lon=..." first gives NaN.
  const auto space = text.find(' ');
  if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos)
    return {kNaN, kNaN};
  const auto lat = parse_float(strip_chars(text.substr(0, space), "lat="));
  const auto lon = parse_float(strip_chars(text.substr(space + 1), "lon="));
  if (!lat || !lon) return {kNaN, kNaN};
  return {*lon, *lat};
}

at::Tensor encode_captions(const WordPieceTokenizer& tokenizer,
                           const std::vector<std::string>& captions) {
  const int64_t pad = tokenizer.token_to_id("[PAD]"), eos = tokenizer.token_to_id("[EOS]");
  if (pad < 0 || eos < 0)
    throw std::invalid_argument("caption encoding needs [PAD] and [EOS] in the vocabulary");
  std::vector<std::vector<int64_t>> rows;
  std::size_t longest = 0;
  for (const auto& caption : captions) {
    rows.push_back(tokenizer.encode(caption + " [S_1]"));
    longest = std::max(longest, rows.back().size());
  }
  // Padding first, [EOS] after it: shorter rows end "... [S_1] [PAD] ... [PAD] [EOS]".
  at::Tensor out = at::full({static_cast<int64_t>(rows.size()), static_cast<int64_t>(longest) + 1},
                            pad, at::kLong);
  auto access = out.accessor<int64_t, 2>();
  for (std::size_t r = 0; r < rows.size(); ++r) {
    for (std::size_t i = 0; i < rows[r].size(); ++i) access[r][i] = rows[r][i];
    access[r][longest] = eos;
  }
  return out;
}

std::string decode_caption(const WordPieceTokenizer& tokenizer, const std::vector<int64_t>& ids) {
  // str.replace(" [EOS]", ""): removed left to right, without rescanning the joined text.
  const std::string decoded = tokenizer.decode(ids, /*skip_special_tokens=*/false);
  const std::string eos = " [EOS]";
  std::string text;
  std::size_t from = 0;
  for (auto at = decoded.find(eos); at != std::string::npos; at = decoded.find(eos, from)) {
    text.append(decoded, from, at - from);
    from = at + eos.size();
  }
  text.append(decoded, from, std::string::npos);
  // re.split('([.!?] *)') then str.capitalize() of every piece.
  const std::u32string chars = text::decode_utf8(text);
  std::u32string out;
  std::size_t i = 0;
  while (i < chars.size()) {
    std::size_t end = i;
    const bool delimiter = chars[i] == U'.' || chars[i] == U'!' || chars[i] == U'?';
    if (delimiter) {
      end = i + 1;
      while (end < chars.size() && chars[end] == U' ') ++end;
    } else {
      while (end < chars.size() && chars[end] != U'.' && chars[end] != U'!' && chars[end] != U'?')
        ++end;
    }
    for (std::size_t k = i; k < end; ++k)
      out.push_back(k == i ? text::to_upper(chars[k]) : text::to_lower(chars[k]));
    i = end;
  }
  return text::encode_utf8(out);
}

}  // namespace terramind
