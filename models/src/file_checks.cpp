#include "file_checks.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

namespace terramind {
namespace {

uint64_t little_endian(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

bool read_at(std::ifstream& in, int64_t offset, unsigned char* out, std::size_t count) {
  in.clear();
  in.seekg(offset);
  in.read(reinterpret_cast<char*>(out), static_cast<std::streamsize>(count));
  return static_cast<std::size_t>(in.gcount()) == count;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::string zip_structure_problem(const std::string& path, int64_t size) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "cannot be read";
  constexpr int64_t kEocd = 22, kMaxComment = 65535;
  if (size < kEocd) return "too short for a zip archive (" + std::to_string(size) + " bytes)";
  unsigned char head[4];
  if (!read_at(in, 0, head, 4) || std::memcmp(head, "PK\x03\x04", 4) != 0)
    return "not a zip archive (a .pt checkpoint is one): no local file header at the start";
  const int64_t tail_size = std::min<int64_t>(size, kEocd + kMaxComment);
  std::vector<unsigned char> tail(static_cast<std::size_t>(tail_size));
  if (!read_at(in, size - tail_size, tail.data(), tail.size())) return "cannot be read";
  int64_t eocd = -1;  // offset in `tail`
  for (int64_t i = tail_size - kEocd; i >= 0; --i) {
    const unsigned char* p = tail.data() + i;
    if (std::memcmp(p, "PK\x05\x06", 4) == 0 &&
        i + kEocd + static_cast<int64_t>(little_endian(p + 20, 2)) == tail_size) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0)
    return "incomplete: the zip archive's end-of-central-directory record is missing (a "
           "truncated download?)";
  const unsigned char* e = tail.data() + eocd;
  const int64_t eocd_at = size - tail_size + eocd;
  uint64_t entries = little_endian(e + 10, 2), cd_size = little_endian(e + 12, 4),
           cd_offset = little_endian(e + 16, 4);
  if (entries == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) {  // zip64
    unsigned char locator[20], record[56];
    if (eocd_at < 20 || !read_at(in, eocd_at - 20, locator, 20) ||
        std::memcmp(locator, "PK\x06\x07", 4) != 0)
      return "damaged zip64 archive: no zip64 end-of-central-directory locator";
    const uint64_t record_at = little_endian(locator + 8, 8);
    if (record_at + 56 > static_cast<uint64_t>(eocd_at) ||
        !read_at(in, static_cast<int64_t>(record_at), record, 56) ||
        std::memcmp(record, "PK\x06\x06", 4) != 0)
      return "damaged zip64 archive: no zip64 end-of-central-directory record";
    entries = little_endian(record + 32, 8);
    cd_size = little_endian(record + 40, 8);
    cd_offset = little_endian(record + 48, 8);
  }
  if (entries == 0) return "an empty zip archive";
  if (cd_offset > static_cast<uint64_t>(size) || cd_size > static_cast<uint64_t>(size) - cd_offset)
    return "damaged zip archive: the central directory lies outside the file";
  unsigned char entry[4];
  if (!read_at(in, static_cast<int64_t>(cd_offset), entry, 4) ||
      std::memcmp(entry, "PK\x01\x02", 4) != 0)
    return "damaged zip archive: no central directory where the archive says";
  return "";
}

std::string safetensors_structure_problem(const std::string& path, int64_t size) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "cannot be read";
  unsigned char prefix[8];
  if (size < 8 || !read_at(in, 0, prefix, 8)) return "too short for a safetensors file";
  const uint64_t header_size = little_endian(prefix, 8);
  if (header_size > static_cast<uint64_t>(size) - 8)
    return "incomplete: the safetensors header runs past the end of the file";
  std::string header(static_cast<std::size_t>(header_size), '\0');
  if (!read_at(in, 8, reinterpret_cast<unsigned char*>(header.data()), header.size()))
    return "cannot be read";
  uint64_t end = 0;
  try {
    const auto j = nlohmann::json::parse(header);
    for (const auto& item : j.items()) {
      if (item.key() == "__metadata__") continue;
      end = std::max(end, item.value().at("data_offsets").at(1).get<uint64_t>());
    }
  } catch (const std::exception&) {
    return "damaged safetensors header";
  }
  const uint64_t expected = 8 + header_size + end;
  if (expected != static_cast<uint64_t>(size))
    return "the tensors end at byte " + std::to_string(expected) + " but the file has " +
           std::to_string(size) + (expected > static_cast<uint64_t>(size) ? " (truncated)" : "");
  return "";
}

std::string structure_problem(const std::string& path, int64_t size, std::string* checked) {
  for (const char* suffix : {".pt", ".pth", ".ckpt", ".zip"})
    if (ends_with(path, suffix)) {
      if (checked) *checked = "zip structure";
      return zip_structure_problem(path, size);
    }
  if (ends_with(path, ".safetensors")) {
    if (checked) *checked = "safetensors structure";
    return safetensors_structure_problem(path, size);
  }
  if (checked) checked->clear();
  return "";
}

}  // namespace terramind
