// Helpers for the GDAL plugin tests: the plugin and the synthetic runtime as a GDAL client sees
// them, small rasters, captured GDAL errors.
#pragma once

#include <gdal_priv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tm/tiling.h"
#include "tm_runtime_api.h"

namespace terramind::testing {

std::string plugin_dir();         // folder of gdal_TM.so (GDAL_DRIVER_PATH)
std::string synthetic_runtime();  // libtm_runtime_synthetic.so (TM_RUNTIME)
std::string gdal_translate_program();

// Points GDAL at the plugin and the plugin at the synthetic runtime (environment, so child
// processes such as gdal_translate inherit it), then registers GDAL's drivers.
void register_plugin();

// "TM:target=<target>:model=synthetic:S2L2A=<sample scene><extra>".
std::string sample_connection(const std::string& target, const std::string& extra = "");

struct CloseDataset {
  void operator()(GDALDataset* dataset) const { GDALClose(dataset); }
};
using Dataset = std::unique_ptr<GDALDataset, CloseDataset>;
Dataset open_raster(const std::string& name, const std::vector<std::string>& open_options = {});

// GDAL errors raised while running `action`, joined by newlines (nothing printed).
std::string errors_of(const std::function<void()>& action);

// One band, or a window of it, in the band's own type as raw bytes (for bit-exact comparisons).
std::vector<unsigned char> read_raw(GDALRasterBand* band, int x = 0, int y = 0, int width = -1,
                                    int height = -1);
// The same as Float64 values.
std::vector<double> read_values(GDALRasterBand* band, int x = 0, int y = 0, int width = -1,
                                int height = -1);

// A TM_STATISTICS item of a TM dataset as a number.
long statistic(GDALDataset* dataset, const std::string& name);

// A model from the synthetic runtime, opened through the runtime API as the plugin does.
std::shared_ptr<WindowModel> open_synthetic_model(const std::string& settings_json);
// The runtime's counters (tm_synthetic_open_models / tm_synthetic_models_opened).
int synthetic_open_models();
int synthetic_models_opened();

// A small georeferenced Float32 raster (EPSG:32632, 10 m), values f(band, x, y), nodata -9999.
void write_float_raster(const std::string& path, int width, int height, int bands,
                        const std::function<float(int, int, int)>& f);

}  // namespace terramind::testing
