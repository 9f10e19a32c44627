// Fuzz target: the zip reader behind .pt checkpoints (libtm/src/checkpoint/zip_archive.cpp).
#include <cstddef>
#include <cstdint>

#include "checkpoint/zip_archive.h"
#include "fuzz_support.h"
#include "tm/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static tm_fuzz::MemoryFile file;
  const std::string& path = file.write(data, size);
  try {
    terramind::checkpoint_detail::ZipArchive archive(path);
    int read = 0;
    for (const auto& entry : archive.entries()) {
      if (archive.find(entry.name) == nullptr)
        tm_fuzz::invariant_failed("listed entry not found", entry.name);
      if (++read > 16) break;
      try {
        if (entry.size <= size) {
          const std::string text = archive.read(entry);
          if (text.size() != entry.size) tm_fuzz::invariant_failed("short read", entry.name);
        }
        unsigned char head[8];
        if (entry.size >= sizeof head) archive.read_into(entry, head, sizeof head);
      } catch (const terramind::CheckpointError&) {
      }
    }
  } catch (const terramind::CheckpointError&) {
  }
  return 0;
}
