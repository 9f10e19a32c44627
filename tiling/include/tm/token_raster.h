// tm/token_raster.h — token rasters (part of tm_tiling): one band of FSQ token ids at 1/16 of the
// scene resolution, on the scene's CRS with a geotransform scaled x16, plus metadata that lets
// decoding run without flags. tm_tokenize writes and reads them (tm/scene_tokenizing.h).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace terramind {

struct TokenRasterMetadata {
  static constexpr const char* kFormat = "tm-token-raster/1";

  std::string modality;        // registry name of the tokenized data
  std::string tokenizer;       // tokenizer card name
  std::string tokenizer_card;  // the card as compact JSON, checkpoint path absolute
  std::vector<int> fsq_levels;
  long vocab_size = 0;
  int patch_size = 16;   // pixels per token side
  int tile_size = 224;   // pixels per independently encoded tile side
  int source_width = 0;  // scene size in pixels (the token grid rounds up)
  int source_height = 0;

  // TM_<KEY> items of the raster's default metadata domain.
  std::map<std::string, std::string> to_metadata() const;
  // std::runtime_error naming the raster when it is not a token raster.
  static TokenRasterMetadata from_metadata(const std::map<std::string, std::string>& items,
                                           const std::string& path);
};

// The default-domain metadata items of a raster, for reading token rasters back. RasterError
// when GDAL cannot open it.
std::map<std::string, std::string> read_raster_metadata(const std::string& path);

}  // namespace terramind
