// UTF-8 and the BERT text rules of Hugging Face `tokenizers` (BertNormalizer, BertPreTokenizer),
// as TerraMind's WordPiece tokenizer configures them (spec section 9.1).
#pragma once

#include <string>
#include <vector>

namespace terramind::text {

// Invalid bytes become U+FFFD (which the normaliser then drops).
std::u32string decode_utf8(const std::string& bytes);
std::string encode_utf8(const std::u32string& text);

bool is_whitespace(char32_t c);    // \t \n \r and the Unicode White_Space set
bool is_control(char32_t c);       // general category C* except \t \n \r
bool is_punctuation(char32_t c);   // ASCII punctuation or Unicode P*
bool is_chinese_char(char32_t c);  // the CJK blocks BERT pads with spaces
bool is_alphanumeric(char32_t c);  // word characters for "single word" added tokens
char32_t to_lower(char32_t c);     // simple lower-case mapping
char32_t to_upper(char32_t c);     // inverse of to_lower where it is one-to-one

// clean text (drop NUL, U+FFFD and controls; whitespace -> ' '), space out CJK characters, strip
// accents (NFD without non-spacing marks), lower-case.
std::u32string bert_normalize(const std::u32string& text);

// Splits on whitespace (dropped) and around every punctuation character (kept as its own word).
std::vector<std::u32string> bert_pre_tokenize(const std::u32string& text);

}  // namespace terramind::text
