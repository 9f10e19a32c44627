// save_torch_checkpoint: a state dict in the format of Python's torch.save (zip, pickle protocol
// 2), so that torch.load, the reference and tm's own reader take it unchanged.
//
// Layout, as torch.save writes it: stored zip entries "archive/data.pkl", "archive/byteorder",
// "archive/data/<i>" (one storage per tensor, data aligned to 64 bytes by an "FB" extra field as
// PyTorch's writer does) and "archive/version" ("3"). data.pkl is
//   OrderedDict([(key, torch._utils._rebuild_tensor_v2(
//       persistent_id(("storage", torch.<Type>Storage, "<i>", "cpu", numel)),
//       0, size, stride, False, OrderedDict())), ...])
// Tensors are written contiguous, one storage each (shared storages are not kept shared).
#include <ATen/ATen.h>

#include <cstring>
#include <string>
#include <vector>

#include "temporary_file.h"
#include "tm/checkpoint.h"
#include "zip_archive.h"

namespace terramind {
namespace {

using checkpoint_detail::TemporaryFile;
using checkpoint_detail::zip_crc32;

const char* storage_type(at::ScalarType type) {
  switch (type) {
    case at::kFloat:
      return "FloatStorage";
    case at::kDouble:
      return "DoubleStorage";
    case at::kHalf:
      return "HalfStorage";
    case at::kBFloat16:
      return "BFloat16Storage";
    case at::kLong:
      return "LongStorage";
    case at::kInt:
      return "IntStorage";
    case at::kShort:
      return "ShortStorage";
    case at::kChar:
      return "CharStorage";
    case at::kByte:
      return "ByteStorage";
    case at::kBool:
      return "BoolStorage";
    default:
      throw CheckpointError(std::string("cannot save tensors of type ") + at::toString(type));
  }
}

// Pickle protocol 2, the opcodes torch.save's state dicts use.
class PickleWriter {
 public:
  void proto() { bytes_ += "\x80\x02"; }
  void global(const std::string& module, const std::string& name) {
    bytes_ += 'c' + module + '\n' + name + '\n';
  }
  void mark() { bytes_ += '('; }
  void tuple() { bytes_ += 't'; }
  void empty_tuple() { bytes_ += ')'; }
  void reduce() { bytes_ += 'R'; }
  void setitems() { bytes_ += 'u'; }
  void persistent_id() { bytes_ += 'Q'; }
  void false_() { bytes_ += '\x89'; }
  void stop() { bytes_ += '.'; }
  void string(const std::string& text) {
    bytes_ += 'X';
    append_le(static_cast<uint32_t>(text.size()), 4);
    bytes_ += text;
  }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) {
      bytes_ += 'K';
      append_le(static_cast<uint64_t>(v), 1);
    } else if (v >= 0 && v < 65536) {
      bytes_ += 'M';
      append_le(static_cast<uint64_t>(v), 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      bytes_ += 'J';
      append_le(static_cast<uint32_t>(static_cast<int32_t>(v)), 4);
    } else {
      bytes_ += '\x8a';  // LONG1: 8 bytes, two's complement, little endian
      bytes_ += '\x08';
      append_le(static_cast<uint64_t>(v), 8);
    }
  }
  void ordered_dict() {
    global("collections", "OrderedDict");
    empty_tuple();
    reduce();
  }
  const std::string& bytes() const { return bytes_; }

 private:
  void append_le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) bytes_ += static_cast<char>((v >> (8 * i)) & 0xff);
  }
  std::string bytes_;
};

// A stored-entry zip writer (no zip64: entries and archive below 4 GiB).
class ZipWriter {
 public:
  explicit ZipWriter(TemporaryFile& file) : file_(file) {}

  void add(const std::string& name, const void* data, uint64_t size) {
    if (size >= 0xffffffffu || offset_ + size >= 0xffffffffu)
      throw CheckpointError("checkpoints of 4 GiB and more need zip64, which is not written");
    const uint32_t crc = zip_crc32(data, size);
    // Local header (30 bytes) + name + an "FB" padding field that puts the data on 64 bytes.
    const uint64_t unpadded = offset_ + 30 + name.size() + 4;
    const uint16_t pad = static_cast<uint16_t>((64 - unpadded % 64) % 64);
    std::string h;
    put(h, 0x04034b50, 4);
    put(h, 20, 2);    // version needed
    put(h, 0, 2);     // flags
    put(h, 0, 2);     // stored
    put(h, 0, 2);     // time
    put(h, 0x21, 2);  // date 1980-01-01
    put(h, crc, 4);
    put(h, size, 4);
    put(h, size, 4);
    put(h, name.size(), 2);
    put(h, 4 + pad, 2);
    h += name;
    put(h, 0x4246, 2);  // "FB"
    put(h, pad, 2);
    h.append(pad, 'Z');
    entries_.push_back({name, crc, size, offset_});
    write(h.data(), h.size());
    write(data, size);
  }

