// Every zip entry read from a .pt checkpoint is checked against the CRC-32 of the zip directory:
// flipped bytes in a tensor's data are refused, naming the file and the entry.
#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "checkpoint_builder.h"
#include "test_paths.h"
#include "tm/model.h"

namespace terramind {
namespace {

using testing::ScratchDir;

uint64_t get_le(const std::string& bytes, std::size_t at, int count) {
  uint64_t value = 0;
  for (int i = count - 1; i >= 0; --i)
    value = (value << 8) | static_cast<unsigned char>(bytes.at(at + i));
  return value;
}

struct DirectoryEntry {
  std::string name;
  uint64_t size = 0;
  uint64_t data_offset = 0;
};

// The central directory of an archive (entries under 4 GiB), data offsets from the local headers.
std::vector<DirectoryEntry> directory_of(const std::string& zip) {
  const std::size_t end = zip.rfind(std::string("PK\x05\x06", 4));
  if (end == std::string::npos) throw std::runtime_error("no end of central directory");
  uint64_t count = get_le(zip, end + 10, 2), pos = get_le(zip, end + 16, 4);
  if (count == 0xffff || pos == 0xffffffffu) {  // zip64 end record, through its locator
    const uint64_t zip64 = get_le(zip, end - 20 + 8, 8);
    count = get_le(zip, zip64 + 32, 8);
    pos = get_le(zip, zip64 + 48, 8);
  }
  std::vector<DirectoryEntry> entries;
  for (uint64_t i = 0; i < count; ++i) {
    if (get_le(zip, pos, 4) != 0x02014b50) throw std::runtime_error("bad central directory");
    DirectoryEntry e;
    e.size = get_le(zip, pos + 20, 4);
    const std::size_t name_length = get_le(zip, pos + 28, 2);
    const std::size_t extra_length = get_le(zip, pos + 30, 2);
    const std::size_t comment_length = get_le(zip, pos + 32, 2);
    e.name = zip.substr(pos + 46, name_length);
    const uint64_t local = get_le(zip, pos + 42, 4);
    if (e.size == 0xffffffffu || local == 0xffffffffu)
      throw std::runtime_error("zip64 entries are not handled here");
    e.data_offset = local + 30 + get_le(zip, local + 26, 2) + get_le(zip, local + 28, 2);
    entries.push_back(e);
    pos += 46 + name_length + extra_length + comment_length;
  }
  return entries;
}

// The largest tensor storage entry ("<folder>/data/<key>").
DirectoryEntry largest_storage(const std::string& zip) {
  DirectoryEntry best;
  for (const auto& e : directory_of(zip))
    if (e.name.find("/data/") != std::string::npos && e.size > best.size) best = e;
  return best;
}

std::string expect_corrupt(const std::string& path, const std::string& entry) {
  std::string message;
  try {
    load_torch_checkpoint(path);
    ADD_FAILURE() << path << " loaded despite the damage to " << entry;
  } catch (const CheckpointError& e) {
    message = e.what();
  }
  EXPECT_NE(
      message.find(path + ": checkpoint is corrupt: entry '" + entry + "' fails its CRC-32 check"),
      std::string::npos)
      << message;
  return message;
}

TEST(checkpoint_integrity, FlippedTensorBytesOfAFixtureAreRefused) {
  const std::string source =
      terramind::testing::fixtures_dir() + "/terramind_generation_state_dict.pt";
  const std::string good = testing::read_file(source);
  ASSERT_GT(good.size(), 100000u) << source;
  const DirectoryEntry target = largest_storage(good);
  ASSERT_GE(target.size, 64u) << "no tensor entry found";
  ScratchDir dir;
  // 16 bytes in the middle of the tensor's data, each changed.
  std::string bad = good;
  for (uint64_t i = 0; i < 16; ++i) {
    char& c = bad[target.data_offset + target.size / 2 + i];
    c = static_cast<char>(~c);
  }
  testing::write_file(dir.file("flipped.pt"), bad);
  expect_corrupt(dir.file("flipped.pt"), target.name);

  // One bit suffices, in the first and in the last byte.
  for (uint64_t at : {target.data_offset, target.data_offset + target.size - 1}) {
    std::string one = good;
    one[at] = static_cast<char>(one[at] ^ 0x01);
    testing::write_file(dir.file("bit.pt"), one);
    expect_corrupt(dir.file("bit.pt"), target.name);
  }
  // The untouched copy loads.
  testing::write_file(dir.file("good.pt"), good);
  EXPECT_NO_THROW(load_torch_checkpoint(dir.file("good.pt")));
}

TEST(checkpoint_integrity, EveryEntryReadIsChecked) {
  // data.pkl and the bytes of a storage beyond what its tensors use count too.
  std::string floats(12 * 4, '\0');
  for (int i = 0; i < 12; ++i) floats[4 * i] = static_cast<char>(i);
  testing::PickleBuilder pickle;
  pickle.proto().empty_dict().str("w").tensor("FloatStorage", "0", 8, 0, {8}, {1});
  pickle.setitem().stop();
  const std::string archive = testing::make_checkpoint(pickle.bytes(), {{"0", floats}});
  ScratchDir dir;
  testing::write_file(dir.file("good.pt"), archive);
  ASSERT_EQ(load_torch_checkpoint(dir.file("good.pt")).at("w").numel(), 8);

  for (const auto& e : directory_of(archive)) {
    if (e.name == "archive/version") continue;  // never read
    SCOPED_TRACE(e.name);
    std::string bad = archive;
    // The storage's last float is not part of tensor "w": its damage is found all the same.
    const uint64_t at = e.data_offset + e.size - 1;
    if (e.name == "archive/data.pkl") {
      // Damage the pickle where it still parses: a byte of the key "w" becomes "x".
      const std::size_t key = archive.find(std::string("X\x01\x00\x00\x00w", 6), e.data_offset);
      ASSERT_NE(key, std::string::npos);
      bad[key + 5] = 'x';
    } else {
      bad[at] = static_cast<char>(bad[at] ^ 0x40);
    }
    testing::write_file(dir.file("bad.pt"), bad);
    expect_corrupt(dir.file("bad.pt"), e.name);
  }
}

}  // namespace
}  // namespace terramind
