#include "text_normalizer.h"

#include <algorithm>
#include <iterator>

#include "unicode_tables.h"

namespace terramind::text {

namespace ud = unicode_data;

namespace {

constexpr char32_t kReplacement = 0xFFFD;

template <std::size_t N>
bool in_ranges(const ud::Range (&ranges)[N], char32_t c) {
  if (c > 0xFFFF) return false;
  const auto it = std::upper_bound(std::begin(ranges), std::end(ranges), c,
                                   [](char32_t v, const ud::Range& r) { return v < r.first; });
  return it != std::begin(ranges) && c <= std::prev(it)->last;
}

bool is_nonspacing_mark(char32_t c) { return in_ranges(ud::kNonSpacingMarks, c); }

// Hangul syllables decompose algorithmically into two or three jamo (Unicode 3.12).
void append_hangul(char32_t c, std::u32string& out) {
  constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
  constexpr char32_t kVCount = 21, kTCount = 28;
  const char32_t index = c - kSBase;
  out.push_back(kLBase + index / (kVCount * kTCount));
  out.push_back(kVBase + (index % (kVCount * kTCount)) / kTCount);
  if (index % kTCount != 0) out.push_back(kTBase + index % kTCount);
}

// NFD of one character with its non-spacing marks removed.
void append_stripped(char32_t c, std::u32string& out) {
  if (is_nonspacing_mark(c)) return;
  if (c >= 0xAC00 && c <= 0xD7A3) return append_hangul(c, out);
  if (c >= 0x80 && c <= 0xFFFF) {
    const auto it = std::lower_bound(std::begin(ud::kStripped), std::end(ud::kStripped), c,
                                     [](const ud::Stripped& s, char32_t v) { return s.code < v; });
    if (it != std::end(ud::kStripped) && it->code == c) {
      out.push_back(it->first);
      if (it->second) out.push_back(it->second);
      return;
    }
  }
  out.push_back(c);
}

}  // namespace

std::u32string decode_utf8(const std::string& bytes) {
  std::u32string out;
  out.reserve(bytes.size());
  std::size_t i = 0;
  while (i < bytes.size()) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    int extra = b < 0x80           ? 0
                : (b >> 5) == 0x6  ? 1
                : (b >> 4) == 0xE  ? 2
                : (b >> 3) == 0x1E ? 3
                                   : -1;
    char32_t c = extra == 0 ? b : extra == 1 ? (b & 0x1F) : extra == 2 ? (b & 0x0F) : (b & 0x07);
    bool valid = extra >= 0 && i + extra < bytes.size();
    for (int k = 1; valid && k <= extra; ++k) {
      const auto cont = static_cast<unsigned char>(bytes[i + k]);
      if ((cont >> 6) != 0x2)
        valid = false;
      else
        c = (c << 6) | (cont & 0x3F);
    }
    if (!valid || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
      out.push_back(kReplacement);
      ++i;
      continue;
    }
    out.push_back(c);
    i += extra + 1;
  }
  return out;
}

std::string encode_utf8(const std::u32string& text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

bool is_whitespace(char32_t c) {
  switch (c) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x20:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

bool is_control(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  if (c > 0xFFFF) return (c >= 0xE0000 && c <= 0xE007F) || c >= 0xF0000;  // tags, private use
  return in_ranges(ud::kOther, c);
}

bool is_punctuation(char32_t c) {
  if (c < 0x80)
    return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
           (c >= 123 && c <= 126);
  return in_ranges(ud::kPunctuation, c);
}

bool is_chinese_char(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool is_alphanumeric(char32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  // Approximation beyond ASCII: anything that is not space, punctuation, control or a mark
  // (symbols count as word characters here).
  return !is_whitespace(c) && !is_punctuation(c) && !is_control(c) && !is_nonspacing_mark(c);
}

char32_t to_lower(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  if (c > 0xFFFF) return c;
  const auto it = std::upper_bound(std::begin(ud::kLowerCase), std::end(ud::kLowerCase), c,
                                   [](char32_t v, const ud::CaseRun& r) { return v < r.first; });
  if (it == std::begin(ud::kLowerCase)) return c;
  const ud::CaseRun& run = *std::prev(it);
  if (c > run.last || (c - run.first) % run.stride != 0) return c;
  return static_cast<char32_t>(static_cast<int32_t>(c) + run.delta);
}

char32_t to_upper(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') ? c - 32 : c;
  for (const ud::CaseRun& run : ud::kLowerCase) {
    const auto upper = static_cast<char32_t>(static_cast<int32_t>(c) - run.delta);
    if (upper >= run.first && upper <= run.last && (upper - run.first) % run.stride == 0)
      return upper;
  }
  return c;
}

std::u32string bert_normalize(const std::u32string& text) {
  std::u32string cleaned;
  cleaned.reserve(text.size());
  for (char32_t c : text) {
    if (c == 0 || c == kReplacement || is_control(c)) continue;
    const char32_t kept = is_whitespace(c) ? U' ' : c;
    if (is_chinese_char(kept)) {
      cleaned.push_back(U' ');
      cleaned.push_back(kept);
      cleaned.push_back(U' ');
    } else {
      cleaned.push_back(kept);
    }
  }
  // strip_accents is unset in the vocabulary file, so it follows lowercase (on).
  std::u32string stripped;
  stripped.reserve(cleaned.size());
  for (char32_t c : cleaned) append_stripped(c, stripped);
  for (char32_t& c : stripped) c = to_lower(c);
  return stripped;
}

std::vector<std::u32string> bert_pre_tokenize(const std::u32string& text) {
  std::vector<std::u32string> words;
  std::u32string current;
  for (char32_t c : text) {
    if (is_whitespace(c) || is_punctuation(c)) {
      if (!current.empty()) words.push_back(std::move(current));
      current.clear();
      if (!is_whitespace(c)) words.emplace_back(1, c);
    } else {
      current.push_back(c);
    }
  }
  if (!current.empty()) words.push_back(std::move(current));
  return words;
}

}  // namespace terramind::text
