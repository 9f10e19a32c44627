// Opening scenes and reading windows.
#include <gdal_priv.h>
#include <ogr_spatialref.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "gdal_session.h"
#include "tm/tiling.h"

namespace terramind {

struct SceneReader::Handle {
  GDALDataset* dataset = nullptr;
  ~Handle() {
    if (dataset) GDALClose(dataset);
  }
};

namespace {

bool file_exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

// GDAL also opens virtual paths (/vsizip/..., connection strings); only plain paths are stat'ed.
bool is_plain_path(const std::string& path) {
  return path.rfind("/vsi", 0) != 0 && path.find(':') == std::string::npos;
}

GDALDataset* open_dataset(const std::string& path) {
  ensure_gdal_registered();
  if (path.empty()) throw RasterError("no input file given");
  if (is_plain_path(path) && !file_exists(path)) throw RasterError("input not found: " + path);
  GdalErrorCapture capture;
  auto* ds = static_cast<GDALDataset*>(
      GDALOpenEx(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr, nullptr, nullptr));
  if (!ds) {
    std::string why = capture.last_message();
    throw RasterError(path + " is not a raster GDAL can read" + (why.empty() ? "" : ": " + why));
  }
  return ds;
}

RasterInfo describe(GDALDataset* ds, const std::string& path) {
  RasterInfo info;
  info.path = path;
  info.driver = ds->GetDriver() ? ds->GetDriver()->GetDescription() : "";
  info.width = ds->GetRasterXSize();
  info.height = ds->GetRasterYSize();
  info.band_count = ds->GetRasterCount();
  if (info.band_count == 0) {
    throw RasterError(path + " has no raster bands");
  }
  const GDALDataType type = ds->GetRasterBand(1)->GetRasterDataType();
  info.data_type = GDALGetDataTypeName(type);
  for (int b = 1; b <= info.band_count; ++b) {
    GDALRasterBand* band = ds->GetRasterBand(b);
    if (band->GetRasterDataType() != type) {
      const std::string other = GDALGetDataTypeName(band->GetRasterDataType());
      throw RasterError(path + " mixes data types (band 1 is " + info.data_type + ", band " +
                        std::to_string(b) + " is " + other + "); convert it to one type first");
    }
    info.band_descriptions.push_back(band->GetDescription());
  }
  int has_nodata = 0;
  const double nodata = ds->GetRasterBand(1)->GetNoDataValue(&has_nodata);
  if (has_nodata) info.nodata = nodata;
  if (char** items = ds->GetMetadata())
    for (int i = 0; items[i]; ++i) {
      char* key = nullptr;
      const char* value = CPLParseNameValue(items[i], &key);
      if (key && value && std::strncmp(key, "TM_", 3) == 0) info.provenance[key + 3] = value;
      CPLFree(key);
    }
  for (const char* tag : {"TIFFTAG_SOFTWARE", "TIFFTAG_DATETIME", "TIFFTAG_IMAGEDESCRIPTION"})
    if (const char* value = ds->GetMetadataItem(tag)) info.tiff_tags[tag] = value;
  info.band_units.push_back(ds->GetRasterBand(1)->GetUnitType());
  for (int b = 2; b <= info.band_count; ++b)
    info.band_units.push_back(ds->GetRasterBand(b)->GetUnitType());

  info.georef.has_geotransform = ds->GetGeoTransform(info.georef.geotransform.data()) == CE_None;
  if (const OGRSpatialReference* srs = ds->GetSpatialRef()) {
    char* wkt = nullptr;
    const char* options[] = {"FORMAT=WKT2_2018", nullptr};
    if (srs->exportToWkt(&wkt, options) == OGRERR_NONE && wkt) info.georef.crs_wkt = wkt;
    CPLFree(wkt);
  }
  return info;
}

// Source index for output position i of an axis of length n, or -1 for "outside, fill".
int source_index(int i, int n, EdgePolicy edge) {
  if (i >= 0 && i < n) return i;
  switch (edge) {
    case EdgePolicy::kFill:
      return -1;
    case EdgePolicy::kReplicate:
      return std::clamp(i, 0, n - 1);
    case EdgePolicy::kReflect: {
      if (n == 1) return 0;
      const int period = 2 * (n - 1);
      int k = i % period;
      if (k < 0) k += period;
      return k < n ? k : period - k;
    }
  }
  return -1;
}

}  // namespace

bool GeoReference::same_grid_as(const GeoReference& other) const {
  if (has_geotransform != other.has_geotransform) return false;
  if (std::memcmp(geotransform.data(), other.geotransform.data(), sizeof(double) * 6) != 0)
    return false;
  if (crs_wkt.empty() || other.crs_wkt.empty()) return crs_wkt.empty() && other.crs_wkt.empty();
  OGRSpatialReference a, b;
  if (a.importFromWkt(crs_wkt.c_str()) != OGRERR_NONE) return false;
  if (b.importFromWkt(other.crs_wkt.c_str()) != OGRERR_NONE) return false;
  return a.IsSame(&b) != 0;
}

std::size_t WindowData::valid_count() const {
  return static_cast<std::size_t>(std::count(valid.begin(), valid.end(), 1));
}

RasterInfo inspect_raster(const std::string& path) {
  // The unique_ptr closes the dataset on every path, errors included.
  std::unique_ptr<GDALDataset, void (*)(GDALDataset*)> ds(open_dataset(path),
                                                          [](GDALDataset* d) { GDALClose(d); });
  return describe(ds.get(), path);
}

SceneReader::SceneReader(std::unique_ptr<Handle> handle, RasterInfo info)
    : handle_(std::move(handle)), info_(std::move(info)) {}
SceneReader::SceneReader(SceneReader&&) noexcept = default;
SceneReader& SceneReader::operator=(SceneReader&&) noexcept = default;
SceneReader::~SceneReader() = default;

SceneReader SceneReader::open(const std::string& path, const OpenOptions& options) {
  auto handle = std::make_unique<Handle>();
  handle->dataset = open_dataset(path);
  RasterInfo info = describe(handle->dataset, path);
  if (!info.georef.is_georeferenced()) {
    const std::string missing = !info.georef.has_geotransform && info.georef.crs_wkt.empty()
                                    ? "no CRS and no geotransform"
                                : !info.georef.has_geotransform ? "no geotransform"
                                                                : "no CRS";
    if (!options.allow_ungeoreferenced)
      throw RasterError(path + " has no georeferencing (" + missing +
                        "); outputs could not be placed on a map. Assign one with "
                        "gdal_edit.py -a_srs/-a_ullr, or accept a bare pixel grid explicitly");
    info.warnings.push_back(path + " has no georeferencing (" + missing +
                            "): outputs will use the bare pixel grid");
  }
  return SceneReader(std::move(handle), std::move(info));
}

WindowData SceneReader::read(const PixelWindow& window, EdgePolicy edge, float fill_value) const {
  if (window.width <= 0 || window.height <= 0)
    throw std::invalid_argument("window size must be positive");
  WindowData out;
  out.bands = info_.band_count;
  out.width = window.width;
  out.height = window.height;
  const std::size_t plane = static_cast<std::size_t>(window.width) * window.height;
  out.values.assign(plane * out.bands, fill_value);
  out.valid.assign(plane, 0);

  std::vector<int> src_x(window.width), src_y(window.height);
  for (int c = 0; c < window.width; ++c) src_x[c] = source_index(window.x + c, info_.width, edge);
  for (int r = 0; r < window.height; ++r) src_y[r] = source_index(window.y + r, info_.height, edge);

  auto valid_min = [](const std::vector<int>& v) {
    int m = -1;
    for (int s : v)
      if (s >= 0 && (m < 0 || s < m)) m = s;
    return m;
  };
  auto valid_max = [](const std::vector<int>& v) { return *std::max_element(v.begin(), v.end()); };
  const int x0 = valid_min(src_x), y0 = valid_min(src_y);
  if (x0 < 0 || y0 < 0) return out;  // window entirely outside the raster
  const int x1 = valid_max(src_x), y1 = valid_max(src_y);
  const int hull_w = x1 - x0 + 1, hull_h = y1 - y0 + 1;

  // One RasterIO over the source hull, then gather (handles reflection and replication).
  std::vector<float> hull(static_cast<std::size_t>(hull_w) * hull_h * out.bands);
  {
    GdalErrorCapture capture;
    const CPLErr err = handle_->dataset->RasterIO(
        GF_Read, x0, y0, hull_w, hull_h, hull.data(), hull_w, hull_h, GDT_Float32, out.bands,
        nullptr, sizeof(float), sizeof(float) * hull_w,
        sizeof(float) * static_cast<GSpacing>(hull_w) * hull_h, nullptr);
    if (err != CE_None)
      throw RasterError("reading " + info_.path + " failed at window (" + std::to_string(window.x) +
                        ", " + std::to_string(window.y) + "): " + capture.last_message());
  }

  const bool has_nodata = info_.nodata.has_value();
  // Compare in float32, the type the values now have (an integer nodata is exact in float32
  // for every type we accept up to 2^24).
  const float nodata = has_nodata ? static_cast<float>(*info_.nodata) : 0.0f;
  const bool nodata_is_nan = has_nodata && std::isnan(*info_.nodata);
  const std::size_t hull_plane = static_cast<std::size_t>(hull_w) * hull_h;
  for (int r = 0; r < window.height; ++r) {
    if (src_y[r] < 0) continue;
    for (int c = 0; c < window.width; ++c) {
      if (src_x[c] < 0) continue;
      const std::size_t src = static_cast<std::size_t>(src_y[r] - y0) * hull_w + (src_x[c] - x0);
      const std::size_t dst = static_cast<std::size_t>(r) * window.width + c;
      bool valid = true;
      for (int b = 0; b < out.bands; ++b) {
        const float v = hull[b * hull_plane + src];
        out.values[b * plane + dst] = v;
        // +-inf is never data (a float overflow or a broken product): nodata like NaN.
        if (!std::isfinite(v) || (has_nodata && !nodata_is_nan && v == nodata)) valid = false;
      }
      out.valid[dst] = valid ? 1 : 0;
    }
  }
  return out;
}

std::string crs_to_wkt(const std::string& definition) {
  ensure_gdal_registered();
  OGRSpatialReference srs;
  GdalErrorCapture capture;
  if (srs.SetFromUserInput(definition.c_str()) != OGRERR_NONE)
    throw RasterError("unknown CRS '" + definition + "': " + capture.last_message());
  char* wkt = nullptr;
  const char* options[] = {"FORMAT=WKT2_2018", nullptr};
  srs.exportToWkt(&wkt, options);
  std::string out = wkt ? wkt : "";
  CPLFree(wkt);
  return out;
}

std::string crs_display_name(const std::string& wkt) {
  if (wkt.empty()) return "none";
  OGRSpatialReference srs;
  if (srs.importFromWkt(wkt.c_str()) != OGRERR_NONE) return "unparsable CRS";
  std::string name = srs.GetName() ? srs.GetName() : "unnamed CRS";
  const char* authority = srs.GetAuthorityName(nullptr);
  const char* code = srs.GetAuthorityCode(nullptr);
  if (authority && code) name += std::string(" (") + authority + ":" + code + ")";
  return name;
}

bool is_known_raster_type(const std::string& gdal_type_name) {
  return GDALGetDataTypeByName(gdal_type_name.c_str()) != GDT_Unknown;
}

}  // namespace terramind
