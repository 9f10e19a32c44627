// Checkpoint reading: parity with the fixture weights (parity_checkpoint), hand-made archives
// covering the format's corners (checkpoint_reader), corrupt input (checkpoint_errors) and the
// strict key report (checkpoint_report).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "checkpoint_builder.h"
#include "test_paths.h"
#include "tm/model.h"

namespace terramind {
namespace {

namespace fs = std::filesystem;
using testing::make_checkpoint;
using testing::PickleBuilder;
using testing::ScratchDir;
using testing::write_file;

std::string fixture_path(const std::string& file) {
  std::string path = testing::fixtures_dir() + "/" + file;
  if (!fs::exists(path)) ADD_FAILURE() << "missing fixture " << path;
  return path;
}

bool bitwise_equal(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  at::Tensor x = a.contiguous(), y = b.contiguous();
  return x.numel() == 0 ||
         std::memcmp(x.data_ptr(), y.data_ptr(), x.numel() * x.element_size()) == 0;
}

// Loads `<name>_state_dict.pt` and checks it against the `weights/<prefix><key>` tensors of
// `<name>.pt`: same values, dtypes, shapes, order, and the same storage sharing (tied weights).
// Returns the state dict.
TensorMap expect_state_dict_matches_fixture(const std::string& name, const std::string& prefix,
                                            bool fixture_has_every_key) {
  const TensorMap state_dict = load_torch_checkpoint(fixture_path(name + "_state_dict.pt"));
  const TensorMap fixture = load_torch_checkpoint(fixture_path(name + ".pt"));
  const std::string weight_prefix = "weights/" + prefix;

  std::vector<std::string> fixture_keys;
  std::map<const void*, std::vector<std::string>> fixture_storages;
  for (const auto& [key, tensor] : fixture) {
    if (key.rfind(weight_prefix, 0) != 0) continue;
    const std::string model_key = key.substr(weight_prefix.size());
    fixture_keys.push_back(model_key);
    fixture_storages[tensor.storage().data()].push_back(model_key);
    const at::Tensor* loaded = state_dict.find(model_key);
    if (!loaded) {
      ADD_FAILURE() << name << ": state dict lacks " << model_key;
      continue;
    }
    EXPECT_EQ(loaded->scalar_type(), tensor.scalar_type()) << model_key;
    EXPECT_EQ(loaded->sizes(), tensor.sizes()) << model_key;
    EXPECT_TRUE(bitwise_equal(*loaded, tensor)) << model_key;
  }
  EXPECT_GT(fixture_keys.size(), 30u) << name;

  // Same relative order as the model's state_dict.
  std::set<std::string> in_fixture(fixture_keys.begin(), fixture_keys.end());
  std::vector<std::string> state_dict_order;
  for (const auto& item : state_dict)
    if (in_fixture.count(item.first)) state_dict_order.push_back(item.first);
  EXPECT_EQ(state_dict_order, fixture_keys) << name;
  if (fixture_has_every_key) {
    EXPECT_EQ(state_dict.size(), fixture_keys.size()) << name;
  }

  // Tensors sharing a storage in the fixture share it after loading too, and only those.
  for (const auto& [storage, keys] : fixture_storages) {
    for (std::size_t i = 1; i < keys.size(); ++i) {
      if (!state_dict.contains(keys[0]) || !state_dict.contains(keys[i])) continue;
      EXPECT_TRUE(state_dict.at(keys[0]).is_alias_of(state_dict.at(keys[i])))
          << keys[0] << " / " << keys[i];
    }
  }
  std::set<const void*> distinct;
  for (const auto& item : state_dict) distinct.insert(item.second.storage().data());
  std::size_t tied = 0;
  for (const auto& item : fixture_storages) tied += item.second.size() - 1;
  if (fixture_has_every_key) {
    EXPECT_EQ(distinct.size(), state_dict.size() - tied) << name;
  }
  return state_dict;
}

TEST(parity_checkpoint, TerramindGenerationStateDict) {
  TensorMap state_dict =
      expect_state_dict_matches_fixture("terramind_generation", "sampler.model.", true);
  EXPECT_TRUE(state_dict.at("decoder_embeddings.tok_lulc@224.to_logits.weight")
                  .is_alias_of(state_dict.at("decoder_embeddings.tok_lulc@224.token_emb.weight")));
  EXPECT_TRUE(state_dict.at("encoder_embeddings.tok_lulc@224.mod_emb")
                  .is_alias_of(state_dict.at("decoder_embeddings.tok_lulc@224.mod_emb")));
  EXPECT_TRUE(
      state_dict.at("decoder_embeddings.tok_sen1grd@224.to_logits.weight")
          .is_alias_of(state_dict.at("decoder_embeddings.tok_sen1grd@224.token_emb.weight")));
}

TEST(parity_checkpoint, TerramindVitStateDict) {
  // The fixture holds the ViT's filtered state dict; the checkpoint is a full encoder-decoder.
  TensorMap state_dict = expect_state_dict_matches_fixture("terramind_vit", "", false);
  EXPECT_TRUE(state_dict.contains("decoder_embeddings.tok_lulc@224.to_logits.weight"));
  EXPECT_TRUE(state_dict.at("decoder_embeddings.tok_lulc@224.to_logits.weight")
                  .is_alias_of(state_dict.at("decoder_embeddings.tok_lulc@224.token_emb.weight")));
}

TEST(parity_checkpoint, TokenizerDivaeS1grdStateDict) {
  TensorMap state_dict = expect_state_dict_matches_fixture("tokenizer_divae_s1grd", "", true);
  // Saved non-contiguous in the file: strides must survive.
  EXPECT_FALSE(state_dict.at("encoder.pos_emb").is_contiguous());
}

TEST(parity_checkpoint, TokenizerVqvaeLulcStateDict) {
  TensorMap state_dict = expect_state_dict_matches_fixture("tokenizer_vqvae_lulc", "", true);
  EXPECT_FALSE(state_dict.at("decoder.pos_emb").is_contiguous());
}

// The plain-dict fixtures are also readable by torch::pickle_load: both readers must agree.
TEST(parity_checkpoint, PlainDictFixturesMatchTorchPickleLoad) {
  for (const char* name : {"fsq", "terramind_generation", "terramind_vit", "tokenizer_divae_s1grd",
                           "tokenizer_vqvae_lulc"}) {
    SCOPED_TRACE(name);
    const std::string path = fixture_path(std::string(name) + ".pt");
    const TensorMap ours = load_torch_checkpoint(path);
    const std::string bytes = testing::read_file(path);
    const c10::IValue theirs = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
    ASSERT_TRUE(theirs.isGenericDict());
    const auto dict = theirs.toGenericDict();
    ASSERT_EQ(dict.size(), ours.size());
    std::size_t i = 0;
    for (const auto& entry : dict) {
      const std::string key = entry.key().toStringRef();
      EXPECT_EQ(ours.items()[i++].first, key);
      ASSERT_TRUE(ours.contains(key)) << key;
      EXPECT_TRUE(bitwise_equal(ours.at(key), entry.value().toTensor())) << key;
      EXPECT_EQ(ours.at(key).strides(), entry.value().toTensor().strides()) << key;
    }
  }
}

// --- hand-made archives ----------------------------------------------------------------------

std::string float_bytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

// {'a': 2x3 view (offset 2, strides 1,2) of storage '0' (12 floats), 'b': all of storage '0'}.
PickleBuilder two_views_pickle(bool wrap_under = false, const std::string& wrapper = "") {
  PickleBuilder p;
  p.proto().empty_dict();
  if (wrap_under) p.str("epoch").integer(7).setitem().str(wrapper).empty_dict();
  p.mark();
  p.str("a").tensor("FloatStorage", "0", 12, 2, {2, 3}, {1, 2});
  p.str("b").tensor("FloatStorage", "0", 12, 0, {12}, {1});
  p.setitems();
  if (wrap_under) p.setitem();
  return p.stop();
}

std::map<std::string, std::string> twelve_floats() {
  std::vector<float> values(12);
  for (int i = 0; i < 12; ++i) values[i] = static_cast<float>(i) + 0.5f;
  return {{"0", float_bytes(values)}};
}

TensorMap load_bytes(const std::string& archive) {
  ScratchDir dir;
  write_file(dir.file("c.pt"), archive);
  return load_torch_checkpoint(dir.file("c.pt"));
}

void expect_two_views(const TensorMap& tensors) {
  ASSERT_EQ(tensors.names(), (std::vector<std::string>{"a", "b"}));
  const at::Tensor base = at::arange(12, at::kFloat) + 0.5f;
  EXPECT_TRUE(at::equal(tensors.at("a"), base.as_strided({2, 3}, {1, 2}, 2)));
  EXPECT_EQ(tensors.at("a").strides(), (c10::IntArrayRef{1, 2}));
  EXPECT_EQ(tensors.at("a").storage_offset(), 2);
  EXPECT_TRUE(at::equal(tensors.at("b"), base));
  EXPECT_TRUE(tensors.at("a").is_alias_of(tensors.at("b")));
}

TEST(checkpoint_reader, OffsetsStridesAndSharedStorage) {
  expect_two_views(load_bytes(make_checkpoint(two_views_pickle().bytes(), twelve_floats())));
}

TEST(checkpoint_reader, Zip64Archive) {
  expect_two_views(load_bytes(make_checkpoint(two_views_pickle().bytes(), twelve_floats(), true)));
}

TEST(checkpoint_reader, AnyArchiveFolderName) {
  expect_two_views(load_bytes(
      make_checkpoint(two_views_pickle().bytes(), twelve_floats(), false, "my_model-v2")));
}

TEST(checkpoint_reader, UnwrapsStateDictAndModelKeys) {
  for (const char* wrapper : {"state_dict", "model"}) {
    SCOPED_TRACE(wrapper);
    expect_two_views(
        load_bytes(make_checkpoint(two_views_pickle(true, wrapper).bytes(), twelve_floats())));
  }
}

TEST(checkpoint_reader, AllStorageTypes) {
  struct Case {
    const char* storage;
    at::ScalarType dtype;
  };
  const Case cases[] = {{"DoubleStorage", at::kDouble},     {"HalfStorage", at::kHalf},
                        {"BFloat16Storage", at::kBFloat16}, {"LongStorage", at::kLong},
                        {"IntStorage", at::kInt},           {"ShortStorage", at::kShort},
                        {"CharStorage", at::kChar},         {"ByteStorage", at::kByte},
                        {"BoolStorage", at::kBool}};
  PickleBuilder p;
  p.proto().empty_dict().mark();
  std::map<std::string, std::string> storages;
  std::vector<at::Tensor> expected;
  int key = 0;
  for (const Case& c : cases) {
    at::Tensor values = (at::arange(6, at::kDouble) * 1.25 - 2).to(c.dtype);
    storages[std::to_string(key)] =
        std::string(static_cast<const char*>(values.data_ptr()), 6 * values.element_size());
    p.str(c.storage).tensor(c.storage, std::to_string(key), 6, 0, {2, 3}, {3, 1});
    expected.push_back(values.view({2, 3}));
    ++key;
  }
  p.setitems().stop();
  const TensorMap tensors = load_bytes(make_checkpoint(p.bytes(), storages));
  ASSERT_EQ(tensors.size(), std::size(cases));
  for (std::size_t i = 0; i < std::size(cases); ++i) {
    EXPECT_EQ(tensors.items()[i].first, cases[i].storage);
    EXPECT_TRUE(bitwise_equal(tensors.items()[i].second, expected[i])) << cases[i].storage;
  }
}

TEST(checkpoint_reader, ParametersScalarsAndProtocol4Opcodes) {
  PickleBuilder p;
  p.proto(4).op(0x95).raw(std::string(8, '\0'));                 // FRAME
  p.empty_dict().op(0x94).mark();                                // MEMOIZE
  p.op(0x8c).raw(std::string(1, '\x05')).raw("param").op(0x94);  // SHORT_BINUNICODE
  p.global("torch._utils", "_rebuild_parameter").mark();
  p.tensor("FloatStorage", "0", 12, 11, {}, {}).boolean(true);
  p.global("collections", "OrderedDict").empty_tuple().reduce().tuple().reduce();
  p.str("torch").str("FloatStorage").op(0x93).op('0');  // STACK_GLOBAL, POP
  p.str("empty").tensor("FloatStorage", "0", 12, 12, {0, 4}, {4, 1});
  p.setitems().stop();
  const TensorMap tensors = load_bytes(make_checkpoint(p.bytes(), twelve_floats()));
  ASSERT_EQ(tensors.names(), (std::vector<std::string>{"param", "empty"}));
  EXPECT_EQ(tensors.at("param").dim(), 0);
  EXPECT_EQ(tensors.at("param").item<float>(), 11.5f);
  EXPECT_EQ(tensors.at("empty").sizes(), (c10::IntArrayRef{0, 4}));
}

TEST(checkpoint_reader, OrderedDictWithMetadataBuild) {
  PickleBuilder p;
  p.proto().global("collections", "OrderedDict").empty_tuple().reduce().mark();
  p.str("z.weight").tensor("FloatStorage", "0", 12, 0, {12}, {1});
  p.str("a.weight").tensor("FloatStorage", "0", 12, 0, {3, 4}, {4, 1});
  p.setitems();
  p.empty_dict().str("_metadata").global("collections", "OrderedDict").empty_tuple().reduce();
  p.str("").empty_dict().str("version").integer(1).setitem().setitem().setitem().build().stop();
  const TensorMap tensors = load_bytes(make_checkpoint(p.bytes(), twelve_floats()));
  EXPECT_EQ(tensors.names(), (std::vector<std::string>{"z.weight", "a.weight"}));
}

// --- corrupt and hostile input ---------------------------------------------------------------

// Expects load_torch_checkpoint to fail cleanly with a message naming the file and `problem`.
void expect_load_error(const std::string& path, const std::string& problem) {
  try {
    load_torch_checkpoint(path);
    ADD_FAILURE() << "loaded " << path << " without error (expected: " << problem << ")";
  } catch (const CheckpointError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(problem), std::string::npos) << message;
  }
}

void expect_archive_error(const std::string& archive, const std::string& problem) {
  ScratchDir dir;
  write_file(dir.file("bad.pt"), archive);
  expect_load_error(dir.file("bad.pt"), problem);
}

void expect_pickle_error(const std::string& pickle, const std::string& problem) {
  expect_archive_error(make_checkpoint(pickle, twelve_floats()), problem);
}

TEST(checkpoint_errors, TruncatedFixture) {
  const std::string path = fixture_path("tokenizer_vqvae_lulc_state_dict.pt");
  const std::string bytes = testing::read_file(path);
  ASSERT_GT(bytes.size(), 1000u);
  ScratchDir dir;
  for (double fraction : {0.1, 0.5, 0.99}) {
    SCOPED_TRACE(fraction);
    write_file(dir.file("cut.pt"),
               bytes.substr(0, static_cast<std::size_t>(bytes.size() * fraction)));
    expect_load_error(dir.file("cut.pt"), "not a zip archive");
  }
  write_file(dir.file("cut.pt"), bytes.substr(0, bytes.size() - 1));
  expect_load_error(dir.file("cut.pt"), "truncated");
}

TEST(checkpoint_errors, EveryTruncationOfASmallCheckpoint) {
  const std::string archive = make_checkpoint(two_views_pickle().bytes(), twelve_floats());
  ScratchDir dir;
  for (std::size_t length = 0; length < archive.size(); ++length) {
    write_file(dir.file("cut.pt"), archive.substr(0, length));
    EXPECT_THROW(load_torch_checkpoint(dir.file("cut.pt")), CheckpointError) << length;
  }
}

TEST(checkpoint_errors, RandomBytesEmptyFileMissingPathAndFolder) {
  ScratchDir dir;
  std::mt19937 random(1234);
  std::string noise(4096, '\0');
  for (char& c : noise) c = static_cast<char>(random() & 0xff);
  write_file(dir.file("noise.pt"), noise);
  expect_load_error(dir.file("noise.pt"), "not a zip archive");
  write_file(dir.file("empty.pt"), "");
  expect_load_error(dir.file("empty.pt"), "not a zip archive");
  expect_load_error(dir.file("absent.pt"), "no such file");
  expect_load_error(dir.path(), "not a regular file");
}

TEST(checkpoint_errors, ForbiddenGlobals) {
  // os.system("echo pwned") through REDUCE: refused at the GLOBAL, before any call.
  PickleBuilder system_call;
  system_call.proto().global("os", "system").str("echo pwned").op(0x85).reduce().stop();
  expect_pickle_error(system_call.bytes(), "refusing to load: checkpoint references os.system");

  PickleBuilder stack_global;
  stack_global.proto(4).str("builtins").str("eval").op(0x93).stop();
  expect_pickle_error(stack_global.bytes(), "checkpoint references builtins.eval");

  // A forbidden storage type inside an otherwise normal tensor.
  PickleBuilder storage;
  storage.proto().empty_dict().str("w").tensor("ComplexFloatStorage", "0", 1, 0, {1}, {1});
  storage.setitem().stop();
  expect_pickle_error(storage.bytes(), "checkpoint references torch.ComplexFloatStorage");

  PickleBuilder namespace_args;
  namespace_args.proto().empty_dict().str("args").global("argparse", "Namespace");
  namespace_args.empty_tuple().reduce().setitem().stop();
  expect_pickle_error(namespace_args.bytes(), "checkpoint references argparse.Namespace");
}

TEST(checkpoint_errors, MalformedPickles) {
  expect_pickle_error(std::string("\x80\x02\xff", 3), "unknown or unsupported pickle opcode 0xff");
  expect_pickle_error(std::string("\x80\x02s.", 4), "stack underflow");
  expect_pickle_error(std::string("\x80\x02t.", 4), "missing MARK");
  expect_pickle_error(std::string("\x80\x02h\x07.", 5), "memo entry 7 not defined");
  expect_pickle_error(std::string("\x80\x02}", 3), "no STOP");
  expect_pickle_error(std::string("\x80\x02X\xff\xff\xff\x7f", 7), "truncated");
  expect_pickle_error(std::string("\x80\x02]}.", 5), "2 objects on the stack");
  expect_pickle_error(std::string("\x80\x02].", 4), "not a dict of tensors");
  PickleBuilder non_tensor;
  non_tensor.proto().empty_dict().str("epoch").integer(3).setitem().stop();
  expect_pickle_error(non_tensor.bytes(), "'epoch' holds an int");
  // The full pickle of a good checkpoint, cut short.
  const std::string good = two_views_pickle().bytes();
  expect_pickle_error(good.substr(0, good.size() / 2), "truncated");
}

TEST(checkpoint_errors, BadStorages) {
  PickleBuilder too_big;
  too_big.proto().empty_dict().str("w").tensor("FloatStorage", "0", 100, 0, {100}, {1});
  too_big.setitem().stop();
  expect_pickle_error(too_big.bytes(), "48 bytes, 400 needed");

  PickleBuilder missing;
  missing.proto().empty_dict().str("w").tensor("FloatStorage", "9", 1, 0, {1}, {1});
  missing.setitem().stop();
  expect_pickle_error(missing.bytes(), "storage entry 'archive/data/9' is missing");

  PickleBuilder outside;
  outside.proto().empty_dict().str("w").tensor("FloatStorage", "0", 12, 4, {3, 3}, {3, 1});
  outside.setitem().stop();
  expect_pickle_error(outside.bytes(), "needs storage element 12");

  PickleBuilder overflow;
  overflow.proto().empty_dict().str("w").tensor("FloatStorage", "0", 12, 0, {3, 2},
                                                {INT64_MAX / 2 + 1, 1});
  overflow.setitem().stop();
  expect_pickle_error(overflow.bytes(), "overflows");

  PickleBuilder negative;
  negative.proto().empty_dict().str("w").tensor("FloatStorage", "0", -1, 0, {1}, {1});
  negative.setitem().stop();
  expect_pickle_error(negative.bytes(), "negative storage size");
}

TEST(checkpoint_errors, BadArchives) {
  expect_archive_error(testing::make_zip({{"archive/version", "3\n"}}), "no <folder>/data.pkl");
  expect_archive_error(testing::make_zip({{"archive/data.pkl", two_views_pickle().bytes(), 8}}),
                       "is compressed (method 8)");
  // Central directory pointing past the end of the file.
  std::string archive = make_checkpoint(two_views_pickle().bytes(), twelve_floats());
  archive[archive.size() - 3] = '\x7f';  // high byte of the directory offset
  expect_archive_error(archive, "corrupt zip central directory");
}

TEST(checkpoint_errors, MutatedPicklesNeverCrash) {
  const std::string good = two_views_pickle().bytes();
  std::mt19937 random(42);
  ScratchDir dir;
  int loaded = 0;
  for (int round = 0; round < 1500; ++round) {
    std::string pickle = good;
    const int flips = 1 + static_cast<int>(random() % 3);
    for (int i = 0; i < flips; ++i)
      pickle[random() % pickle.size()] = static_cast<char>(random() & 0xff);
    write_file(dir.file("m.pt"), make_checkpoint(pickle, twelve_floats()));
    try {
      load_torch_checkpoint(dir.file("m.pt"));
      ++loaded;
    } catch (const CheckpointError&) {
    }
  }
  EXPECT_LT(loaded, 1500);
}

TEST(checkpoint_errors, MutatedArchivesNeverCrash) {
  // Byte flips anywhere: zip records, local headers, pickle and storage bytes.
  const std::string good = make_checkpoint(two_views_pickle().bytes(), twelve_floats());
  std::mt19937 random(7);
  ScratchDir dir;
  for (int round = 0; round < 1500; ++round) {
    std::string archive = good;
    const int flips = 1 + static_cast<int>(random() % 4);
    for (int i = 0; i < flips; ++i)
      archive[random() % archive.size()] = static_cast<char>(random() & 0xff);
    write_file(dir.file("m.pt"), archive);
    try {
      load_torch_checkpoint(dir.file("m.pt"));
    } catch (const CheckpointError&) {
    }
  }
}

// --- strict key report -----------------------------------------------------------------------

TEST(checkpoint_report, ListsMissingUnexpectedAndMismatchedKeys) {
  TensorMap checkpoint;
  checkpoint.insert("encoder.weight", at::zeros({2, 3}));
  checkpoint.insert("encoder.bias", at::zeros({5}));
  checkpoint.insert("decoder.extra", at::zeros({1}));
  const ExpectedShapes expected{
      {"encoder.weight", {2, 3}}, {"encoder.bias", {4}}, {"head.weight", {7, 2}}};
  const CheckpointReport report = compare_checkpoint(expected, checkpoint);
  EXPECT_FALSE(report.clean());
  EXPECT_EQ(report.missing, (std::vector<std::string>{"head.weight"}));
  EXPECT_EQ(report.unexpected, (std::vector<std::string>{"decoder.extra"}));
  ASSERT_EQ(report.shape_mismatches.size(), 1u);
  EXPECT_EQ(report.shape_mismatches[0].name, "encoder.bias");
  const std::string text = report.describe();
  for (const char* part : {"1 missing", "missing:    head.weight", "unexpected: decoder.extra",
                           "encoder.bias expected [4], got [5]"})
    EXPECT_NE(text.find(part), std::string::npos) << text;

  try {
    require_matching_checkpoint(expected, checkpoint, "tokenizer.pt");
    ADD_FAILURE() << "no exception";
  } catch (const CheckpointError& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.rfind("tokenizer.pt: ", 0), 0u) << message;
    EXPECT_NE(message.find("head.weight"), std::string::npos);
    EXPECT_NE(message.find("decoder.extra"), std::string::npos);
    EXPECT_NE(message.find("encoder.bias"), std::string::npos);
  }
}

TEST(checkpoint_report, CleanMatchFromModule) {
  torch::nn::Sequential model(torch::nn::Linear(3, 4), torch::nn::BatchNorm1d(4));
  const ExpectedShapes expected = expected_shapes(*model);
  TensorMap checkpoint;
  for (const auto& [name, shape] : expected) checkpoint.insert(name, at::zeros(shape));
  EXPECT_TRUE(checkpoint.contains("0.weight"));
  EXPECT_TRUE(checkpoint.contains("1.running_mean"));
  EXPECT_TRUE(compare_checkpoint(expected, checkpoint).clean());
  EXPECT_EQ(compare_checkpoint(expected, checkpoint).describe(), "checkpoint matches");
  EXPECT_NO_THROW(require_matching_checkpoint(expected, checkpoint, "model"));
}

TEST(checkpoint_report, TensorMapRejectsDuplicatesAndNamesMissingKeys) {
  TensorMap tensors;
  tensors.insert("a", at::zeros({1}));
  EXPECT_THROW(tensors.insert("a", at::zeros({1})), std::invalid_argument);
  EXPECT_THROW(tensors.at("b"), std::out_of_range);
  EXPECT_EQ(tensors.find("b"), nullptr);
}

}  // namespace
}  // namespace terramind
