// WordPiece tokenizer, coordinates and captions against spec section 9 and the published
// vocabulary (read from the shared data folder; the file is not part of the repository).
#include <gtest/gtest.h>

#include <cmath>

#include "tm/model.h"
#include "tokenizer_fixtures.h"

using namespace terramind;

namespace {

const WordPieceTokenizer& vocabulary() {
  static const WordPieceTokenizer tokenizer =
      WordPieceTokenizer::from_file(terramind::testing::text_vocabulary_path());
  return tokenizer;
}

int64_t id(const std::string& token) {
  const int64_t value = vocabulary().token_to_id(token);
  EXPECT_GE(value, 0) << token;
  return value;
}

using Ids = std::vector<int64_t>;

}  // namespace

// ---------------------------------------------------------------------------------------------
TEST(text_tokenizer, VocabularyLayout) {
  const auto& tok = vocabulary();
  EXPECT_EQ(tok.vocab_size(), 30000);
  EXPECT_EQ(tok.token_to_id("[PAD]"), 0);
  EXPECT_EQ(tok.token_to_id("[EOS]"), 3);
  EXPECT_EQ(tok.token_to_id("[S_199]"), 203);
  EXPECT_EQ(tok.token_to_id("xmin=0"), 204);
  EXPECT_EQ(tok.token_to_id("lat=-90.00"), 4204);
  EXPECT_EQ(tok.token_to_id("lon=180.00"), 6365);
  EXPECT_EQ(tok.id_to_token(6366), "!");
  EXPECT_EQ(tok.token_to_id("no such token"), -1);
  EXPECT_THROW(tok.id_to_token(30000), std::out_of_range);
  EXPECT_THROW(WordPieceTokenizer::from_file("/nonexistent/vocab.json"), std::invalid_argument);
  EXPECT_THROW(WordPieceTokenizer::from_json("{\"model\": {\"type\": \"BPE\"}}"),
               std::invalid_argument);
}

TEST(text_tokenizer, SpecialTokensAreMatchedOnTheRawText) {
  const auto& tok = vocabulary();
  EXPECT_EQ(tok.encode("[EOS]"), Ids({3}));
  EXPECT_EQ(tok.encode("river [S_1]"), Ids({id("river"), 5}));
  // Not lower-cased or split although the normaliser would do both to ordinary text.
  EXPECT_EQ(tok.encode("lat=35.75"), Ids({4707}));
  // "Single word" tokens need word boundaries; punctuation is one.
  EXPECT_EQ(tok.encode("(lat=35.75)"), Ids({id("("), 4707, id(")")}));
  const Ids glued = tok.encode("xlat=35.75");
  EXPECT_EQ(std::count(glued.begin(), glued.end(), 4707), 0);
  EXPECT_EQ(glued.back(), id("75"));
}

TEST(text_tokenizer, NormalisesAndSplitsLikeBert) {
  const auto& tok = vocabulary();
  EXPECT_EQ(tok.encode("Hello WORLD"), Ids({id("hello"), id("world")}));
  EXPECT_EQ(tok.encode("  Hello\t\nworld  "), tok.encode("hello world"));
  EXPECT_EQ(tok.encode("na\xC3\xAFve Caf\xC3\xA9"), Ids({id("naive"), id("cafe")}));  // naïve Café
  EXPECT_EQ(tok.encode("cafe\xCC\x81"), Ids({id("cafe")}));  // combining acute accent dropped
  EXPECT_EQ(tok.encode("a,b"), Ids({id("a"), id(","), id("b")}));
  EXPECT_EQ(tok.encode("river\x01."), Ids({id("river"), id(".")}));  // control removed
  // CJK characters become words of their own; these two are not in the vocabulary.
  EXPECT_EQ(tok.encode("\xE4\xB8\xAD\xE5\x9B\xBD"), Ids({1, 1}));
  EXPECT_TRUE(tok.encode("").empty());
}

TEST(text_tokenizer, GreedyLongestMatchWordPieces) {
  const auto& tok = vocabulary();
  EXPECT_EQ(tok.encode("spaceship"), Ids({29986}));
  EXPECT_EQ(tok.encode("maitlandomics"), Ids({29981, 29994}));  // maitland ##omics
  EXPECT_EQ(tok.encode("\xE2\x98\x83"), Ids({1}));              // no piece: [UNK]
  EXPECT_EQ(tok.encode(std::string(101, 'a')), Ids({1}));       // over 100 characters
}

TEST(text_tokenizer, DecodesWithTheWordPieceDecoder) {
  const auto& tok = vocabulary();
  EXPECT_EQ(tok.decode({29981, 29994}), "maitlandomics");
  EXPECT_EQ(tok.decode(tok.encode("Snow covered mountains, and a lake.")),
            "snow covered mountains, and a lake.");
  // Cleanup applies token by token, so " ' s" is not joined (as in the reference).
  EXPECT_EQ(tok.decode(tok.encode("the spaceship's crew, isn't it?")),
            "the spaceship ' s crew, isn ' t it?");
  EXPECT_EQ(tok.decode({4707, 5289, 3}), "lat=35.75 lon=-89.00 [EOS]");
  EXPECT_EQ(tok.decode({4707, 5289, 3}, /*skip_special_tokens=*/true), "");
  EXPECT_EQ(tok.decode({id("river"), 3, id("lake")}, true), "river lake");
}

