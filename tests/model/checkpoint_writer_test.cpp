// save_torch_checkpoint: what tm writes is what torch.save writes — tm's reader, Python's
// zipfile (CRC-checked) and a pickle load with torch's rebuild functions stubbed take it, and a
// real state dict (the fixture TerraMind) survives the round trip bit for bit.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "test_paths.h"
#include "tm/model.h"

using namespace terramind;
using terramind::testing::ScratchDir;

namespace {

bool same(const at::Tensor& a, const at::Tensor& b) {
  return a.scalar_type() == b.scalar_type() && a.sizes() == b.sizes() &&
         (a.numel() == 0 || at::equal(a, b));
}

}  // namespace

TEST(checkpoint_writer, round_trips_every_dtype_and_shape) {
  ScratchDir scratch;
  TensorMap t;
  t.insert("f32", torch::randn({3, 4}));
  t.insert("f64", torch::randn({2}, torch::kFloat64));
  t.insert("f16", torch::randn({5}).to(torch::kHalf));
  t.insert("bf16", torch::randn({2, 2}).to(torch::kBFloat16));
  t.insert("i64", torch::arange(-3, 300, torch::kLong) * 100000000);
  t.insert("i32", torch::arange(10, torch::kInt));
  t.insert("i16", torch::arange(10, torch::kShort));
  t.insert("i8", torch::arange(-5, 5, torch::kChar));
  t.insert("u8", torch::arange(200, torch::kByte));
  t.insert("bool", torch::tensor({true, false, true}));
  t.insert("scalar", torch::tensor(3.5));
  t.insert("empty", torch::zeros({0, 4}));
  t.insert("strided", torch::randn({4, 6}).t());  // written contiguous
  t.insert("big.dims", torch::ones({70000}));
  const std::string path = scratch.file("state.pt");
  save_torch_checkpoint(path, t);
  const TensorMap back = load_torch_checkpoint(path);
  ASSERT_EQ(back.names(), t.names());
  for (const auto& [name, tensor] : t)
    EXPECT_TRUE(same(back.at(name), tensor.contiguous())) << name;
  // Nothing but the file: the temporary was renamed.
  EXPECT_EQ(scratch.entries(), std::vector<std::string>{"state.pt"});
}

TEST(checkpoint_writer, python_reads_it_as_torch_save_output) {
  ScratchDir scratch;
  TensorMap t;
  t.insert("encoder.0.attn.qkv.weight", torch::arange(12, torch::kFloat).reshape({6, 2}));
  t.insert("mask_token", torch::full({1, 1, 4}, 0.5));
  const std::string path = scratch.file("state.pt");
  save_torch_checkpoint(path, t);
  // torch is not needed: its rebuild functions are stubbed; zipfile checks every CRC.
  const std::string script = scratch.file("read.py");
  std::ofstream(script) << R"PY(
import collections, pickle, struct, sys, types, zipfile
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
names = z.namelist()
assert names[0] == "archive/data.pkl" and "archive/version" in names, names
for info in z.infolist():
    assert info.compress_type == zipfile.ZIP_STORED
    if info.filename.startswith("archive/data/"):
        # torch aligns storage data to 64 bytes
        raw = open(sys.argv[1], "rb"); raw.seek(info.header_offset)
        header = raw.read(30)
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        start = info.header_offset + 30 + name_len + extra_len
        assert start % 64 == 0, (info.filename, start)
torch = types.ModuleType("torch"); utils = types.ModuleType("torch._utils")
class FloatStorage: pass
torch.FloatStorage = FloatStorage
def rebuild(storage, offset, size, stride, requires_grad, hooks):
    kind, cls, key, location, numel = storage
    data = z.read("archive/data/" + key)
    values = struct.unpack("<%df" % numel, data)
    return (cls.__name__, location, tuple(size), tuple(stride), values[offset:])
utils._rebuild_tensor_v2 = rebuild
sys.modules["torch"] = torch; sys.modules["torch._utils"] = utils
class Loader(pickle.Unpickler):
    def persistent_load(self, pid): return pid
d = Loader(z.open("archive/data.pkl")).load()
assert isinstance(d, collections.OrderedDict)
for k, v in d.items(): print(k, v[0], v[1], v[2], v[3], sum(v[4]))
)PY";
  const std::string out = scratch.file("out.txt");
  ASSERT_EQ(std::system(("/usr/bin/python3 " + script + " " + path + " > " + out).c_str()), 0);
  std::ifstream in(out);
  std::string line1, line2;
  std::getline(in, line1);
  std::getline(in, line2);
  EXPECT_EQ(line1, "encoder.0.attn.qkv.weight FloatStorage cpu (6, 2) (2, 1) 66.0");
  EXPECT_EQ(line2, "mask_token FloatStorage cpu (1, 1, 4) (4, 4, 1) 2.0");
}

TEST(checkpoint_writer, the_fixture_terramind_survives_the_round_trip) {
  ScratchDir scratch;
  const TensorMap fixture = load_torch_checkpoint(terramind::testing::fixtures_dir() +
                                                  "/terramind_generation_state_dict.pt");
  save_torch_checkpoint(scratch.file("copy.pt"), fixture);
  const TensorMap copy = load_torch_checkpoint(scratch.file("copy.pt"));
  ASSERT_EQ(copy.names(), fixture.names());
  for (const auto& [name, tensor] : fixture) EXPECT_TRUE(same(copy.at(name), tensor)) << name;
  // An unwritable target fails with the path, and leaves nothing behind.
  const std::string bad = scratch.file("no_such_folder/x.pt");
  try {
    save_torch_checkpoint(bad, fixture);
    ADD_FAILURE() << "no error";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
  }
}
