// FSQ quantizer: exact parity with the reference (parity_fsq) and input validation (fsq).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_paths.h"
#include "tm/model.h"

namespace terramind {
namespace {

// Same dtype, shape and bytes: every FSQ output is checked exactly.
void expect_identical(const at::Tensor& actual, const at::Tensor& expected,
                      const std::string& what) {
  ASSERT_EQ(actual.scalar_type(), expected.scalar_type()) << what;
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  at::Tensor a = actual.contiguous(), e = expected.contiguous();
  if (a.numel() == 0) return;
  EXPECT_EQ(std::memcmp(a.data_ptr(), e.data_ptr(), a.numel() * a.element_size()), 0)
      << what << ": " << (a != e).sum().item<int64_t>() << " elements differ";
}

// The codebooks of the fixture ("8-8-8-6-5", ...): settings.levels of fsq.json.
std::vector<std::string> fixture_codebooks() {
  const std::string path = testing::fixtures_dir() + "/fsq.json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("missing fixture " + path);
  return nlohmann::json::parse(in).at("settings").at("levels").get<std::vector<std::string>>();
}

std::vector<int> levels_of(const std::string& name) {
  std::vector<int> levels;
  for (std::size_t start = 0;;) {
    const auto dash = name.find('-', start);
    levels.push_back(std::stoi(name.substr(start, dash - start)));
    if (dash == std::string::npos) return levels;
    start = dash + 1;
  }
}

void expect_fsq_fixture(const std::string& name) {
  SCOPED_TRACE(name);
  const std::vector<int> levels = levels_of(name);
  const std::string path = testing::fixtures_dir() + "/fsq.pt";
  ASSERT_TRUE(std::filesystem::exists(path)) << "missing fixture " << path;
  const TensorMap fixture = load_torch_checkpoint(path);
  const std::string prefix = "fsq_" + name + "/";
  auto key = [&](const char* suffix) { return fixture.at(prefix + suffix); };
  const FsqQuantizer fsq(levels);

  expect_identical(at::tensor(std::vector<int32_t>(levels.begin(), levels.end())), key("levels"),
                   "levels");
  expect_identical(fsq.basis(), key("basis"), "basis");
  EXPECT_EQ(fsq.codebook_size(), key("codebook").size(0));
  expect_identical(fsq.codebook(), key("codebook"), "codebook");
  expect_identical(fsq.indices_to_embedding(key("indices")), key("indices_to_embedding"),
                   "indices_to_embedding");
  expect_identical(fsq.indices_to_codes(key("indices")), key("indice_to_code"), "indice_to_code");
  const FsqQuantizer::Result result = fsq.forward(key("latent"));
  expect_identical(result.codes, key("quantize"), "quantize");
  expect_identical(result.tokens, key("tokens"), "tokens");
  expect_identical(fsq.codes_to_indices(key("codes")), key("codes_to_indices"), "codes_to_indices");
}

TEST(parity_fsq, EveryCodebookOfTheFixture) {
  const std::vector<std::string> codebooks = fixture_codebooks();
  EXPECT_FALSE(codebooks.empty());
  for (const auto& name : codebooks) expect_fsq_fixture(name);
}

TEST(fsq, RoundsHalfToEvenAndSaturates) {
  const FsqQuantizer fsq({8, 8, 8, 6, 5});
  at::Tensor latent = at::zeros({1, 5, 1, 3});
  latent.select(3, 1).fill_(30.0f);
  latent.select(3, 2).fill_(-30.0f);
  const FsqQuantizer::Result result = fsq.forward(latent);
  // s = 3.5, 3.5, 3.5, 2.5, 2.0 -> 4, 4, 4, 2, 2 (half away from zero would give 3 for 2.5).
  EXPECT_EQ(result.tokens[0][0][0].item<int32_t>(), 4 + 4 * 8 + 4 * 64 + 2 * 512 + 2 * 3072);
  EXPECT_EQ(result.tokens[0][0][1].item<int32_t>(), 15359);
  EXPECT_EQ(result.tokens[0][0][2].item<int32_t>(), 0);
  EXPECT_FLOAT_EQ(result.codes[0][3][0][0].item<float>(), 2.0f / 5.0f);
  EXPECT_EQ(result.codes.scalar_type(), at::kFloat);
  EXPECT_EQ(result.tokens.scalar_type(), at::kInt);
}

TEST(fsq, CodesAndIndicesRoundTrip) {
  for (const auto& levels : {std::vector<int>{8, 8, 8, 6, 5}, std::vector<int>{7, 5, 5, 5, 5}}) {
    const FsqQuantizer fsq(levels);
    const at::Tensor all = at::arange(fsq.codebook_size(), at::kInt);
    EXPECT_TRUE(at::equal(fsq.codes_to_indices(fsq.indices_to_codes(all)), all));
    EXPECT_EQ(fsq.codebook().sizes(), (c10::IntArrayRef{fsq.codebook_size(), 5}));
  }
  const FsqQuantizer fsq({8, 8, 8, 6, 5});
  // idx 3073 -> digits (1, 0, 0, 0, 1).
  const at::Tensor code = fsq.indices_to_codes(at::tensor({3073}));
  EXPECT_TRUE(at::equal(code[0], at::tensor({1.0f / 7.0f, 0.0f, 0.0f, 0.0f, 0.25f})));
  const at::Tensor grid = at::randint(0, fsq.codebook_size(), {2, 3, 4}, at::kLong);
  const at::Tensor embedding = fsq.indices_to_embedding(grid);
  EXPECT_EQ(embedding.sizes(), (c10::IntArrayRef{2, 5, 3, 4}));
  EXPECT_TRUE(at::equal(fsq.codes_to_indices(embedding.permute({0, 2, 3, 1})), grid.to(at::kInt)));
}

TEST(fsq, RejectsInvalidInput) {
  EXPECT_THROW(FsqQuantizer(std::vector<int>{}), std::invalid_argument);
  EXPECT_THROW(FsqQuantizer({8, 1, 5}), std::invalid_argument);
  EXPECT_THROW(FsqQuantizer({1 << 16, 1 << 16}), std::invalid_argument);

  const FsqQuantizer fsq({7, 5, 5, 5, 5});
  EXPECT_THROW(fsq.forward(at::zeros({1, 4, 2, 2})), std::invalid_argument);
  EXPECT_THROW(fsq.forward(at::zeros({5, 2, 2})), std::invalid_argument);
  EXPECT_THROW(fsq.forward(at::zeros({1, 5, 2, 2}, at::kInt)), std::invalid_argument);
  EXPECT_THROW(fsq.indices_to_codes(at::tensor({4375})), std::out_of_range);
  EXPECT_THROW(fsq.indices_to_codes(at::tensor({-1})), std::out_of_range);
  EXPECT_THROW(fsq.indices_to_codes(at::tensor({1.0f})), std::invalid_argument);
  EXPECT_THROW(fsq.indices_to_embedding(at::zeros({14, 14}, at::kLong)), std::invalid_argument);
  try {
    fsq.indices_to_embedding(at::full({1, 2, 2}, 5000, at::kLong));
    ADD_FAILURE() << "no exception";
  } catch (const std::out_of_range& error) {
    EXPECT_NE(std::string(error.what()).find("5000 outside the vocabulary [0, 4375)"),
              std::string::npos)
        << error.what();
  }
  EXPECT_THROW(fsq.codes_to_indices(at::zeros({3, 4})), std::invalid_argument);
  EXPECT_THROW(fsq.codes_to_indices(at::full({3, 5}, 1.5f)), std::invalid_argument);
  EXPECT_THROW(fsq.codes_to_indices(at::full({3, 5}, NAN)), std::invalid_argument);
}

}  // namespace
}  // namespace terramind
