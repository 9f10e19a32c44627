// Internal pieces of tm_evaluation.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tm/evaluation.h"

namespace terramind::eval {

// The whole raster as an Image; nodata and NaN become NaN. RasterError naming the file.
Image read_image(const std::string& path);

// std::invalid_argument "misaligned: ..." unless every input has the truth's size and, when both
// are georeferenced, its grid (CRS and geotransform).
void check_aligned(const std::string& truth, const std::vector<std::string>& inputs);

// Report pieces: HTML escaping, a file written under a temporary name and renamed, and a PNG
// quicklook of a raster inlined as an <img> (written to `png` first).
std::string html_escape(const std::string& text);
std::string fixed_text(double v, int digits);  // "inf", "-" for NaN
void write_atomically(const std::string& path, const std::string& text);
std::string inline_quicklook(const std::string& raster, const std::string& modality,
                             const std::string& png, const std::string& caption);
// A PNG file inlined as an <img> with a caption.
std::string inline_png(const std::string& png, const std::string& caption);

// The truth encoded and decoded by a model card's tokenizer of `target` (class maps: the arg-max
// class; NaN where the truth is NaN): the bound generations through that tokenizer cannot beat.
// The tokenizer is loaded once. std::invalid_argument when the card has no such tokenizer.
class TokenizerBound {
 public:
  TokenizerBound(const std::string& model, const std::string& target);
  ~TokenizerBound();
  Image reconstruct(const Image& truth, std::int64_t diffusion_steps, std::int64_t seed) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace terramind::eval
