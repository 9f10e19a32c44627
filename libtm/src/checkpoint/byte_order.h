// Little-endian integer decoding for the binary formats read by tm_model (internal).
#pragma once

#include <cstdint>

namespace terramind::checkpoint_detail {

// Every format handled here (zip, pickle, torch storages, safetensors) is little-endian, and so
// are the hosts we build for; storages are copied byte for byte.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "tm_model assumes a little-endian host");

inline uint64_t read_le(const unsigned char* bytes, int count) {
  uint64_t value = 0;
  for (int i = count - 1; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

inline uint16_t read_u16le(const unsigned char* bytes) {
  return static_cast<uint16_t>(read_le(bytes, 2));
}
inline uint32_t read_u32le(const unsigned char* bytes) {
  return static_cast<uint32_t>(read_le(bytes, 4));
}
inline uint64_t read_u64le(const unsigned char* bytes) { return read_le(bytes, 8); }

}  // namespace terramind::checkpoint_detail
