// Zip central-directory reader with zip64 support; see zip_archive.h.
#include "zip_archive.h"

#include <algorithm>
#include <array>
#include <cstdio>

#include "byte_order.h"
#include "tm/model.h"

namespace terramind::checkpoint_detail {

namespace {

constexpr uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr uint32_t kEndSignature = 0x06054b50;
constexpr uint32_t kZip64EndSignature = 0x06064b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr uint64_t kEndSize = 22;
constexpr uint64_t kZip64EndSize = 56;
constexpr uint64_t kZip64LocatorSize = 20;
constexpr uint64_t kCentralHeaderSize = 46;
constexpr uint64_t kLocalHeaderSize = 30;
constexpr uint64_t kMaxCommentSize = 0xffff;

// Where the central directory is, from the end records.
struct CentralDirectory {
  uint64_t entries = 0;
  uint64_t size = 0;
  uint64_t offset = 0;
  uint64_t end = 0;  // first byte after it (start of the end records)
};

// Replaces saturated 32-bit fields with the values of a zip64 extended-information extra field.
void apply_zip64_extra(const unsigned char* extra, std::size_t length, ZipArchive::Entry& entry,
                       bool size_saturated, bool compressed_saturated, bool offset_saturated) {
  std::size_t pos = 0;
  while (pos + 4 <= length) {
    uint16_t id = read_u16le(extra + pos);
    uint16_t field_size = read_u16le(extra + pos + 2);
    pos += 4;
    if (pos + field_size > length) break;
    if (id == 0x0001) {
      std::size_t field_pos = pos, field_end = pos + field_size;
      auto take = [&](uint64_t& value) {
        if (field_pos + 8 > field_end) throw CheckpointError("corrupt zip64 extra field");
        value = read_u64le(extra + field_pos);
        field_pos += 8;
      };
      if (size_saturated) take(entry.size);
      if (compressed_saturated) take(entry.compressed_size);
      if (offset_saturated) take(entry.local_header_offset);
      return;
    }
    pos += field_size;
  }
  if (size_saturated || compressed_saturated || offset_saturated)
    throw CheckpointError("zip entry '" + entry.name + "' lacks its zip64 extra field");
}

// CRC-32 (IEEE 802.3, reflected polynomial 0xedb88320, as zip and zlib), slicing by 16: sixteen
// 256-entry tables, sixteen bytes per step (about zlib's speed, 2-3 GB/s on one core).
class Crc32 {
 public:
  Crc32() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int bit = 0; bit < 8; ++bit) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
      t_[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i)
      for (std::size_t t = 1; t < kSlices; ++t)
        t_[t][i] = (t_[t - 1][i] >> 8) ^ t_[0][t_[t - 1][i] & 0xff];
  }

  // Continues `crc` (0 for a new stream) over `size` bytes.
  uint32_t update(uint32_t crc, const void* data, std::size_t size) const {
    const auto* p = static_cast<const unsigned char*>(data);
    uint32_t c = ~crc;
    for (; size >= kSlices; size -= kSlices, p += kSlices) {
      const uint32_t w =
          c ^ (uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24);
      c = t_[15][w & 0xff] ^ t_[14][(w >> 8) & 0xff] ^ t_[13][(w >> 16) & 0xff] ^ t_[12][w >> 24] ^
          t_[11][p[4]] ^ t_[10][p[5]] ^ t_[9][p[6]] ^ t_[8][p[7]] ^ t_[7][p[8]] ^ t_[6][p[9]] ^
          t_[5][p[10]] ^ t_[4][p[11]] ^ t_[3][p[12]] ^ t_[2][p[13]] ^ t_[1][p[14]] ^ t_[0][p[15]];
    }
    for (; size > 0; --size, ++p) c = (c >> 8) ^ t_[0][(c ^ *p) & 0xff];
    return ~c;
  }

 private:
  static constexpr std::size_t kSlices = 16;
  std::array<std::array<uint32_t, 256>, kSlices> t_{};
};

const Crc32& crc32_tables() {
  static const Crc32 tables;
  return tables;
}

}  // namespace

uint32_t zip_crc32(const void* data, std::size_t size, uint32_t crc) {
  return crc32_tables().update(crc, data, size);
}

