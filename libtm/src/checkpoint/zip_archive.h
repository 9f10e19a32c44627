// Minimal read-only zip reader for torch.save archives (internal to tm_model).
//
// torch.save writes stored (uncompressed) entries, always with zip64 end records and with data
// descriptors (the local headers carry zero sizes), so sizes come from the central directory.
// Every offset and size is bounds-checked against the file, and every entry read is checked
// against the CRC-32 of the central directory (as Python's zipfile does); problems throw
// CheckpointError (without the path: the caller adds it).
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace terramind::checkpoint_detail {

// CRC-32 (IEEE, as zip): continues `crc` (0 for a new stream) over `size` bytes.
uint32_t zip_crc32(const void* data, std::size_t size, uint32_t crc = 0);

class ZipArchive {
 public:
  struct Entry {
    std::string name;
    uint16_t flags = 0;
    uint16_t method = 0;  // 0 = stored
    uint64_t compressed_size = 0;
    uint64_t size = 0;
    uint64_t local_header_offset = 0;
    uint32_t crc32 = 0;  // of the uncompressed data, from the central directory
  };

  explicit ZipArchive(const std::string& path);

  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(const std::string& name) const;

  // The first `bytes` bytes of a stored entry, written to `destination`. The whole entry is
  // checked against its CRC-32 (the rest is read, not kept).
  void read_into(const Entry& entry, void* destination, uint64_t bytes);
  std::string read(const Entry& entry);

 private:
  void read_at(uint64_t offset, void* destination, uint64_t bytes);
  void read_central_directory();
  uint64_t data_offset(const Entry& entry);
  // Throws unless `crc` (of the whole entry) matches the directory's.
  static void check_crc(const Entry& entry, uint32_t crc);

  std::ifstream file_;
  uint64_t file_size_ = 0;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace terramind::checkpoint_detail
