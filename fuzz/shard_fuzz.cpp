// Fuzz target: a training shard (training/src/tar_archive.cpp, array_codec.cpp,
// sample_record.cpp): the input is read as a tar and every member decoded as tm_shards verify
// does ("<key>.json" records, "<key>.<modality>.npy.gz" arrays). Decoded arrays must survive
// encode_npy -> decode_npy unchanged, and records to_json -> record_from_json.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.h"
#include "tm/shards.h"

using namespace terramind::shards;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static tm_fuzz::MemoryFile file;
  const std::string& path = file.write(data, size);
  try {
    TarReader tar(path);
    TarMember member;
    std::vector<std::uint8_t> bytes;
    for (int n = 0; n < 64 && tar.next(member, &bytes); ++n) {
      const auto dot = member.name.find('.');
      const std::string ext = dot == std::string::npos ? "" : member.name.substr(dot + 1);
      try {
        if (ext == "json") {
          const SampleRecord r = record_from_json(std::string(bytes.begin(), bytes.end()), "m");
          const SampleRecord again = record_from_json(to_json(r), "again");
          if (again.key != r.key || again.geotransform != r.geotransform ||
              again.width != r.width || again.sources != r.sources)
            tm_fuzz::invariant_failed("record round trip changed it", member.name);
        } else {
          // Arrays: gzip'd or not (the fuzzer finds raw .npy bodies faster).
          std::vector<std::uint8_t> npy = bytes;
          if (bytes.size() > 2 && bytes[0] == 0x1f && bytes[1] == 0x8b)
            npy = gzip_decompress(bytes.data(), bytes.size(), "m", 64 << 20);
          const Array a = decode_npy(npy.data(), npy.size(), "m");
          const auto encoded = encode_npy(a);
          if (!(decode_npy(encoded.data(), encoded.size(), "again") == a))
            tm_fuzz::invariant_failed("npy round trip changed the array", member.name);
        }
      } catch (const FormatError&) {
      }
    }
  } catch (const FormatError&) {
  }
  return 0;
}
