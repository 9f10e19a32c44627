// Token shards: tm_tokenize_shards's library side (tokenize_dataset), the manifest's token
// section, verify on token members, and the stream delivering tokens with flips.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "shard_test_support.h"
#include "test_paths.h"
#include "tm/checksum.h"
#include "tm/registry.h"
#include "tm/shards.h"

using namespace terramind;
using terramind::testing::ScratchDir;
using terramind::testing::SyntheticShards;
namespace fs = std::filesystem;

namespace {

constexpr int kSide = 16, kBlock = 4, kGrid = kSide / kBlock;

// A 2-shard, 8-sample dataset with a manifest, as tm_shards build would describe it.
std::string make_dataset(const ScratchDir& dir, const std::string& name = "pixels") {
  const std::string root = dir.file(name);
  fs::create_directories(root + "/train");
  SyntheticShards spec;
  spec.folder = root + "/train";
  spec.width = spec.height = kSide;
  spec.modalities = {{"S2L2A", shards::DType::kInt16, 12},  // the registry's band counts
                     {"S1RTC", shards::DType::kFloat32, 2},
                     {"LULC", shards::DType::kUInt8, 1}};
  const auto refs = terramind::testing::write_synthetic_shards(spec);
  shards::Manifest m;
  m.dataset = name;
  m.modalities = {"S2L2A", "S1RTC", "LULC"};
  m.splits["train"].samples = 0;
  for (const auto& ref : refs) {
    shards::ShardEntry e;
    e.file = "train/" + ref.name;
    e.split = "train";
    e.samples = ref.samples;
    e.bytes = fs::file_size(ref.path);
    e.sha256 = sha256_file(ref.path);
    m.shards.push_back(e);
    m.splits["train"].samples += ref.samples;
  }
  std::ofstream(root + "/manifest.json") << shards::to_json(m);
  return root;
}

// Token of block (by, bx): the LULC value at the block's top-left pixel (the synthetic LULC
// value is the pixel's column), so view 0 holds 4*bx and the flipped view 15 - 4*bx.
shards::TokenEncoder corner_encoder(std::int64_t vocabulary = 64) {
  shards::TokenEncoder e;
  e.tokenizer_name = "corner-pixel (test)";
  e.vocabulary = vocabulary;
  e.encode = [](const shards::Array& a, int& gh, int& gw) {
    gh = a.height / kBlock;
    gw = a.width / kBlock;
    std::vector<std::int64_t> ids;
    for (int by = 0; by < gh; ++by)
      for (int bx = 0; bx < gw; ++bx)
        ids.push_back(static_cast<std::int64_t>(a.value(0, by * kBlock, bx * kBlock)));
    return ids;
  };
  return e;
}

std::vector<shards::Sample> drain(shards::StreamOptions o) {
  shards::SampleStream stream(std::move(o));
  std::vector<shards::Sample> out;
  while (auto batch = stream.next())
    for (auto& s : batch->samples) out.push_back(std::move(s));
  return out;
}

std::string tokenize(const ScratchDir& dir, const std::string& input, bool flips) {
  shards::TokenizeOptions t;
  t.dataset = input;
  t.out = dir.file(flips ? "tokens_flips" : "tokens");
  t.encoders["lulc"] = corner_encoder();  // any case: canonicalised
  t.flips = flips;
  const auto report = shards::tokenize_dataset(t);
  EXPECT_EQ(report.samples, 8);
  EXPECT_EQ(report.tokenised.at("LULC"), 8);
  return t.out;
}

}  // namespace

TEST(token_shards, TokenizeKeepsEveryMemberAndAddsVerifiableTokens) {
  ScratchDir dir;
  const std::string input = make_dataset(dir);
  const std::string out = tokenize(dir, input, true);
  const auto m = shards::read_manifest(out);
  ASSERT_EQ(m.tokens.count("LULC"), 1u);
  const auto& info = m.tokens.at("LULC");
  EXPECT_EQ(info.grid_h, kGrid);
  EXPECT_EQ(info.grid_w, kGrid);
  EXPECT_EQ(info.views, 2);
  EXPECT_EQ(info.vocabulary, 64);
  EXPECT_EQ(info.dtype, shards::DType::kUInt16);
  EXPECT_EQ(info.tokenizer, "corner-pixel (test)");
  EXPECT_EQ(m.modalities, shards::read_manifest(input).modalities);
  const auto report = shards::verify_dataset(out);
  for (const auto& p : report.problems) ADD_FAILURE() << p.detail;
  EXPECT_EQ(report.samples, 8);
  EXPECT_EQ(report.members, 8 * 5);  // record, three pixel arrays, tokens

  // Old readers' view (no token list): the same pixels as the input, no tokens.
  shards::StreamOptions plain;
  plain.shards = shards::list_shards(out, "train");
  plain.shuffle_shards = false;
  shards::StreamOptions original = plain;
  original.shards = shards::list_shards(input, "train");
  const auto a = drain(plain), b = drain(original);
  ASSERT_EQ(a.size(), 8u);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(a[i].tokens.empty());
    EXPECT_EQ(a[i].arrays, b[i].arrays);
  }
}

