// POSIX ustar archives written and read through GDAL's virtual file systems (tm/shards.h).
//
// Written members are reproducible: mode 0644, mtime 0, owner "tm", so the same samples give
// the same bytes (and sha256) on every build.
#include <cpl_vsi.h>

#include <cstring>

#include "tm/shards.h"

namespace terramind::shards {
namespace {

constexpr std::size_t kBlock = 512;

void put_octal(char* field, std::size_t width, std::uint64_t value) {
  // width-1 octal digits and a NUL.
  for (std::size_t i = width - 1; i-- > 0;) {
    field[i] = static_cast<char>('0' + (value & 7));
    value >>= 3;
  }
  field[width - 1] = '\0';
}

std::uint64_t parse_number(const unsigned char* field, std::size_t width, bool& ok) {
  ok = true;
  if (field[0] & 0x80) {  // GNU base-256 for sizes beyond 8 GiB
    std::uint64_t v = field[0] & 0x7f;
    for (std::size_t i = 1; i < width; ++i) v = (v << 8) | field[i];
    return v;
  }
  std::uint64_t v = 0;
  std::size_t i = 0;
  while (i < width && (field[i] == ' ' || field[i] == '\0')) ++i;
  bool digits = false;
  for (; i < width && field[i] >= '0' && field[i] <= '7'; ++i) {
    v = (v << 3) | static_cast<std::uint64_t>(field[i] - '0');
    digits = true;
  }
  for (; i < width; ++i)
    if (field[i] != ' ' && field[i] != '\0') ok = false;
  if (!digits) ok = false;
  return v;
}

std::string field_string(const unsigned char* field, std::size_t width) {
  std::size_t n = 0;
  while (n < width && field[n] != '\0') ++n;
  return std::string(reinterpret_cast<const char*>(field), n);
}

bool checksum_ok(const unsigned char* h) {
  bool ok;
  const std::uint64_t stored = parse_number(h + 148, 8, ok);
  if (!ok) return false;
  std::uint64_t unsigned_sum = 0;
  std::int64_t signed_sum = 0;
  for (std::size_t i = 0; i < kBlock; ++i) {
    const unsigned char c = (i >= 148 && i < 156) ? ' ' : h[i];
    unsigned_sum += c;
    signed_sum += static_cast<signed char>(c);
  }
  return stored == unsigned_sum || static_cast<std::int64_t>(stored) == signed_sum;
}

// "path=..." of a pax extended header, or "".
std::string pax_path(const std::vector<std::uint8_t>& data) {
  std::size_t p = 0;
  while (p < data.size()) {
    std::size_t sp = p;
    while (sp < data.size() && data[sp] != ' ') ++sp;
    if (sp >= data.size()) break;
    std::size_t len = 0;
    for (std::size_t i = p; i < sp; ++i) {
      if (data[i] < '0' || data[i] > '9') return "";
      len = len * 10 + (data[i] - '0');
    }
    if (len == 0 || p + len > data.size()) break;
    const std::string record(reinterpret_cast<const char*>(data.data() + sp + 1), p + len - sp - 2);
    if (record.rfind("path=", 0) == 0) return record.substr(5);
    p += len;
  }
  return "";
}

}  // namespace

// ---------------------------------------------------------------------------------------------

TarWriter::TarWriter(const std::string& path) : path_(path) {
  file_ = VSIFOpenL(path.c_str(), "wb");
  if (!file_) throw std::runtime_error(path + ": cannot create the shard file");
}

TarWriter::~TarWriter() {
  if (file_) VSIFCloseL(static_cast<VSILFILE*>(file_));
}

void TarWriter::write(const void* data, std::size_t size) {
  if (size == 0) return;
  if (VSIFWriteL(data, 1, size, static_cast<VSILFILE*>(file_)) != size)
    throw std::runtime_error(path_ + ": write failed (disk full?)");
  offset_ += size;
}

void TarWriter::add(const std::string& name, const std::uint8_t* data, std::size_t size) {
  if (!file_) throw std::logic_error(path_ + ": tar already closed");
  char h[kBlock] = {};
  std::string prefix, base = name;
  if (name.size() > 100) {
    const auto slash = name.rfind('/', 155);
    if (slash == std::string::npos || name.size() - slash - 1 > 100 || slash == 0)
      throw std::invalid_argument(path_ + ": member name too long for ustar: " + name);
    prefix = name.substr(0, slash);
    base = name.substr(slash + 1);
  }
  std::memcpy(h, base.data(), base.size());
  put_octal(h + 100, 8, 0644);
  put_octal(h + 108, 8, 0);
  put_octal(h + 116, 8, 0);
  if (size >= (std::uint64_t{1} << 33)) throw std::invalid_argument(name + ": member over 8 GiB");
  put_octal(h + 124, 12, size);
  put_octal(h + 136, 12, 0);
  h[156] = '0';
  std::memcpy(h + 257, "ustar", 6);
  std::memcpy(h + 263, "00", 2);
  std::memcpy(h + 265, "tm", 2);
  std::memcpy(h + 297, "tm", 2);
  std::memcpy(h + 345, prefix.data(), prefix.size());
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  put_octal(h + 148, 7, sum);
  h[155] = ' ';
  write(h, kBlock);
  write(data, size);
  static const char zeros[kBlock] = {};
  write(zeros, (kBlock - size % kBlock) % kBlock);
}

void TarWriter::close() {
  if (!file_) return;
  static const char zeros[2 * kBlock] = {};
  write(zeros, sizeof zeros);
  const int rc = VSIFCloseL(static_cast<VSILFILE*>(file_));
  file_ = nullptr;
  if (rc != 0) throw std::runtime_error(path_ + ": close failed (disk full?)");
}

// ---------------------------------------------------------------------------------------------

TarReader::TarReader(const std::string& path) : path_(path) {
  VSIStatBufL st;
  if (VSIStatL(path.c_str(), &st) != 0) throw FormatError(path + ": no such shard file");
  file_size_ = static_cast<std::uint64_t>(st.st_size);
  file_ = VSIFOpenL(path.c_str(), "rb");
  if (!file_) throw FormatError(path + ": cannot open the shard file");
}

TarReader::~TarReader() {
  if (file_) VSIFCloseL(static_cast<VSILFILE*>(file_));
}

bool TarReader::read_exact(void* out, std::size_t size) {
  if (size == 0) return true;
  const std::size_t got = VSIFReadL(out, 1, size, static_cast<VSILFILE*>(file_));
  offset_ += got;
  return got == size;
}

void TarReader::skip_to(std::uint64_t offset) {
  if (offset == offset_) return;
  if (VSIFSeekL(static_cast<VSILFILE*>(file_), offset, SEEK_SET) != 0)
    throw FormatError(path_ + ": seek failed at offset " + std::to_string(offset));
  offset_ = offset;
}

bool TarReader::next_header(TarMember& member) {
  if (skip_pending_) {
    skip_to(pending_end_);
    skip_pending_ = false;
  }
  std::string long_name;
  while (true) {
    if (offset_ >= file_size_) {
      // No end-of-archive blocks: accepted (some writers omit them), but a header may not be cut.
      return false;
    }
    unsigned char h[kBlock];
    const std::uint64_t header_at = offset_;
    if (!read_exact(h, kBlock))
      throw FormatError(path_ + ": truncated tar (header at offset " + std::to_string(header_at) +
                        " cut short)");
    bool zero = true;
    for (unsigned char c : h) zero = zero && c == 0;
    if (zero) return false;  // end of archive
    if (!checksum_ok(h))
      throw FormatError(path_ + (header_at == 0 ? ": not a tar archive (bad header checksum)"
                                                : ": corrupt tar (bad header checksum at offset " +
                                                      std::to_string(header_at) + ")"));
    bool ok;
    const std::uint64_t size = parse_number(h + 124, 12, ok);
    if (!ok)
      throw FormatError(path_ + ": corrupt tar (bad size field at offset " +
                        std::to_string(header_at) + ")");
    const std::uint64_t data_at = offset_;
    const std::uint64_t padded = (size + kBlock - 1) / kBlock * kBlock;
    if (data_at + size > file_size_)
      throw FormatError(path_ + ": truncated tar (member at offset " + std::to_string(header_at) +
                        " needs " + std::to_string(size) + " bytes, the file ends after " +
                        std::to_string(file_size_ - data_at) + ")");
    const char type = static_cast<char>(h[156]);
    std::string name = field_string(h, 100);
    if (std::memcmp(h + 257, "ustar", 5) == 0) {
      const std::string prefix = field_string(h + 345, 155);
      if (!prefix.empty()) name = prefix + "/" + name;
    }
    if (type == 'L' || type == 'x') {  // GNU long name / pax header: names the next member
      if (size > (1u << 20)) throw FormatError(path_ + ": corrupt tar (oversized name record)");
      std::vector<std::uint8_t> record(size);
      if (!read_exact(record.data(), size)) throw FormatError(path_ + ": truncated tar");
      skip_to(data_at + padded);
      if (type == 'L') {
        long_name.assign(record.begin(), record.end());
        while (!long_name.empty() && long_name.back() == '\0') long_name.pop_back();
      } else {
        const std::string p = pax_path(record);
        if (!p.empty()) long_name = p;
      }
      continue;
    }
    if (type != '0' && type != '\0' && type != '7') {  // directories, links, global headers
      skip_to(data_at + padded);
      long_name.clear();
      continue;
    }
    member.name = long_name.empty() ? name : long_name;
    member.size = size;
    member.data_offset = data_at;
    pending_ = member;
    skip_pending_ = true;
    pending_end_ = data_at + padded;
    return true;
  }
}

void TarReader::read_data(std::vector<std::uint8_t>& data) {
  if (!skip_pending_) throw std::logic_error(path_ + ": read_data without a pending member");
  skip_to(pending_.data_offset);
  data.resize(pending_.size);
  if (!read_exact(data.data(), data.size()))
    throw FormatError(path_ + ": truncated tar (member " + pending_.name + " cut short)");
  bytes_read_ += data.size();
  skip_to(pending_end_);
  skip_pending_ = false;
}

bool TarReader::next(TarMember& member, std::vector<std::uint8_t>* data) {
  if (!next_header(member)) return false;
  if (data) read_data(*data);
  return true;
}

}  // namespace terramind::shards
