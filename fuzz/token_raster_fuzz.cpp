// Fuzz target: token raster metadata (TokenRasterMetadata::from_metadata in
// tiling/src/token_raster.cpp), the GDAL metadata items tm_tokenize reads back. Input: "KEY=VALUE"
// lines. Parsed metadata must survive to_metadata -> from_metadata unchanged.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <stdexcept>

#include "fuzz_support.h"
#include "tm/token_raster.h"

namespace {

bool same(const terramind::TokenRasterMetadata& a, const terramind::TokenRasterMetadata& b) {
  return a.modality == b.modality && a.tokenizer == b.tokenizer &&
         a.tokenizer_card == b.tokenizer_card && a.fsq_levels == b.fsq_levels &&
         a.vocab_size == b.vocab_size && a.patch_size == b.patch_size &&
         a.tile_size == b.tile_size && a.source_width == b.source_width &&
         a.source_height == b.source_height;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  std::map<std::string, std::string> items;
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) items[line.substr(0, eq)] = line.substr(eq + 1);
  }
  terramind::TokenRasterMetadata meta;
  try {
    meta = terramind::TokenRasterMetadata::from_metadata(items, "fuzz.tif");
  } catch (const std::runtime_error&) {
    return 0;
  }
  try {
    const auto again =
        terramind::TokenRasterMetadata::from_metadata(meta.to_metadata(), "fuzz.tif");
    if (!same(meta, again)) tm_fuzz::invariant_failed("round trip changed the metadata", "");
  } catch (const std::runtime_error& e) {
    tm_fuzz::invariant_failed("to_metadata output does not parse", e.what());
  }
  return 0;
}
