// A minimal PNG encoder: 8-bit RGB, no interlace, filter 0 on every row, one zlib IDAT chunk.
#include <zlib.h>

#include <stdexcept>

#include "atomic_file.h"
#include "tm/training_metrics.h"

namespace terramind::training {

namespace {

void put_u32(std::string& out, std::uint32_t v) {
  out += static_cast<char>((v >> 24) & 0xff);
  out += static_cast<char>((v >> 16) & 0xff);
  out += static_cast<char>((v >> 8) & 0xff);
  out += static_cast<char>(v & 0xff);
}

void put_chunk(std::string& out, const char type[4], const std::string& data) {
  put_u32(out, static_cast<std::uint32_t>(data.size()));
  const std::string body = std::string(type, 4) + data;
  out += body;
  const auto crc = ::crc32(::crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(body.data()),
                           static_cast<uInt>(body.size()));
  put_u32(out, static_cast<std::uint32_t>(crc));
}

}  // namespace

Rgb RgbImage::at(int x, int y) const {
  if (x < 0 || y < 0 || x >= width || y >= height)
    throw std::out_of_range("pixel (" + std::to_string(x) + ", " + std::to_string(y) +
                            ") is outside the " + std::to_string(width) + "x" +
                            std::to_string(height) + " image");
  const std::size_t i = (static_cast<std::size_t>(y) * static_cast<std::size_t>(width) +
                         static_cast<std::size_t>(x)) *
                        3;
  return {pixels[i], pixels[i + 1], pixels[i + 2]};
}

void write_png(const std::string& path, const RgbImage& image) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() !=
          static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height) * 3)
    throw std::invalid_argument(path + ": not a valid RGB image (" + std::to_string(image.width) +
                                "x" + std::to_string(image.height) + ", " +
                                std::to_string(image.pixels.size()) + " bytes)");
  const std::size_t row_bytes = static_cast<std::size_t>(image.width) * 3;
  std::string raw;
  raw.reserve((row_bytes + 1) * static_cast<std::size_t>(image.height));
  for (int y = 0; y < image.height; ++y) {
    raw += '\0';  // filter type None
    raw.append(reinterpret_cast<const char*>(image.pixels.data()) +
                   static_cast<std::size_t>(y) * row_bytes,
               row_bytes);
  }
  uLongf packed_size = ::compressBound(static_cast<uLong>(raw.size()));
  std::string packed(packed_size, '\0');
  if (::compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size,
                  reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size()),
                  Z_DEFAULT_COMPRESSION) != Z_OK)
    throw std::runtime_error(path + ": zlib could not compress the image");
  packed.resize(packed_size);

  std::string png = "\x89PNG\r\n\x1a\n";
  std::string ihdr;
  put_u32(ihdr, static_cast<std::uint32_t>(image.width));
  put_u32(ihdr, static_cast<std::uint32_t>(image.height));
  ihdr += '\x08';  // bit depth
  ihdr += '\x02';  // colour type: truecolour
  ihdr += '\0';    // compression: deflate
  ihdr += '\0';    // filter method 0
  ihdr += '\0';    // no interlace
  put_chunk(png, "IHDR", ihdr);
  put_chunk(png, "IDAT", packed);
  put_chunk(png, "IEND", "");
  detail::write_file_atomically(path, png);
}

}  // namespace terramind::training