// ---------------------------------------------------------------------------------------------
TEST(coordinates, SpecExample) {
  EXPECT_EQ(format_coordinates(-89.0f, 35.75f), "lat=35.75 lon=-89.00 [EOS]");
  EXPECT_EQ(encode_coordinates(vocabulary(), -89.0f, 35.75f), Ids({4707, 5289, 3}));
}

TEST(coordinates, QuarterDegreeGridWithHalfToEvenRounding) {
  EXPECT_EQ(format_coordinates(10.12f, 0.3f), "lat=0.25 lon=10.00 [EOS]");
  EXPECT_EQ(format_coordinates(10.125f, 0.375f), "lat=0.50 lon=10.00 [EOS]");  // 40.5 -> 40
  EXPECT_EQ(format_coordinates(10.375f, 0.625f), "lat=0.50 lon=10.50 [EOS]");  // 41.5 -> 42
  const auto& tok = vocabulary();
  for (float lat = -90.0f; lat <= 90.0f; lat += 7.25f)
    for (float lon = -180.0f; lon <= 180.0f; lon += 13.5f) {
      if (lat == 0.0f || lon == 0.0f) continue;
      const Ids ids = encode_coordinates(tok, lon, lat);
      const auto lat_id = static_cast<int64_t>(4204 + 4 * (lat + 90.0f));
      const auto lon_id = static_cast<int64_t>(4925 + 4 * (lon + 180.0f));
      ASSERT_EQ(ids, Ids({lat_id, lon_id, 3})) << lat << " " << lon;
      const auto [dlon, dlat] = decode_coordinates(tok, ids);
      EXPECT_EQ(dlon, lon);
      EXPECT_EQ(dlat, lat);
    }
  EXPECT_EQ(encode_coordinates(tok, 180.0f, 90.0f), Ids({4924, 6365, 3}));
  EXPECT_EQ(encode_coordinates(tok, -180.0f, -90.0f), Ids({4204, 4925, 3}));
}

TEST(coordinates, NegativeZeroFallsBackToWordPiecesAsInTheReference) {
  EXPECT_EQ(format_coordinates(5.0f, -0.1f), "lat=-0.00 lon=5.00 [EOS]");
  const Ids ids = encode_coordinates(vocabulary(), 5.0f, -0.1f);
  EXPECT_GT(ids.size(), 3u);
  EXPECT_NE(ids.front(), vocabulary().token_to_id("lat=0.00"));
  EXPECT_EQ(encode_coordinates(vocabulary(), 5.0f, 0.1f).front(),
            vocabulary().token_to_id("lat=0.00"));
}

TEST(coordinates, DecodingFailuresGiveNaN) {
  const auto& tok = vocabulary();
  const auto nan = [](const std::pair<double, double>& p) {
    return std::isnan(p.first) && std::isnan(p.second);
  };
  EXPECT_TRUE(nan(decode_coordinates(tok, {5289, 4707, 3})));  // lon first: "lat=" strip fails
  EXPECT_TRUE(nan(decode_coordinates(tok, {4707})));
  EXPECT_TRUE(nan(decode_coordinates(tok, {})));
  EXPECT_TRUE(nan(decode_coordinates(tok, {id("a"), id("b")})));
  EXPECT_TRUE(nan(decode_coordinates(tok, {4707, 99999})));
  const auto [lon, lat] = decode_coordinates(tok, {4707, 5289, 3, 0});
  EXPECT_EQ(lon, -89.0);
  EXPECT_EQ(lat, 35.75);
}

// ---------------------------------------------------------------------------------------------
TEST(captions, PaddedThenEos) {
  const auto& tok = vocabulary();
  const auto ids = encode_captions(tok, {"A river.", "Snow covered mountains and a lake"});
  ASSERT_EQ(ids.sizes(), (std::vector<int64_t>{2, 8}));
  const auto row = [&ids](int64_t r) {
    return Ids(ids[r].data_ptr<int64_t>(), ids[r].data_ptr<int64_t>() + ids.size(1));
  };
  EXPECT_EQ(row(0), Ids({id("a"), id("river"), id("."), 5, 0, 0, 0, 3}));
  EXPECT_EQ(row(1), Ids({id("snow"), id("covered"), id("mountains"), id("and"), id("a"), id("lake"),
                         5, 3}));
  EXPECT_EQ(decode_caption(tok, row(0)), "A river. [s_1] [pad] [pad] [pad]");
  EXPECT_EQ(decode_caption(tok, row(1)), "Snow covered mountains and a lake [s_1]");
  EXPECT_EQ(decode_caption(tok, tok.encode("is it? yes! OK. fine")), "Is it? Yes! Ok. Fine");
}
