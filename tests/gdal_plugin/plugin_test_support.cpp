#include "plugin_test_support.h"

#include <cpl_error.h>
#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <stdexcept>

#include "test_paths.h"

namespace terramind::testing {
namespace {

void* runtime_handle() {
  void* handle = dlopen(synthetic_runtime().c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    throw std::runtime_error(std::string("cannot load the synthetic runtime: ") + dlerror());
  return handle;
}

int call_counter(const char* name) {
  auto counter = reinterpret_cast<int (*)()>(dlsym(runtime_handle(), name));
  if (!counter) throw std::runtime_error(std::string("no ") + name + " in the synthetic runtime");
  return counter();
}

void CPL_STDCALL collect_errors(CPLErr, CPLErrorNum, const char* message) {
  auto* log = static_cast<std::string*>(CPLGetErrorHandlerUserData());
  if (!log->empty()) *log += '\n';
  *log += message;
}

}  // namespace

std::string plugin_dir() { return TM_TEST_PLUGIN_DIR; }
std::string synthetic_runtime() { return TM_TEST_SYNTHETIC_RUNTIME; }
std::string gdal_translate_program() { return TM_TEST_GDAL_TRANSLATE; }

void register_plugin() {
  static std::once_flag once;
  std::call_once(once, [] {
    setenv("GDAL_DRIVER_PATH", plugin_dir().c_str(), 1);
    setenv("TM_RUNTIME", synthetic_runtime().c_str(), 1);
    GDALAllRegister();
  });
}

std::string sample_connection(const std::string& target, const std::string& extra) {
  return "TM:target=" + target + ":model=synthetic:S2L2A=" + sample_scene() + extra;
}

Dataset open_raster(const std::string& name, const std::vector<std::string>& open_options) {
  CPLStringList options;
  for (const auto& o : open_options) options.AddString(o.c_str());
  return Dataset(
      GDALDataset::Open(name.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr, options.List()));
}

std::string errors_of(const std::function<void()>& action) {
  std::string log;
  CPLPushErrorHandlerEx(collect_errors, &log);
  try {
    action();
  } catch (...) {
    CPLPopErrorHandler();
    throw;
  }
  CPLPopErrorHandler();
  return log;
}

std::vector<unsigned char> read_raw(GDALRasterBand* band, int x, int y, int width, int height) {
  if (width < 0) width = band->GetXSize();
  if (height < 0) height = band->GetYSize();
  const GDALDataType type = band->GetRasterDataType();
  std::vector<unsigned char> bytes(static_cast<std::size_t>(width) * height *
                                   GDALGetDataTypeSizeBytes(type));
  if (band->RasterIO(GF_Read, x, y, width, height, bytes.data(), width, height, type, 0, 0,
                     nullptr) != CE_None)
    throw std::runtime_error(std::string("read failed: ") + CPLGetLastErrorMsg());
  return bytes;
}

std::vector<double> read_values(GDALRasterBand* band, int x, int y, int width, int height) {
  if (width < 0) width = band->GetXSize();
  if (height < 0) height = band->GetYSize();
  std::vector<double> values(static_cast<std::size_t>(width) * height);
  if (band->RasterIO(GF_Read, x, y, width, height, values.data(), width, height, GDT_Float64, 0, 0,
                     nullptr) != CE_None)
    throw std::runtime_error(std::string("read failed: ") + CPLGetLastErrorMsg());
  return values;
}

long statistic(GDALDataset* dataset, const std::string& name) {
  const char* value = dataset->GetMetadataItem(name.c_str(), "TM_STATISTICS");
  if (!value) throw std::runtime_error("no TM_STATISTICS item " + name);
  return std::atol(value);
}

std::shared_ptr<WindowModel> open_synthetic_model(const std::string& settings_json) {
  auto get_api = reinterpret_cast<TmRuntimeGetApi>(dlsym(runtime_handle(), TM_RUNTIME_ENTRY_POINT));
  const TmRuntimeApi* api = get_api ? get_api(TM_RUNTIME_API_VERSION) : nullptr;
  if (!api) throw std::runtime_error("the synthetic runtime has no usable API");
  char error[512] = "";
  WindowModel* model = api->open_model(settings_json.c_str(), error, sizeof(error));
  if (!model) throw std::runtime_error(error);
  return std::shared_ptr<WindowModel>(model, [api](WindowModel* m) { api->close_model(m); });
}

int synthetic_open_models() { return call_counter("tm_synthetic_open_models"); }
int synthetic_models_opened() { return call_counter("tm_synthetic_models_opened"); }

void write_float_raster(const std::string& path, int width, int height, int bands,
                        const std::function<float(int, int, int)>& f) {
  RasterSpec spec;
  spec.width = width;
  spec.height = height;
  spec.bands = bands;
  spec.data_type = "Float32";
  spec.nodata = -9999.0;
  spec.georef.has_geotransform = true;
  spec.georef.geotransform = {600000.0, 10.0, 0.0, 5300000.0, 0.0, -10.0};
  spec.georef.crs_wkt = crs_to_wkt("EPSG:32632");
  WriteOptions options;
  options.format = OutputFormat::kGTiff;
  options.overwrite = true;
  AtomicRasterWriter writer(path, spec, options);
  const std::size_t plane = static_cast<std::size_t>(width) * height;
  std::vector<float> data(plane * bands);
  for (int b = 0; b < bands; ++b)
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x)
        data[b * plane + static_cast<std::size_t>(y) * width + x] = f(b, x, y);
  writer.write(PixelWindow{0, 0, width, height}, data.data());
  writer.commit();
}

}  // namespace terramind::testing
