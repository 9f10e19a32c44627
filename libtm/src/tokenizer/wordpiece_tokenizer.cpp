// WordPiece tokenizer with the behaviour of Hugging Face `tokenizers` for TerraMind's vocabulary
// file: added tokens split off the raw text first, then normaliser, pre-tokeniser, WordPiece.
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "text_normalizer.h"
#include "tm/model.h"

namespace terramind {

struct WordPieceTokenizer::Impl {
  struct AddedToken {
    int64_t id = 0;
    std::string content;
    bool single_word = false;
    bool special = false;
  };
  // Byte trie over the added tokens' contents, for leftmost-longest matching.
  struct TrieNode {
    std::vector<std::pair<unsigned char, int>> next;
    int token = -1;  // index into added
  };

  std::unordered_map<std::string, int64_t> vocab;
  std::vector<std::string> tokens;  // by id
  std::vector<AddedToken> added;
  std::vector<bool> special;  // by id
  std::vector<TrieNode> trie{1};
  std::string unk = "[UNK]";
  std::string prefix = "##";
  std::size_t max_chars = 100;
  bool cleanup = true;

  void add_to_trie(int index);
  // Longest added token starting at byte `pos`, or -1.
  int longest_at(const std::string& text, std::size_t pos, std::size_t& end) const;
  void encode_plain(const std::string& text, std::vector<int64_t>& ids) const;
  void encode_word(const std::u32string& word, std::vector<int64_t>& ids) const;
};

void WordPieceTokenizer::Impl::add_to_trie(int index) {
  int node = 0;
  for (unsigned char b : added[index].content) {
    int child = -1;
    for (const auto& [byte, id] : trie[node].next)
      if (byte == b) child = id;
    if (child < 0) {
      child = static_cast<int>(trie.size());
      trie.emplace_back();
      trie[node].next.emplace_back(b, child);
    }
    node = child;
  }
  trie[node].token = index;
}

int WordPieceTokenizer::Impl::longest_at(const std::string& text, std::size_t pos,
                                         std::size_t& end) const {
  int node = 0, found = -1;
  for (std::size_t i = pos; i < text.size(); ++i) {
    int child = -1;
    for (const auto& [byte, id] : trie[node].next)
      if (byte == static_cast<unsigned char>(text[i])) child = id;
    if (child < 0) break;
    node = child;
    if (trie[node].token >= 0) {
      found = trie[node].token;
      end = i + 1;
    }
  }
  return found;
}

void WordPieceTokenizer::Impl::encode_word(const std::u32string& word,
                                           std::vector<int64_t>& ids) const {
  const int64_t unk_id = vocab.at(unk);
  if (word.size() > max_chars) {
    ids.push_back(unk_id);
    return;
  }
  // Greedy longest-match-first; one unmatched piece makes the whole word [UNK].
  std::vector<int64_t> pieces;
  std::size_t start = 0;
  while (start < word.size()) {
    std::size_t end = word.size();
    int64_t match = -1;
    while (start < end) {
      std::string piece = text::encode_utf8(word.substr(start, end - start));
      if (start > 0) piece = prefix + piece;
      const auto it = vocab.find(piece);
      if (it != vocab.end()) {
        match = it->second;
        break;
      }
      --end;
    }
    if (match < 0) {
      ids.push_back(unk_id);
      return;
    }
    pieces.push_back(match);
    start = end;
  }
  ids.insert(ids.end(), pieces.begin(), pieces.end());
}

void WordPieceTokenizer::Impl::encode_plain(const std::string& text,
                                            std::vector<int64_t>& ids) const {
  if (text.empty()) return;
  for (const auto& word : text::bert_pre_tokenize(text::bert_normalize(text::decode_utf8(text))))
    encode_word(word, ids);
}

namespace {

bool last_is_word_char(const std::string& text, std::size_t end) {
  const std::u32string before = text::decode_utf8(text.substr(0, end));
  return !before.empty() && text::is_alphanumeric(before.back());
}

bool first_is_word_char(const std::string& text, std::size_t start) {
  // Decode at most one character (4 bytes).
  const std::u32string after = text::decode_utf8(text.substr(start, 4));
  return !after.empty() && text::is_alphanumeric(after.front());
}

}  // namespace

WordPieceTokenizer::WordPieceTokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

WordPieceTokenizer WordPieceTokenizer::from_file(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw std::invalid_argument("text tokenizer vocabulary not found: " + path +
                                " (it comes with the official TerraMind release)");
  std::stringstream text;
  text << in.rdbuf();
  try {
    return from_json(text.str());
  } catch (const std::exception& e) {
    throw std::invalid_argument(path + ": " + e.what());
  }
}

WordPieceTokenizer WordPieceTokenizer::from_json(const std::string& json_text) {
  using nlohmann::json;
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    throw std::invalid_argument(std::string("text tokenizer: invalid JSON: ") + e.what());
  }
  auto impl = std::make_shared<Impl>();
  try {
    const json& model = j.at("model");
    if (model.value("type", std::string()) != "WordPiece")
      throw std::invalid_argument("text tokenizer: model type is not WordPiece");
    impl->unk = model.value("unk_token", impl->unk);
    impl->prefix = model.value("continuing_subword_prefix", impl->prefix);
    impl->max_chars = model.value("max_input_chars_per_word", impl->max_chars);
    for (const auto& [token, id] : model.at("vocab").items())
      impl->vocab[token] = id.get<int64_t>();
    for (const auto& t : j.value("added_tokens", json::array())) {
      Impl::AddedToken a;
      a.id = t.at("id").get<int64_t>();
      a.content = t.at("content").get<std::string>();
      a.single_word = t.value("single_word", false);
      a.special = t.value("special", false);
      impl->vocab.emplace(a.content, a.id);
      impl->added.push_back(a);
    }
    if (j.contains("decoder") && j["decoder"].is_object())
      impl->cleanup = j["decoder"].value("cleanup", true);
  } catch (const json::exception& e) {
    throw std::invalid_argument(std::string("text tokenizer: ") + e.what());
  }
  if (!impl->vocab.count(impl->unk))
    throw std::invalid_argument("text tokenizer: unknown token " + impl->unk +
                                " not in vocabulary");
  int64_t size = 0;
  for (const auto& [token, id] : impl->vocab) {
    if (id < 0) throw std::invalid_argument("text tokenizer: negative id for '" + token + "'");
    size = std::max(size, id + 1);
  }
  impl->tokens.assign(static_cast<std::size_t>(size), std::string());
  impl->special.assign(static_cast<std::size_t>(size), false);
  for (const auto& [token, id] : impl->vocab) impl->tokens[static_cast<std::size_t>(id)] = token;
  for (std::size_t i = 0; i < impl->added.size(); ++i) {
    impl->tokens[static_cast<std::size_t>(impl->added[i].id)] = impl->added[i].content;
    if (impl->added[i].special) impl->special[static_cast<std::size_t>(impl->added[i].id)] = true;
    impl->add_to_trie(static_cast<int>(i));
  }
  return WordPieceTokenizer(impl);
}

