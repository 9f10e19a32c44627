// Helpers for the tiling tests: small georeferenced rasters and synthetic WindowModels.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tm/tiling.h"

namespace terramind::testing {

struct TestRaster {
  int width = 64;
  int height = 64;
  int bands = 1;
  std::string data_type = "Float32";
  std::optional<double> nodata;
  std::array<double, 6> geotransform{600000.0, 10.0, 0.0, 5300000.0, 0.0, -10.0};
  std::string crs = "EPSG:32632";
};

// Writes a GeoTIFF whose pixel values come from value(band, x, y).
void write_raster(const std::string& path, const TestRaster& raster,
                  const std::function<float(int band, int x, int y)>& value);
// One band of a raster, row-major; nodata pixels keep their stored value.
std::vector<float> read_band(const std::string& path, int band = 1);

// Options for fast pipeline tests: small windows, plain GeoTIFF outputs.
TilingOptions small_options(int window = 64, int overlap = 16);

// Smooth terrain-like field in metres, for the DEM-seam tests.
float terrain(int x, int y);

// A model that records what it was given. Targets:
//   DEM  (1 channel, Float32, nodata -9999): constant `dem_value`, or per the subclass;
//   ECHO (channels of the first input): the first input's values as the model sees them;
//   LULC (10 class probabilities, registry classes, nodata 0): `lulc_class` most likely.
class RecordingModel : public WindowModel {
 public:
  float dem_value = 42.5f;
  int lulc_class = 4;
  int echo_channels = 1;
  std::optional<StatsVersion> standardisation;
  int size_multiple = 1;

  std::vector<PixelWindow> windows_seen;
  std::vector<InputBatch> batches_kept;  // only with keep_batches
  bool keep_batches = false;
  int calls = 0;
  std::function<void(int call)> on_call;  // runs at the start of each infer()

  std::vector<std::string> targets() const override { return {"DEM", "ECHO", "LULC"}; }
  TargetSpec spec(const std::string& target) const override;
  bool accepts_input(const std::string& modality) const override;
  std::optional<StatsVersion> input_standardisation() const override { return standardisation; }
  int window_size_multiple() const override { return size_multiple; }
  void infer(const InputBatch& inputs, OutputBatch& outputs) override;

 protected:
  // DEM value of pixel (r, c) of window `w`.
  virtual float dem(const PixelWindow& w, int r, int c) const { return dem_value; }
};

// DEM = terrain + an additive offset per window, as generated elevation behaves.
class OffsetTerrainModel : public RecordingModel {
 protected:
  float dem(const PixelWindow& w, int r, int c) const override;
};

}  // namespace terramind::testing
