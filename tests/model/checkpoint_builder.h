// Hand-made torch.save-style checkpoints for the reader tests: a stored-entry zip writer (with an
// optional zip64 layout) and a small pickle builder. Torch-free, header-only.
#pragma once

#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

namespace terramind::testing {

inline uint32_t crc32(const std::string& data) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char byte : data) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

inline void put_le(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

struct ZipFileEntry {
  std::string name;
  std::string data;
  uint16_t method = 0;  // recorded as is; data is never compressed
};

// A zip archive like torch.save's. With zip64, every size/offset field is saturated and the real
// values live in zip64 extra fields and end records, as in archives over 4 GiB.
inline std::string make_zip(const std::vector<ZipFileEntry>& entries, bool zip64 = false) {
  std::string out, directory;
  for (const auto& entry : entries) {
    const uint64_t offset = out.size();
    const uint32_t crc = crc32(entry.data);
    put_le(out, 0x04034b50, 4);
    put_le(out, zip64 ? 45 : 20, 2);
    put_le(out, 0, 2);  // flags
    put_le(out, entry.method, 2);
    put_le(out, 0, 4);  // time, date
    put_le(out, crc, 4);
    put_le(out, entry.data.size(), 4);
    put_le(out, entry.data.size(), 4);
    put_le(out, entry.name.size(), 2);
    put_le(out, 0, 2);
    out += entry.name;
    out += entry.data;

    std::string extra;
    if (zip64) {
      put_le(extra, 0x0001, 2);
      put_le(extra, 24, 2);
      put_le(extra, entry.data.size(), 8);
      put_le(extra, entry.data.size(), 8);
      put_le(extra, offset, 8);
    }
    const uint64_t saturated = 0xffffffffu;
    put_le(directory, 0x02014b50, 4);
    put_le(directory, zip64 ? 45 : 20, 2);
    put_le(directory, zip64 ? 45 : 20, 2);
    put_le(directory, 0, 2);
    put_le(directory, entry.method, 2);
    put_le(directory, 0, 4);
    put_le(directory, crc, 4);
    put_le(directory, zip64 ? saturated : entry.data.size(), 4);
    put_le(directory, zip64 ? saturated : entry.data.size(), 4);
    put_le(directory, entry.name.size(), 2);
    put_le(directory, extra.size(), 2);
    put_le(directory, 0, 2);  // comment
    put_le(directory, 0, 2);  // disk
    put_le(directory, 0, 2);  // internal attributes
    put_le(directory, 0, 4);  // external attributes
    put_le(directory, zip64 ? saturated : offset, 4);
    directory += entry.name;
    directory += extra;
  }
  const uint64_t directory_offset = out.size();
  out += directory;
  if (zip64) {
    const uint64_t zip64_end_offset = out.size();
    put_le(out, 0x06064b50, 4);
    put_le(out, 44, 8);
    put_le(out, 45, 2);
    put_le(out, 45, 2);
    put_le(out, 0, 4);
    put_le(out, 0, 4);
    put_le(out, entries.size(), 8);
    put_le(out, entries.size(), 8);
    put_le(out, directory.size(), 8);
    put_le(out, directory_offset, 8);
    put_le(out, 0x07064b50, 4);
    put_le(out, 0, 4);
    put_le(out, zip64_end_offset, 8);
    put_le(out, 1, 4);
  }
  put_le(out, 0x06054b50, 4);
  put_le(out, 0, 2);
  put_le(out, 0, 2);
  put_le(out, zip64 ? 0xffff : entries.size(), 2);
  put_le(out, zip64 ? 0xffff : entries.size(), 2);
  put_le(out, zip64 ? 0xffffffffu : directory.size(), 4);
  put_le(out, zip64 ? 0xffffffffu : directory_offset, 4);
  put_le(out, 0, 2);
  return out;
}

// Emits pickle opcodes (protocol 2 unless stated) the way torch.save does.
class PickleBuilder {
 public:
  PickleBuilder& raw(const std::string& bytes) {
    out_ += bytes;
    return *this;
  }
  PickleBuilder& op(unsigned char opcode) {
    out_.push_back(static_cast<char>(opcode));
    return *this;
  }
  PickleBuilder& proto(int version = 2) { return op(0x80).op(static_cast<unsigned char>(version)); }
  PickleBuilder& mark() { return op('('); }
  PickleBuilder& stop() { return op('.'); }
  PickleBuilder& tuple() { return op('t'); }
  PickleBuilder& empty_tuple() { return op(')'); }
  PickleBuilder& empty_dict() { return op('}'); }
  PickleBuilder& setitem() { return op('s'); }
  PickleBuilder& setitems() { return op('u'); }
  PickleBuilder& reduce() { return op('R'); }
  PickleBuilder& build() { return op('b'); }
  PickleBuilder& persid() { return op('Q'); }
  PickleBuilder& boolean(bool value) { return op(value ? 0x88 : 0x89); }
  PickleBuilder& str(const std::string& text) {
    op('X');
    put_le(out_, text.size(), 4);
    out_ += text;
    return *this;
  }
  PickleBuilder& integer(int64_t value) {
    if (value >= 0 && value < 256) {
      op('K');
      put_le(out_, static_cast<uint64_t>(value), 1);
    } else {
      op(0x8a);  // LONG1, 8 bytes two's complement
      put_le(out_, 8, 1);
      put_le(out_, static_cast<uint64_t>(value), 8);
    }
    return *this;
  }
  PickleBuilder& global(const std::string& module, const std::string& name) {
    op('c');
    out_ += module + "\n" + name + "\n";
    return *this;
  }
  PickleBuilder& int_tuple(const std::vector<int64_t>& values) {
    mark();
    for (int64_t value : values) integer(value);
    return tuple();
  }
  // Pushes _rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu', numel), offset, size, stride,
  // False, OrderedDict()).
  PickleBuilder& tensor(const std::string& storage_type, const std::string& key, int64_t numel,
                        int64_t offset, const std::vector<int64_t>& size,
                        const std::vector<int64_t>& stride) {
    global("torch._utils", "_rebuild_tensor_v2").mark();
    mark().str("storage").global("torch", storage_type).str(key).str("cpu").integer(numel);
    tuple().persid();
    integer(offset).int_tuple(size).int_tuple(stride).boolean(false);
    global("collections", "OrderedDict").empty_tuple().reduce();
    return tuple().reduce();
  }
  const std::string& bytes() const { return out_; }

 private:
  std::string out_;
};

// A torch.save-like archive: <folder>/data.pkl, <folder>/data/<key>, <folder>/version.
inline std::string make_checkpoint(const std::string& pickle,
                                   const std::map<std::string, std::string>& storages,
                                   bool zip64 = false, const std::string& folder = "archive") {
  std::vector<ZipFileEntry> entries{{folder + "/data.pkl", pickle}};
  for (const auto& [key, data] : storages) entries.push_back({folder + "/data/" + key, data});
  entries.push_back({folder + "/version", "3\n"});
  return make_zip(entries, zip64);
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace terramind::testing
