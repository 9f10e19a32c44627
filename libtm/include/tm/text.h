// tm/text.h — text modalities (part of tm_model; included by tm/model.h).
//
// The WordPiece tokenizer of captions and coordinates, and how TerraMind v1 turns coordinates and
// captions into tokens and back.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace terramind {

// ---------------------------------------------------------------------------------------------
// Text: the WordPiece tokenizer of captions and coordinates

// A Hugging Face `tokenizers` WordPiece tokenizer as TerraMind configures it (spec section 9.1):
// added special tokens matched on the raw text (leftmost-longest; "single word" tokens only at
// word boundaries), BERT normaliser (clean text, CJK spacing, accent stripping, lower case), BERT
// pre-tokeniser (whitespace and punctuation), greedy longest-match WordPiece with "##"
// continuations, and the WordPiece decoder with cleanup. Accent stripping covers Latin letters
// (U+00C0-U+024F) and combining marks; other scripts are lower-cased and kept.
class WordPieceTokenizer {
 public:
  // The published vocabulary JSON (terramind_v1_wordpiece_30k.json, from the model release).
  // std::invalid_argument naming the file when it cannot be read or is not such a tokenizer.
  static WordPieceTokenizer from_file(const std::string& path);
  static WordPieceTokenizer from_json(const std::string& json_text);

  int64_t vocab_size() const;
  // -1 when the token is not in the vocabulary.
  int64_t token_to_id(const std::string& token) const;
  // std::out_of_range outside [0, vocab_size()).
  const std::string& id_to_token(int64_t id) const;

  std::vector<int64_t> encode(const std::string& text) const;
  // Ids -> text through the WordPiece decoder; special tokens are dropped when asked.
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = false) const;

  struct Impl;

 private:
  explicit WordPieceTokenizer(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

// Coordinates as TerraMind v1 tokenizes them (spec 9.2): snapped to the 0.25 degree grid in
// float32 (round half to even), written "lat=%.2f lon=%.2f [EOS]", tokenized: normally three ids
// [lat token, lon token, EOS], e.g. lon -89.0, lat 35.75 -> [4707, 5289, 3]. A value that snaps
// to -0.0 prints "-0.00" as in the reference and falls back to ordinary word pieces.
std::string format_coordinates(float lon, float lat);
std::vector<int64_t> encode_coordinates(const WordPieceTokenizer& tokenizer, float lon, float lat);
// The first two ids decoded to "lat=.. lon=.."; {lon, lat}, or {NaN, NaN} when they are not.
std::pair<double, double> decode_coordinates(const WordPieceTokenizer& tokenizer,
                                             const std::vector<int64_t>& ids);

// Captions (v0.1, spec 9.3): " [S_1]" appended, right-padded with [PAD] to the longest caption,
// then [EOS] appended to every row. Returns [B, L] int64.
at::Tensor encode_captions(const WordPieceTokenizer& tokenizer,
                           const std::vector<std::string>& captions);
// Ids of one caption -> text: WordPiece decoder, " [EOS]" removed, sentence case.
std::string decode_caption(const WordPieceTokenizer& tokenizer, const std::vector<int64_t>& ids);

}  // namespace terramind
