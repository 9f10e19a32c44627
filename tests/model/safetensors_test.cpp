// safetensors: bit-exact round trips, the on-disk layout, atomic writes and header validation.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "checkpoint_builder.h"
#include "test_paths.h"
#include "tm/model.h"

namespace terramind {
namespace {

using testing::put_le;
using testing::read_file;
using testing::ScratchDir;
using testing::write_file;

bool bitwise_equal(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  at::Tensor x = a.contiguous(), y = b.contiguous();
  return x.numel() == 0 ||
         std::memcmp(x.data_ptr(), y.data_ptr(), x.numel() * x.element_size()) == 0;
}

void expect_same_maps(const TensorMap& actual, const TensorMap& expected) {
  ASSERT_EQ(actual.names(), expected.names());
  for (const auto& [name, tensor] : expected)
    EXPECT_TRUE(bitwise_equal(actual.at(name), tensor)) << name;
}

TensorMap sample_tensors() {
  TensorMap tensors;
  const at::Tensor values = at::randn({4, 6}, at::kDouble) * 100;
  tensors.insert("f64", values);
  tensors.insert("f32.transposed", values.to(at::kFloat).t());  // non-contiguous input
  tensors.insert("f16", values.to(at::kHalf));
  tensors.insert("bf16", values.to(at::kBFloat16));
  tensors.insert("i64", values.to(at::kLong));
  tensors.insert("i32", values.to(at::kInt).view({2, 3, 4}));
  tensors.insert("i16", values.to(at::kShort));
  tensors.insert("i8", at::arange(-5, 5, at::kChar));
  tensors.insert("u8", at::arange(250, 256, at::kInt).to(at::kByte));
  tensors.insert("bool", values > 0);
  tensors.insert("scalar", at::tensor(3.25f).view({}));
  tensors.insert("empty", at::zeros({0, 3}));
  tensors.insert("special", at::tensor({-0.0f, INFINITY, -INFINITY, 1e-45f}));
  tensors.insert("name with @ and unicode é", at::ones({1}));
  return tensors;
}

TEST(safetensors, RoundTripAllDtypesAndMetadata) {
  ScratchDir dir;
  const TensorMap tensors = sample_tensors();
  save_safetensors(dir.file("t.safetensors"), tensors, {{"format", "pt"}, {"source", "tm"}});
  SafetensorsMetadata metadata;
  const TensorMap loaded = load_safetensors(dir.file("t.safetensors"), &metadata);
  expect_same_maps(loaded, tensors);
  EXPECT_EQ(metadata, (SafetensorsMetadata{{"format", "pt"}, {"source", "tm"}}));
  EXPECT_TRUE(loaded.at("f32.transposed").is_contiguous());
}

TEST(safetensors, RoundTripFixtureWeights) {
  const std::string path = testing::fixtures_dir() + "/tokenizer_vqvae_lulc_state_dict.pt";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "fixture not available: " << path;
  const TensorMap weights = load_torch_checkpoint(path);
  ScratchDir dir;
  save_safetensors(dir.file("w.safetensors"), weights);
  expect_same_maps(load_safetensors(dir.file("w.safetensors")), weights);
}

TEST(safetensors, FileLayout) {
  ScratchDir dir;
  TensorMap tensors;
  tensors.insert("b", at::tensor({1.0f, 2.0f}));
  tensors.insert("a", at::tensor({int16_t{7}}));
  save_safetensors(dir.file("x.safetensors"), tensors);
  const std::string bytes = read_file(dir.file("x.safetensors"));
  ASSERT_GE(bytes.size(), 8u);
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i)
    header_size = (header_size << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(header_size % 8, 0u);
  ASSERT_EQ(bytes.size(), 8 + header_size + 8 + 2);
  const std::string header = bytes.substr(8, header_size);
  EXPECT_EQ(header.find("__metadata__"), std::string::npos);
  EXPECT_NE(header.find(R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})"),
            std::string::npos)
      << header;
  EXPECT_NE(header.find(R"("a":{"dtype":"I16","shape":[1],"data_offsets":[8,10]})"),
            std::string::npos)
      << header;
  float first = 0;
  std::memcpy(&first, bytes.data() + 8 + header_size, 4);
  EXPECT_EQ(first, 1.0f);
}

TEST(safetensors, AtomicWrites) {
  ScratchDir dir;
  TensorMap first, second;
  first.insert("w", at::zeros({3}));
  second.insert("w", at::ones({5}));
  save_safetensors(dir.file("w.safetensors"), first);
  save_safetensors(dir.file("w.safetensors"), second);  // replaces the old file
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"w.safetensors"}));
  EXPECT_TRUE(at::equal(load_safetensors(dir.file("w.safetensors")).at("w"), at::ones({5})));

  EXPECT_THROW(save_safetensors(dir.file("missing/w.safetensors"), first), CheckpointError);
  TensorMap complex;
  complex.insert("c", at::zeros({2}, at::kComplexFloat));
  EXPECT_THROW(save_safetensors(dir.file("c.safetensors"), complex), CheckpointError);
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"w.safetensors"}));
}