namespace {

std::string hex32(uint32_t value) {
  char text[11];
  std::snprintf(text, sizeof text, "0x%08x", value);
  return text;
}

}  // namespace

ZipArchive::ZipArchive(const std::string& path) {
  file_.open(path, std::ios::binary);
  if (!file_) throw CheckpointError("cannot open file");
  file_.seekg(0, std::ios::end);
  std::streamoff end = file_.tellg();
  if (end < 0) throw CheckpointError("cannot determine the file size");
  file_size_ = static_cast<uint64_t>(end);
  read_central_directory();
}

void ZipArchive::read_at(uint64_t offset, void* destination, uint64_t bytes) {
  if (offset > file_size_ || bytes > file_size_ - offset)
    throw CheckpointError("read of " + std::to_string(bytes) + " bytes at offset " +
                          std::to_string(offset) + " runs past the end of the file (" +
                          std::to_string(file_size_) + " bytes): file truncated?");
  if (bytes == 0) return;
  file_.clear();
  file_.seekg(static_cast<std::streamoff>(offset));
  file_.read(static_cast<char*>(destination), static_cast<std::streamsize>(bytes));
  if (!file_ || static_cast<uint64_t>(file_.gcount()) != bytes)
    throw CheckpointError("I/O error reading " + std::to_string(bytes) + " bytes at offset " +
                          std::to_string(offset));
}

void ZipArchive::read_central_directory() {
  if (file_size_ < kEndSize)
    throw CheckpointError("not a zip archive (" + std::to_string(file_size_) + " bytes)");

  // The end record sits in the last 22 + comment bytes; scan backwards for its signature.
  uint64_t tail_size = std::min(file_size_, kEndSize + kMaxCommentSize);
  std::vector<unsigned char> tail(tail_size);
  read_at(file_size_ - tail_size, tail.data(), tail_size);
  int64_t found = -1;
  for (int64_t i = static_cast<int64_t>(tail_size - kEndSize); i >= 0; --i) {
    if (read_u32le(&tail[i]) == kEndSignature) {
      found = i;
      break;
    }
  }
  if (found < 0)
    throw CheckpointError(
        "not a zip archive (no end-of-central-directory record; truncated file, or a legacy "
        "non-zip torch.save file?)");
  const unsigned char* record = &tail[found];
  uint64_t end_offset = file_size_ - tail_size + static_cast<uint64_t>(found);

  CentralDirectory directory;
  directory.entries = read_u16le(record + 10);
  directory.size = read_u32le(record + 12);
  directory.offset = read_u32le(record + 16);
  directory.end = end_offset;
  if (directory.entries == 0xffff || directory.size == 0xffffffffu ||
      directory.offset == 0xffffffffu) {
    if (end_offset < kZip64LocatorSize) throw CheckpointError("zip64 locator missing");
    unsigned char locator[kZip64LocatorSize];
    read_at(end_offset - kZip64LocatorSize, locator, kZip64LocatorSize);
    if (read_u32le(locator) != kZip64LocatorSignature)
      throw CheckpointError("zip64 end-of-central-directory locator missing");
    uint64_t zip64_offset = read_u64le(locator + 8);
    unsigned char zip64[kZip64EndSize];
    read_at(zip64_offset, zip64, kZip64EndSize);
    if (read_u32le(zip64) != kZip64EndSignature)
      throw CheckpointError("corrupt zip64 end-of-central-directory record");
    directory.entries = read_u64le(zip64 + 32);
    directory.size = read_u64le(zip64 + 40);
    directory.offset = read_u64le(zip64 + 48);
    directory.end = zip64_offset;
  }
  if (directory.offset > directory.end || directory.size > directory.end - directory.offset)
    throw CheckpointError("corrupt zip central directory (it lies outside the file)");
  if (directory.entries > directory.size / kCentralHeaderSize)
    throw CheckpointError("corrupt zip central directory (entry count too large)");

  std::vector<unsigned char> bytes(directory.size);
  read_at(directory.offset, bytes.data(), directory.size);
  std::size_t pos = 0;
  entries_.reserve(directory.entries);
  for (uint64_t i = 0; i < directory.entries; ++i) {
    if (pos + kCentralHeaderSize > bytes.size() ||
        read_u32le(&bytes[pos]) != kCentralHeaderSignature)
      throw CheckpointError("corrupt zip central directory (entry " + std::to_string(i) + ")");
    const unsigned char* header = &bytes[pos];
    std::size_t name_length = read_u16le(header + 28);
    std::size_t extra_length = read_u16le(header + 30);
    std::size_t comment_length = read_u16le(header + 32);
    std::size_t variable = name_length + extra_length + comment_length;
    if (pos + kCentralHeaderSize + variable > bytes.size())
      throw CheckpointError("corrupt zip central directory (entry " + std::to_string(i) + ")");
    Entry entry;
    entry.flags = read_u16le(header + 8);
    entry.method = read_u16le(header + 10);
    entry.crc32 = read_u32le(header + 16);
    entry.compressed_size = read_u32le(header + 20);
    entry.size = read_u32le(header + 24);
    entry.local_header_offset = read_u32le(header + 42);
    entry.name.assign(reinterpret_cast<const char*>(header + kCentralHeaderSize), name_length);
    apply_zip64_extra(header + kCentralHeaderSize + name_length, extra_length, entry,
                      entry.size == 0xffffffffu, entry.compressed_size == 0xffffffffu,
                      entry.local_header_offset == 0xffffffffu);
    index_.emplace(entry.name, entries_.size());  // first entry wins on duplicate names
    entries_.push_back(std::move(entry));
    pos += kCentralHeaderSize + variable;
  }
}

