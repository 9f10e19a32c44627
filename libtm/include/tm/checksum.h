// tm/checksum.h — SHA-256 of files and bytes (public header of tm_registry; no LibTorch).
//
// For provenance (which checkpoint made a raster) and for verifying downloaded models.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace terramind {

// Incremental SHA-256 (FIPS 180-4).
class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t size);
  std::string hex_digest();  // 64 lower-case hex digits; the object is spent afterwards

 private:
  void block(const std::uint8_t* chunk);
  std::uint32_t state_[8];
  std::uint8_t buffer_[64];
  std::size_t buffered_ = 0;
  std::uint64_t length_ = 0;  // bytes hashed
};

std::string sha256_hex(const std::string& bytes);
// Throws std::runtime_error naming the file when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace terramind