// A file with the given header text and data bytes.
std::string safetensors_bytes(const std::string& header, const std::string& data) {
  std::string out;
  put_le(out, header.size(), 8);
  return out + header + data;
}

void expect_load_error(const std::string& bytes, const std::string& problem) {
  ScratchDir dir;
  write_file(dir.file("bad.safetensors"), bytes);
  try {
    load_safetensors(dir.file("bad.safetensors"));
    ADD_FAILURE() << "loaded without error (expected: " << problem << ")";
  } catch (const CheckpointError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(dir.file("bad.safetensors")), std::string::npos) << message;
    EXPECT_NE(message.find(problem), std::string::npos) << message;
  }
}

TEST(safetensors, HeaderValidation) {
  const std::string data(8, '\0');
  expect_load_error("", "file too short");
  expect_load_error("abc", "file too short");
  expect_load_error(safetensors_bytes("{}", "").substr(0, 9), "exceeds the file size");
  expect_load_error(safetensors_bytes("{\"a\":", data), "not a JSON object");
  expect_load_error(safetensors_bytes("[1,2]", data), "not a JSON object");
  expect_load_error(
      safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", data),
      "out of range");
  expect_load_error(
      safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", data),
      "out of range");
  expect_load_error(
      safetensors_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data),
      "the shape and dtype need 12");
  expect_load_error(
      safetensors_bytes(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data),
      "non-negative");
  expect_load_error(
      safetensors_bytes(R"({"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}})", data),
      "unsupported dtype 'C64'");
  expect_load_error(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2]}})", data),
                    "missing data_offsets");
  expect_load_error(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                      R"("b":{"dtype":"I32","shape":[1],"data_offsets":[4,8]}})",
                                      data),
                    "overlap");
  expect_load_error(safetensors_bytes(R"({"__metadata__":{"n":1}})", data),
                    "__metadata__ values must be strings");
  expect_load_error(
      safetensors_bytes(
          R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", data),
      "overflows");
}

TEST(safetensors, TruncatedFiles) {
  ScratchDir dir;
  save_safetensors(dir.file("t.safetensors"), sample_tensors());
  const std::string bytes = read_file(dir.file("t.safetensors"));
  for (std::size_t length :
       {std::size_t{0}, std::size_t{7}, std::size_t{20}, bytes.size() / 2, bytes.size() - 1}) {
    write_file(dir.file("cut.safetensors"), bytes.substr(0, length));
    EXPECT_THROW(load_safetensors(dir.file("cut.safetensors")), CheckpointError) << length;
  }
  EXPECT_THROW(load_safetensors(dir.file("absent.safetensors")), CheckpointError);
}

}  // namespace
}  // namespace terramind
