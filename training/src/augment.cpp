// augment.cpp — the stream's geometric augmentation: one crop window and one pair of flips
// applied to every modality of a sample alike, with the record (size, geotransform) kept true.
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "tm/shards.h"

namespace terramind::shards {
namespace {

// Copies one output row of `count` elements of `Element` bytes, reversed when `reverse`.
template <std::size_t Element>
void copy_row(const std::uint8_t* src, std::uint8_t* dst, int count, bool reverse) {
  if (!reverse) {
    std::memcpy(dst, src, static_cast<std::size_t>(count) * Element);
    return;
  }
  const std::uint8_t* from = src + static_cast<std::size_t>(count - 1) * Element;
  for (int i = 0; i < count; ++i, from -= Element, dst += Element) std::memcpy(dst, from, Element);
}

void copy_row(std::size_t element, const std::uint8_t* src, std::uint8_t* dst, int count,
              bool reverse) {
  switch (element) {
    case 1:
      return copy_row<1>(src, dst, count, reverse);
    case 2:
      return copy_row<2>(src, dst, count, reverse);
    case 4:
      return copy_row<4>(src, dst, count, reverse);
    case 8:
      return copy_row<8>(src, dst, count, reverse);
    default:
      throw std::logic_error("crop_and_flip: unsupported element size " + std::to_string(element));
  }
}

// The window [row, row + height) x [col, col + width) of `array`, flipped as asked.
void crop_array(Array& array, int row, int col, int height, int width, bool horizontal,
                bool vertical) {
  const std::size_t element = dtype_size(array.dtype);
  const std::size_t src_row_bytes = static_cast<std::size_t>(array.width) * element;
  const std::size_t dst_row_bytes = static_cast<std::size_t>(width) * element;
  std::vector<std::uint8_t> out(static_cast<std::size_t>(array.bands) * height * dst_row_bytes);
  for (int band = 0; band < array.bands; ++band) {
    const std::uint8_t* src_band =
        array.data.data() + static_cast<std::size_t>(band) * array.height * src_row_bytes;
    std::uint8_t* dst_band = out.data() + static_cast<std::size_t>(band) * height * dst_row_bytes;
    for (int r = 0; r < height; ++r) {
      const int src_r = vertical ? row + height - 1 - r : row + r;
      const std::uint8_t* src = src_band + static_cast<std::size_t>(src_r) * src_row_bytes +
                                static_cast<std::size_t>(col) * element;
      copy_row(element, src, dst_band + static_cast<std::size_t>(r) * dst_row_bytes, width,
               horizontal);
    }
  }
  array.data = std::move(out);
  array.height = height;
  array.width = width;
}

}  // namespace

// size > 0: the window [row, row + size) x [col, col + size) of every array; size == 0: the
// whole extent (row and col must be 0). Then a horizontal flip reverses the columns, a vertical
// flip the rows, of every band of every array.
//
// The record follows the pixels:
//  - width and height become the window's (when cropping);
//  - a crop moves the geotransform's origin to the window's top-left corner
//    (gt[0] += col*gt[1] + row*gt[2], gt[3] += col*gt[4] + row*gt[5]);
//  - a flip keeps the geotransform exact for the flipped pixels rather than leaving it as the
//    unflipped footprint: a horizontal flip moves the origin to the window's right edge and
//    negates the column terms (gt[0] += width*gt[1], gt[3] += width*gt[4], gt[1] = -gt[1],
//    gt[4] = -gt[4]); a vertical flip does the same with the bottom edge and the row terms
//    (gt[2], gt[5]). The footprint (the set of ground covered) is the crop window either way;
//    pixel (row, col) of the flipped arrays maps to its true ground position, and a flipped
//    sample can be recognised by gt[1] < 0 or gt[5] > 0 (for north-up sources).
//  - crs, date and sources are unchanged; center_lon/center_lat stay those of the stored sample
//    (a crop shifts the true centre by at most half the margin cut away; recomputing it would
//    need a coordinate transformation per sample).
// Throws std::invalid_argument naming the sample when the window does not fit an array (or the
// record, for a sample without arrays).
void crop_and_flip(Sample& sample, int row, int col, int size, bool horizontal, bool vertical) {
  SampleRecord& record = sample.record;
  const auto describe = [&]() {
    return "sample " + record.key + (sample.shard.empty() ? "" : " of " + sample.shard);
  };
  if (size < 0 || row < 0 || col < 0 || (size == 0 && (row != 0 || col != 0)))
    throw std::invalid_argument("crop_and_flip: invalid window (row " + std::to_string(row) +
                                ", col " + std::to_string(col) + ", size " + std::to_string(size) +
                                ") for " + describe());
  const auto check_fits = [&](int height, int width, const std::string& what) {
    if (size > 0 && (row + size > height || col + size > width))
      throw std::invalid_argument("crop_and_flip: the " + std::to_string(size) + "x" +
                                  std::to_string(size) + " window at row " + std::to_string(row) +
                                  ", col " + std::to_string(col) + " does not fit " + what + " (" +
                                  std::to_string(width) + "x" + std::to_string(height) + ") of " +
                                  describe());
  };
  for (const auto& [modality, array] : sample.arrays)
    check_fits(array.height, array.width, modality);
  if (sample.arrays.empty()) check_fits(record.height, record.width, "the record");

  for (auto& [modality, array] : sample.arrays) {
    if (array.data.size() != array.byte_size())
      throw std::invalid_argument("crop_and_flip: " + modality + " of " + describe() + " holds " +
                                  std::to_string(array.data.size()) + " bytes, not " +
                                  std::to_string(array.byte_size()));
    if (size == 0 && !horizontal && !vertical) continue;
    const int height = size > 0 ? size : array.height;
    const int width = size > 0 ? size : array.width;
    crop_array(array, row, col, height, width, horizontal, vertical);
  }

  std::array<double, 6>& gt = record.geotransform;
  if (size > 0) {
    gt[0] += col * gt[1] + row * gt[2];
    gt[3] += col * gt[4] + row * gt[5];
    record.width = size;
    record.height = size;
  }
  if (horizontal) {
    gt[0] += record.width * gt[1];
    gt[3] += record.width * gt[4];
    gt[1] = -gt[1];
    gt[4] = -gt[4];
  }
  if (vertical) {
    gt[0] += record.height * gt[2];
    gt[3] += record.height * gt[5];
    gt[2] = -gt[2];
    gt[5] = -gt[5];
  }
}

}  // namespace terramind::shards
