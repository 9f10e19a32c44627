#include "tiling_test_support.h"

#include <cmath>
#include <cstdint>
#include <stdexcept>

namespace terramind::testing {

void write_raster(const std::string& path, const TestRaster& raster,
                  const std::function<float(int band, int x, int y)>& value) {
  RasterSpec spec;
  spec.width = raster.width;
  spec.height = raster.height;
  spec.bands = raster.bands;
  spec.data_type = raster.data_type;
  spec.nodata = raster.nodata;
  spec.georef.has_geotransform = true;
  spec.georef.geotransform = raster.geotransform;
  if (!raster.crs.empty()) spec.georef.crs_wkt = crs_to_wkt(raster.crs);
  WriteOptions options;
  options.format = OutputFormat::kGTiff;
  options.overwrite = true;
  AtomicRasterWriter writer(path, spec, options);
  const std::size_t plane = static_cast<std::size_t>(raster.width) * raster.height;
  std::vector<float> data(plane * raster.bands);
  for (int b = 0; b < raster.bands; ++b)
    for (int y = 0; y < raster.height; ++y)
      for (int x = 0; x < raster.width; ++x)
        data[b * plane + static_cast<std::size_t>(y) * raster.width + x] = value(b, x, y);
  writer.write(PixelWindow{0, 0, raster.width, raster.height}, data.data());
  writer.commit();
}

std::vector<float> read_band(const std::string& path, int band) {
  const SceneReader scene = SceneReader::open(path);
  const RasterInfo& info = scene.info();
  if (band < 1 || band > info.band_count)
    throw std::out_of_range(path + " has no band " + std::to_string(band));
  const WindowData data = scene.read({0, 0, info.width, info.height});
  const std::size_t plane = static_cast<std::size_t>(info.width) * info.height;
  return std::vector<float>(data.values.begin() + (band - 1) * plane,
                            data.values.begin() + band * plane);
}

TilingOptions small_options(int window, int overlap) {
  TilingOptions options;
  options.window_size = window;
  options.overlap = overlap;
  options.batch_size = 5;
  options.threads = 2;
  options.write.format = OutputFormat::kGTiff;
  options.write.block_size = 64;
  return options;
}

float terrain(int x, int y) {
  return static_cast<float>(300.0 + 0.4 * x + 0.25 * y +
                            12.0 * std::sin(x / 37.0) * std::cos(y / 53.0));
}

TargetSpec RecordingModel::spec(const std::string& target) const {
  TargetSpec spec;
  spec.name = target;
  if (target == "DEM") {
    spec.band_descriptions = {"elevation"};
  } else if (target == "ECHO") {
    spec.channels = echo_channels;
  } else if (target == "LULC") {
    return target_spec_for("LULC");
  } else {
    throw std::invalid_argument("no target " + target);
  }
  return spec;
}

bool RecordingModel::accepts_input(const std::string& modality) const { return modality != "LULC"; }

void RecordingModel::infer(const InputBatch& inputs, OutputBatch& outputs) {
  if (on_call) on_call(calls);
  ++calls;
  for (const PixelWindow& w : inputs.windows) windows_seen.push_back(w);
  if (keep_batches) batches_kept.push_back(inputs);
  const int size = inputs.window_size;
  const std::size_t plane = static_cast<std::size_t>(size) * size;
  for (OutputTensor& out : outputs.targets) {
    for (int k = 0; k < inputs.count; ++k) {
      float* values = out.values.data() + k * out.channels * plane;
      if (out.target == "DEM") {
        for (int r = 0; r < size; ++r)
          for (int c = 0; c < size; ++c) values[r * size + c] = dem(inputs.windows[k], r, c);
      } else if (out.target == "ECHO") {
        const InputTensor& in = inputs.inputs.front();
        for (int ch = 0; ch < out.channels; ++ch)
          std::copy_n(in.values.data() + (k * in.channels + ch) * plane, plane,
                      values + ch * plane);
      } else {  // LULC: constant probabilities, lulc_class most likely
        for (int ch = 0; ch < out.channels; ++ch)
          std::fill_n(values + ch * plane, plane, ch == lulc_class ? 0.55f : 0.05f);
      }
    }
  }
}

float OffsetTerrainModel::dem(const PixelWindow& w, int r, int c) const {
  // A fixed pseudo-random level per window in [-25, 25) m, from its position.
  std::uint32_t h =
      static_cast<std::uint32_t>(w.x) * 73856093u ^ static_cast<std::uint32_t>(w.y) * 19349663u;
  h ^= h >> 13;
  h *= 0x5bd1e995u;
  h ^= h >> 15;
  const float offset = static_cast<float>(h % 5000) / 100.0f - 25.0f;
  return terrain(w.x + c, w.y + r) + offset;
}

}  // namespace terramind::testing