int64_t WordPieceTokenizer::vocab_size() const {
  return static_cast<int64_t>(impl_->tokens.size());
}

int64_t WordPieceTokenizer::token_to_id(const std::string& token) const {
  const auto it = impl_->vocab.find(token);
  return it == impl_->vocab.end() ? -1 : it->second;
}

const std::string& WordPieceTokenizer::id_to_token(int64_t id) const {
  if (id < 0 || id >= vocab_size())
    throw std::out_of_range("text token id " + std::to_string(id) + " outside [0, " +
                            std::to_string(vocab_size()) + ")");
  return impl_->tokens[static_cast<std::size_t>(id)];
}

std::vector<int64_t> WordPieceTokenizer::encode(const std::string& text) const {
  const Impl& impl = *impl_;
  std::vector<int64_t> ids;
  std::size_t plain_start = 0, pos = 0;
  while (pos < text.size()) {
    std::size_t end = pos;
    const int index = impl.longest_at(text, pos, end);
    if (index < 0) {
      ++pos;
      continue;
    }
    const Impl::AddedToken& token = impl.added[static_cast<std::size_t>(index)];
    // A discarded match is skipped as a whole, like the reference's non-overlapping search.
    const bool alone =
        !token.single_word || ((pos == 0 || !last_is_word_char(text, pos)) &&
                               (end == text.size() || !first_is_word_char(text, end)));
    if (alone) {
      impl.encode_plain(text.substr(plain_start, pos - plain_start), ids);
      ids.push_back(token.id);
      plain_start = end;
    }
    pos = end;
  }
  impl.encode_plain(text.substr(plain_start), ids);
  return ids;
}

std::string WordPieceTokenizer::decode(const std::vector<int64_t>& ids,
                                       bool skip_special_tokens) const {
  static const char* const kCleanup[][2] = {{" .", "."},     {" ?", "?"},           {" !", "!"},
                                            {" ,", ","},     {" ' ", "'"},          {" n't", "n't"},
                                            {" 'm", "'m"},   {" do not", " don't"}, {" 's", "'s"},
                                            {" 've", "'ve"}, {" 're", "'re"}};
  std::string out;
  bool first = true;
  for (int64_t id : ids) {
    std::string token = id_to_token(id);
    if (skip_special_tokens && impl_->special[static_cast<std::size_t>(id)]) continue;
    if (!first) {
      if (token.compare(0, impl_->prefix.size(), impl_->prefix) == 0)
        token.erase(0, impl_->prefix.size());
      else
        token = " " + token;
    }
    first = false;
    if (impl_->cleanup)
      for (const auto& [from, to] : kCleanup) {
        const std::string f = from, t = to;
        for (std::size_t at = token.find(f); at != std::string::npos;
             at = token.find(f, at + t.size()))
          token.replace(at, f.size(), t);
      }
    out += token;
  }
  return out;
}

}  // namespace terramind
