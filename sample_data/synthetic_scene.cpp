#include "synthetic_scene.h"

#include <algorithm>
#include <cmath>

namespace terramind::sample {
namespace {

// Typical Sentinel-2 L2A spectra (reflectance x 10000) per ESRI class, bands B01..B12 without
// B10. Values are representative of published spectral libraries, rounded; they make the
// scene plausible, not a reference.
constexpr std::array<std::array<double, SyntheticScene::kBands>, 10> kSpectra = {{
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},                                        // 0 no data
    {420, 480, 560, 380, 300, 220, 200, 180, 160, 120, 80, 60},                  // 1 water
    {250, 320, 560, 330, 850, 2250, 2800, 3000, 3150, 3100, 1500, 700},          // 2 trees
    {400, 500, 720, 520, 900, 1600, 1900, 2050, 2150, 2000, 900, 450},           // 3 flooded veg.
    {420, 520, 840, 700, 1250, 2500, 3100, 3350, 3450, 3400, 2300, 1300},        // 4 crops
    {1100, 1220, 1330, 1420, 1560, 1700, 1800, 1900, 1950, 1900, 2250, 2050},    // 5 built area
    {1500, 1720, 2100, 2500, 2800, 3000, 3120, 3200, 3260, 3200, 3800, 3300},    // 6 bare ground
    {9000, 9200, 9050, 8800, 8600, 8400, 8200, 8000, 7800, 7000, 800, 600},      // 7 snow/ice
    {5200, 5400, 5500, 5600, 5700, 5800, 5850, 5900, 5900, 5200, 4300, 3600},    // 8 clouds
    {600, 720, 1020, 1210, 1620, 2200, 2500, 2700, 2800, 2800, 2900, 1900},      // 9 rangeland
}};

std::uint64_t splitmix64(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double unit(std::uint64_t h) { return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0); }

double smooth(double t) { return t * t * (3.0 - 2.0 * t); }

}  // namespace

SyntheticScene::SyntheticScene(SceneSpec spec) : spec_(spec) {}

std::array<double, 6> SyntheticScene::geotransform() const {
  return {spec_.origin_x, spec_.pixel_size, 0.0, spec_.origin_y, 0.0, -spec_.pixel_size};
}

std::uint64_t SyntheticScene::hash(std::int64_t x, std::int64_t y, std::uint64_t salt) const {
  return splitmix64(splitmix64(splitmix64(spec_.seed ^ salt) ^ static_cast<std::uint64_t>(x)) ^
                    static_cast<std::uint64_t>(y));
}

double SyntheticScene::noise(double x, double y, std::uint64_t salt) const {
  double sum = 0.0, amplitude = 1.0, total = 0.0;
  for (int octave = 0; octave < 4; ++octave) {
    const double fx = std::floor(x), fy = std::floor(y);
    const auto ix = static_cast<std::int64_t>(fx), iy = static_cast<std::int64_t>(fy);
    const double tx = smooth(x - fx), ty = smooth(y - fy);
    const std::uint64_t s = salt * 31 + static_cast<std::uint64_t>(octave);
    const double a = unit(hash(ix, iy, s)), b = unit(hash(ix + 1, iy, s));
    const double c = unit(hash(ix, iy + 1, s)), d = unit(hash(ix + 1, iy + 1, s));
    sum += amplitude * ((a + (b - a) * tx) * (1 - ty) + (c + (d - c) * tx) * ty);
    total += amplitude;
    amplitude *= 0.5;
    x *= 2.0;
    y *= 2.0;
  }
  return sum / total;
}

bool SyntheticScene::in_nodata_wedge(int x, int y) const {
  // Lower-left corner cut diagonally, as at the edge of an orbit swath.
  const double cut = spec_.nodata_fraction;
  const double u = static_cast<double>(x) / spec_.width;
  const double v = 1.0 - static_cast<double>(y + 1) / spec_.height;
  return u + v < cut;
}

std::uint8_t SyntheticScene::land_cover(int x, int y) const {
  if (in_nodata_wedge(x, y)) return 0;
  const double elevation = noise(x / 280.0, y / 280.0, 1);
  const double moisture = noise(x / 190.0, y / 190.0, 2);
  const double urban = noise(x / 110.0, y / 110.0, 3);
  const double cloud = noise(x / 70.0, y / 70.0, 4);
  if (cloud > 0.78) return 8;
  if (elevation < 0.33) return 1;
  if (elevation < 0.36) return 3;
  if (elevation > 0.72) return 7;
  if (elevation > 0.66) return 6;
  if (urban > 0.70) return 5;
  if (moisture > 0.58) return 2;
  if (moisture > 0.44) return 4;
  return 9;
}

std::vector<std::uint8_t> SyntheticScene::land_cover_rows(int y0, int rows) const {
  std::vector<std::uint8_t> out(static_cast<std::size_t>(rows) * spec_.width);
  for (int r = 0; r < rows; ++r)
    for (int x = 0; x < spec_.width; ++x)
      out[static_cast<std::size_t>(r) * spec_.width + x] = land_cover(x, y0 + r);
  return out;
}

std::vector<std::uint16_t> SyntheticScene::reflectance_rows(int y0, int rows) const {
  const std::size_t plane = static_cast<std::size_t>(rows) * spec_.width;
  std::vector<std::uint16_t> out(plane * kBands, kNodata);
  for (int r = 0; r < rows; ++r) {
    const int y = y0 + r;
    for (int x = 0; x < spec_.width; ++x) {
      const std::uint8_t cls = land_cover(x, y);
      if (cls == 0) continue;
      // Field-scale texture plus per-pixel speckle; crops vary by parcel (40 x 30 px fields).
      double brightness = 1.0 + 0.16 * (noise(x / 14.0, y / 14.0, 5) - 0.5);
      if (cls == 4) brightness *= 0.8 + 0.4 * unit(hash(x / 40, y / 30, 6));
      const double speckle = 0.04 * (unit(hash(x, y, 7)) - 0.5);
      for (int b = 0; b < kBands; ++b) {
        const double value = kSpectra[cls][b] * (brightness + speckle);
        // Valid pixels never equal the nodata value.
        out[b * plane + static_cast<std::size_t>(r) * spec_.width + x] =
            static_cast<std::uint16_t>(std::clamp(std::lround(value), 1L, 65535L));
      }
    }
  }
  return out;
}

}  // namespace terramind::sample
