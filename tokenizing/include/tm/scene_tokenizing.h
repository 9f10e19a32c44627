// tm/scene_tokenizing.h — scenes <-> token rasters with an image tokenizer, tile by tile (public
// header of tm_tokenizing; tm_tokenize is a thin program over it).
//
// The scene is cut into square tiles on a fixed grid from its origin (tm/tile_grid.h: the last row
// and column reach past the raster and are filled by reflection); every tile is encoded on its own,
// so a token raster (tm/token_raster.h) is a self-contained archive of the scene. Decoding runs the
// same tile grid on the tokens and writes full resolution.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "tm/raster_io.h"
#include "tm/token_raster.h"
#include "tm/tokenizer.h"

namespace terramind {

struct TokenizingProgress {
  std::function<void(std::size_t done, std::size_t total)> tiles;
};

inline WriteOptions write_options(OutputFormat format, int block_size) {
  WriteOptions options;
  options.format = format;
  options.block_size = block_size;
  return options;
}

struct EncodeSceneOptions {
  int tile_size = 224;  // multiple of the tokenizer's decode size multiple (16 or 32)
  int batch_size = 4;   // tiles per encoder call
  bool allow_ungeoreferenced = false;
  WriteOptions write = write_options(OutputFormat::kGTiff, 256);
  TokenizingProgress progress;
};

struct DecodeSceneOptions {
  std::optional<int> tile_size;  // default: the token raster's encoding tile size
  int batch_size = 1;
  int64_t steps = 0;               // DDIM steps (diffusion); 0: the card's default_steps
  uint64_t seed = 0;               // tile i starts from noise seeded with seed + i
  bool clamp = true;               // reference behaviour: outputs within mean +- 1 std
  std::string probabilities_path;  // LULC: also write per-class probabilities (Float32)
  WriteOptions write = write_options(OutputFormat::kCOG, 512);
  TokenizingProgress progress;
};

struct TokenizingSummary {
  int tiles = 0;
  int64_t steps = 0;  // DDIM steps run per tile (diffusion decoding)
  int tile_size = 0;
  int width = 0, height = 0;  // written raster size
  std::string data_type;
  double seconds = 0.0;
};

// The tokenizer must fit the modality of the scene (bands, data types) checked with
// require_modality. Throws RasterError / std::invalid_argument / CheckpointError with messages for
// users; the output appears only when everything succeeded.
TokenizingSummary encode_scene(const std::string& scene_path, const std::string& modality,
                               const ImageTokenizer& tokenizer, const std::string& tokens_path,
                               const EncodeSceneOptions& options);

// The token raster's tm_tokenize metadata; for a raster without it, what `card` implies (its
// modality and FSQ levels, 16 px per token, 224 px tiles).
TokenRasterMetadata token_metadata_or_assumed(const std::string& tokens_path,
                                              const TokenizerCard& card);

TokenizingSummary decode_scene(const std::string& tokens_path, const ImageTokenizer& tokenizer,
                               const std::string& output_path, const DecodeSceneOptions& options);

}  // namespace terramind