TEST(token_shards, StreamDeliversTokensAloneOrWithPixelsFlippedAlike) {
  ScratchDir dir;
  const std::string out = tokenize(dir, make_dataset(dir), true);
  shards::StreamOptions o;
  o.shards = shards::list_shards(out, "train");
  o.token_modalities = {"LULC"};
  for (const auto& s : drain(o)) {  // tokens only: no pixels decoded
    EXPECT_TRUE(s.arrays.empty());
    const auto& t = s.tokens.at("LULC");
    ASSERT_EQ(t.bands, 1);
    ASSERT_EQ(t.height, kGrid);
    for (int bx = 0; bx < kGrid; ++bx) EXPECT_EQ(t.value(0, 1, bx), 4 * bx);
  }
  o.modalities = {"S2L2A"};
  o.horizontal_flip = true;
  int flipped = 0;
  const auto samples = drain(o);
  ASSERT_EQ(samples.size(), 8u);
  for (const auto& s : samples) {
    ASSERT_TRUE(s.has("S2L2A"));
    const bool is_flipped = s.record.geotransform[1] < 0;
    flipped += is_flipped;
    const auto& t = s.tokens.at("LULC");
    ASSERT_EQ(t.bands, 1);
    for (int bx = 0; bx < kGrid; ++bx)
      EXPECT_EQ(t.value(0, 2, bx), is_flipped ? kSide - 1 - 4 * bx : 4 * bx) << s.record.key;
  }
  EXPECT_GT(flipped, 0);
  EXPECT_LT(flipped, 8);
}

TEST(token_shards, FlipsNeedTheFlippedViewAndCropsAreRefused) {
  ScratchDir dir;
  const std::string out = tokenize(dir, make_dataset(dir), false);
  EXPECT_EQ(shards::read_manifest(out).tokens.at("LULC").views, 1);
  shards::StreamOptions o;
  o.shards = shards::list_shards(out, "train");
  o.token_modalities = {"LULC"};
  o.horizontal_flip = true;
  const std::string error = terramind::testing::error_of([&] { drain(o); });
  EXPECT_NE(error.find("--flips"), std::string::npos) << error;
  o.horizontal_flip = false;
  o.crop = 8;
  EXPECT_THROW(shards::SampleStream{o}, std::invalid_argument);
  o.crop = 0;
  o.vertical_flip = true;
  EXPECT_THROW(shards::SampleStream{o}, std::invalid_argument);
}

TEST(token_shards, BadTokenizersAndOptionsLeaveNoDataset) {
  ScratchDir dir;
  const std::string input = make_dataset(dir);
  shards::TokenizeOptions t;
  t.dataset = input;
  t.out = dir.file("bad");
  t.encoders["LULC"] = corner_encoder(8);  // ids up to 15: outside a vocabulary of 8
  std::string error = terramind::testing::error_of([&] { shards::tokenize_dataset(t); });
  EXPECT_NE(error.find("outside its vocabulary of 8"), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(t.out + "/manifest.json"));
  EXPECT_FALSE(fs::exists(t.out));  // the folder it created is gone again

  t.encoders["LULC"] = corner_encoder();
  t.encoders["LULC"].encode = [](const shards::Array&, int& gh, int& gw) {
    gh = gw = 2;
    return std::vector<std::int64_t>{1, 2, 3};
  };
  error = terramind::testing::error_of([&] { shards::tokenize_dataset(t); });
  EXPECT_NE(error.find("returned 3 ids for a 2x2 grid"), std::string::npos) << error;

  t.encoders.clear();
  EXPECT_THROW(shards::tokenize_dataset(t), std::invalid_argument);
  t.encoders["DEM"] = corner_encoder();
  error = terramind::testing::error_of([&] { shards::tokenize_dataset(t); });
  EXPECT_NE(error.find("has no DEM pixels"), std::string::npos) << error;
  t.encoders.clear();
  t.encoders["NOPE"] = corner_encoder();
  EXPECT_THROW(shards::tokenize_dataset(t), std::invalid_argument);
  t.encoders.clear();
  t.encoders["LULC"] = corner_encoder();
  t.out = input;
  error = terramind::testing::error_of([&] { shards::tokenize_dataset(t); });
  EXPECT_NE(error.find("is the input dataset"), std::string::npos) << error;
  t.out = tokenize(dir, input, false);
  error = terramind::testing::error_of([&] { shards::tokenize_dataset(t); });
  EXPECT_NE(error.find("--overwrite"), std::string::npos) << error;
  t.overwrite = true;
  EXPECT_EQ(shards::tokenize_dataset(t).samples, 8);
}

TEST(token_shards, VerifyChecksTokensAgainstTheManifest) {
  ScratchDir dir;
  const std::string out = tokenize(dir, make_dataset(dir), false);
  auto j = nlohmann::json::parse(std::ifstream(out + "/manifest.json"));
  j["tokens"]["LULC"]["grid"] = {kGrid, kGrid + 1};
  std::ofstream(out + "/manifest.json") << j.dump(2);
  auto report = shards::verify_dataset(out);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.problems.front().detail.find("tokens, the manifest says"), std::string::npos)
      << report.problems.front().detail;
  j["tokens"]["LULC"]["grid"] = {kGrid, kGrid};
  j["tokens"]["LULC"]["vocabulary"] = 4;
  std::ofstream(out + "/manifest.json") << j.dump(2);
  report = shards::verify_dataset(out);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.problems.front().detail.find("outside the vocabulary of 4"), std::string::npos)
      << report.problems.front().detail;
  j["tokens"]["LULC"]["dtype"] = "float32";
  std::ofstream(out + "/manifest.json") << j.dump(2);
  EXPECT_THROW(shards::read_manifest(out), shards::FormatError);
}
