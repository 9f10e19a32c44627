// A deterministic, georeferenced S2L2A-like scene made from a seed: land-cover classes from
// smooth value noise, per-class Sentinel-2 L2A reflectance spectra with texture, and a nodata
// wedge along one corner like the edge of a satellite swath. Same seed, same bytes, on every
// machine (own integer hash, no std:: random distributions).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace terramind::sample {

struct SceneSpec {
  int width = 1024;
  int height = 1024;
  std::uint64_t seed = 42;
  int epsg = 32632;  // WGS 84 / UTM zone 32N
  double origin_x = 600000.0;
  double origin_y = 5300000.0;
  double pixel_size = 10.0;
  double nodata_fraction = 0.12;  // share of each side cut by the nodata wedge
};

constexpr std::uint16_t kNodata = 0;

class SyntheticScene {
 public:
  explicit SyntheticScene(SceneSpec spec);

  const SceneSpec& spec() const { return spec_; }
  std::array<double, 6> geotransform() const;

  // ESRI class index (registry order: 1 water ... 9 rangeland) of a pixel; 0 inside the wedge.
  std::uint8_t land_cover(int x, int y) const;
  // 12 S2L2A bands of rows [y0, y0+rows), band-sequential, reflectance x 10000; kNodata in the
  // wedge.
  std::vector<std::uint16_t> reflectance_rows(int y0, int rows) const;
  std::vector<std::uint8_t> land_cover_rows(int y0, int rows) const;

  static constexpr int kBands = 12;

 private:
  bool in_nodata_wedge(int x, int y) const;
  double noise(double x, double y, std::uint64_t salt) const;  // fractal value noise in [0, 1)
  std::uint64_t hash(std::int64_t x, std::int64_t y, std::uint64_t salt) const;

  SceneSpec spec_;
};

}  // namespace terramind::sample