  void finish() {
    const uint64_t directory = offset_;
    std::string d;
    for (const auto& e : entries_) {
      put(d, 0x02014b50, 4);
      put(d, 20, 2);  // made by
      put(d, 20, 2);  // needed
      put(d, 0, 2);
      put(d, 0, 2);
      put(d, 0, 2);
      put(d, 0x21, 2);
      put(d, e.crc, 4);
      put(d, e.size, 4);
      put(d, e.size, 4);
      put(d, e.name.size(), 2);
      put(d, 0, 2);  // extra
      put(d, 0, 2);  // comment
      put(d, 0, 2);  // disk
      put(d, 0, 2);  // internal attributes
      put(d, 0, 4);  // external attributes
      put(d, e.offset, 4);
      d += e.name;
    }
    put(d, 0x06054b50, 4);
    put(d, 0, 2);
    put(d, 0, 2);
    put(d, entries_.size(), 2);
    put(d, entries_.size(), 2);
    put(d, d.size() - 22 + 0, 4);  // patched below
    put(d, directory, 4);
    put(d, 0, 2);
    // The directory's size excludes the 22-byte end record.
    const uint64_t directory_size = d.size() - 22;
    for (int i = 0; i < 4; ++i)
      d[d.size() - 10 + i] = static_cast<char>((directory_size >> (8 * i)) & 0xff);
    if (offset_ + d.size() >= 0xffffffffu || entries_.size() >= 0xffff)
      throw CheckpointError("checkpoints of 4 GiB and more need zip64, which is not written");
    write(d.data(), d.size());
  }

 private:
  struct Entry {
    std::string name;
    uint32_t crc;
    uint64_t size, offset;
  };
  static void put(std::string& s, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
  }
  void write(const void* data, uint64_t size) {
    file_.write(data, size);
    offset_ += size;
  }
  TemporaryFile& file_;
  std::vector<Entry> entries_;
  uint64_t offset_ = 0;
};

}  // namespace

void save_torch_checkpoint(const std::string& path, const TensorMap& tensors) {
  try {
    std::vector<at::Tensor> storages;
    PickleWriter p;
    p.proto();
    p.ordered_dict();
    p.mark();
    for (const auto& [name, tensor] : tensors) {
      at::Tensor data = tensor.detach().to(at::kCPU).contiguous();
      const std::string index = std::to_string(storages.size());
      p.string(name);
      p.global("torch._utils", "_rebuild_tensor_v2");
      p.mark();
      p.mark();
      p.string("storage");
      p.global("torch", storage_type(data.scalar_type()));
      p.string(index);
      p.string("cpu");
      p.integer(data.numel());
      p.tuple();
      p.persistent_id();
      p.integer(0);  // storage offset
      p.mark();
      for (const int64_t s : data.sizes()) p.integer(s);
      p.tuple();
      p.mark();
      for (const int64_t s : data.strides()) p.integer(s);
      p.tuple();
      p.false_();        // requires_grad
      p.ordered_dict();  // backward hooks
      p.tuple();
      p.reduce();
      storages.push_back(std::move(data));
    }
    p.setitems();
    p.stop();

    TemporaryFile file(path);
    ZipWriter zip(file);
    zip.add("archive/data.pkl", p.bytes().data(), p.bytes().size());
    zip.add("archive/byteorder", "little", 6);
    for (std::size_t i = 0; i < storages.size(); ++i) {
      const at::Tensor& s = storages[i];
      zip.add("archive/data/" + std::to_string(i), s.numel() ? s.data_ptr() : "",
              static_cast<uint64_t>(s.numel()) * s.element_size());
    }
    zip.add("archive/version", "3\n", 2);
    zip.finish();
    file.commit(path);
  } catch (const CheckpointError& error) {
    throw CheckpointError(path + ": " + error.what());
  }
}

}  // namespace terramind