const ZipArchive::Entry* ZipArchive::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

uint64_t ZipArchive::data_offset(const Entry& entry) {
  if (entry.flags & 0x1) throw CheckpointError("zip entry '" + entry.name + "' is encrypted");
  if (entry.method != 0)
    throw CheckpointError("zip entry '" + entry.name + "' is compressed (method " +
                          std::to_string(entry.method) +
                          "); torch checkpoints store entries uncompressed");
  if (entry.compressed_size != entry.size)
    throw CheckpointError("zip entry '" + entry.name + "' has inconsistent sizes");
  unsigned char header[kLocalHeaderSize];
  read_at(entry.local_header_offset, header, kLocalHeaderSize);
  if (read_u32le(header) != kLocalHeaderSignature)
    throw CheckpointError("corrupt local header of zip entry '" + entry.name + "'");
  uint64_t offset = entry.local_header_offset + kLocalHeaderSize + read_u16le(header + 26) +
                    read_u16le(header + 28);
  if (offset > file_size_ || entry.size > file_size_ - offset)
    throw CheckpointError("zip entry '" + entry.name + "' runs past the end of the file (" +
                          std::to_string(file_size_) + " bytes): file truncated?");
  return offset;
}

void ZipArchive::check_crc(const Entry& entry, uint32_t crc) {
  if (crc != entry.crc32)
    throw CheckpointError("checkpoint is corrupt: entry '" + entry.name +
                          "' fails its CRC-32 check (the zip directory records " +
                          hex32(entry.crc32) + ", its data gives " + hex32(crc) + ")");
}

void ZipArchive::read_into(const Entry& entry, void* destination, uint64_t bytes) {
  if (bytes > entry.size)
    throw CheckpointError("zip entry '" + entry.name + "' has " + std::to_string(entry.size) +
                          " bytes, " + std::to_string(bytes) + " needed");
  const uint64_t offset = data_offset(entry);
  read_at(offset, destination, bytes);
  // The CRC covers the whole entry: bytes past what the caller needs are read in chunks.
  uint32_t crc = crc32_tables().update(0, destination, bytes);
  std::vector<unsigned char> rest;
  for (uint64_t done = bytes; done < entry.size;) {
    const uint64_t chunk = std::min<uint64_t>(entry.size - done, uint64_t{1} << 20);
    rest.resize(chunk);
    read_at(offset + done, rest.data(), chunk);
    crc = crc32_tables().update(crc, rest.data(), chunk);
    done += chunk;
  }
  check_crc(entry, crc);
}

std::string ZipArchive::read(const Entry& entry) {
  // The size is checked against the file before allocating.
  uint64_t offset = data_offset(entry);
  std::string text(entry.size, '\0');
  read_at(offset, text.data(), entry.size);
  check_crc(entry, crc32_tables().update(0, text.data(), text.size()));
  return text;
}

}  // namespace terramind::checkpoint_detail
