// Token raster metadata (tm/token_raster.h).
#include "tm/token_raster.h"

#include <gdal.h>

#include <stdexcept>

#include "gdal_session.h"
#include "tm/ascii_strings.h"
#include "tm/raster_io.h"

namespace terramind {

namespace {

constexpr const char* kPrefix = "TM_";

int to_int(const std::string& text, const std::string& key, const std::string& path) {
  try {
    std::size_t used = 0;
    const int value = std::stoi(text, &used);
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  throw std::runtime_error(path + ": token raster metadata " + key + "='" + text +
                           "' is not a number");
}

}  // namespace

std::map<std::string, std::string> TokenRasterMetadata::to_metadata() const {
  const std::string p = kPrefix;
  return {{p + "FORMAT", kFormat},
          {p + "MODALITY", modality},
          {p + "TOKENIZER", tokenizer},
          {p + "TOKENIZER_CARD", tokenizer_card},
          {p + "FSQ_LEVELS", join(fsq_levels, "-")},
          {p + "VOCAB_SIZE", std::to_string(vocab_size)},
          {p + "PATCH_SIZE", std::to_string(patch_size)},
          {p + "TILE_SIZE", std::to_string(tile_size)},
          {p + "SOURCE_WIDTH", std::to_string(source_width)},
          {p + "SOURCE_HEIGHT", std::to_string(source_height)}};
}

TokenRasterMetadata TokenRasterMetadata::from_metadata(
    const std::map<std::string, std::string>& items, const std::string& path) {
  const std::string p = kPrefix;
  const auto get = [&](const std::string& key) {
    const auto it = items.find(p + key);
    if (it == items.end())
      throw std::runtime_error(path + " is not a token raster written by tm_tokenize (no " + p +
                               key + " metadata)");
    return it->second;
  };
  if (get("FORMAT") != kFormat)
    throw std::runtime_error(path + ": unsupported token raster format '" + get("FORMAT") + "'");
  TokenRasterMetadata m;
  m.modality = get("MODALITY");
  m.tokenizer = get("TOKENIZER");
  m.tokenizer_card = get("TOKENIZER_CARD");
  const std::string levels = get("FSQ_LEVELS");
  for (std::size_t start = 0; start <= levels.size();) {
    const auto dash = levels.find('-', start);
    m.fsq_levels.push_back(to_int(levels.substr(start, dash - start), p + "FSQ_LEVELS", path));
    if (dash == std::string::npos) break;
    start = dash + 1;
  }
  m.vocab_size = to_int(get("VOCAB_SIZE"), p + "VOCAB_SIZE", path);
  m.patch_size = to_int(get("PATCH_SIZE"), p + "PATCH_SIZE", path);
  m.tile_size = to_int(get("TILE_SIZE"), p + "TILE_SIZE", path);
  m.source_width = to_int(get("SOURCE_WIDTH"), p + "SOURCE_WIDTH", path);
  m.source_height = to_int(get("SOURCE_HEIGHT"), p + "SOURCE_HEIGHT", path);
  return m;
}

std::map<std::string, std::string> read_raster_metadata(const std::string& path) {
  ensure_gdal_registered();
  GDALDatasetH ds =
      GDALOpenEx(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr, nullptr, nullptr);
  if (!ds) throw RasterError(path + " is not a raster GDAL can read");
  std::map<std::string, std::string> items;
  if (char** list = GDALGetMetadata(ds, nullptr)) {
    for (char** item = list; *item; ++item) {
      const std::string text = *item;
      const auto eq = text.find('=');
      if (eq != std::string::npos) items[text.substr(0, eq)] = text.substr(eq + 1);
    }
  }
  GDALClose(ds);
  return items;
}

}  // namespace terramind
