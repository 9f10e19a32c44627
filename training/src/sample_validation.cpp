// Loading one sample from its rasters, with the checks of tm_shards build: grids aligned
// across modalities, band count and data type per the registry, nodata fraction, values in the
// modality's plausible range. Problems are collected (path, reason, message), not thrown, so
// that a build can report all of them.
#include <gdal_priv.h>
#include <ogr_spatialref.h>

#include <cmath>
#include <deque>
#include <sstream>

#include "build_inputs.h"
#include "tm/ascii_strings.h"
#include "tm/registry.h"

namespace terramind::shards {

class DatasetCache {
 public:
  GDALDataset* open(const std::string& path) {
    for (auto& [p, ds] : open_)
      if (p == path) return ds.get();
    GDALDatasetUniquePtr ds(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
    if (!ds) return nullptr;
    // The chips of a scene are consecutive (keys sorted): a few open files suffice.
    if (open_.size() >= 8) open_.pop_front();
    open_.emplace_back(path, std::move(ds));
    return open_.back().second.get();
  }

 private:
  std::deque<std::pair<std::string, GDALDatasetUniquePtr>> open_;
};

std::shared_ptr<DatasetCache> make_dataset_cache() { return std::make_shared<DatasetCache>(); }

namespace {

std::string number(double v) {
  std::ostringstream s;
  s.precision(10);
  s << v;
  return s.str();
}

std::string crs_string(const OGRSpatialReference& srs) {
  OGRSpatialReference copy(srs);
  const char* name = copy.GetAuthorityName(nullptr);
  const char* code = copy.GetAuthorityCode(nullptr);
  if (!(name && code) && copy.AutoIdentifyEPSG() == OGRERR_NONE) {
    name = copy.GetAuthorityName(nullptr);
    code = copy.GetAuthorityCode(nullptr);
  }
  if (name && code && EQUAL(name, "EPSG")) return std::string("EPSG:") + code;
  char* wkt = nullptr;
  srs.exportToWkt(&wkt);
  std::string out = wkt ? wkt : "";
  CPLFree(wkt);
  return out;
}

// Same grid: pixel sizes equal to 1e-9 relative, origins within 1e-3 pixel.
bool same_grid(const double* a, const double* b) {
  const double px = std::max(std::abs(a[1]), std::abs(a[5]));
  for (int i : {1, 2, 4, 5})
    if (std::abs(a[i] - b[i]) > 1e-9 * std::max(1.0, px)) return false;
  return std::abs(a[0] - b[0]) <= 1e-3 * std::abs(a[1]) &&
         std::abs(a[3] - b[3]) <= 1e-3 * std::abs(a[5]);
}

std::string raster_date(GDALDataset& ds) {
  for (const char* item : {"datetime", "TIFFTAG_DATETIME", "ACQUISITIONDATETIME", "DATE"}) {
    const char* v = ds.GetMetadataItem(item);
    if (v && *v) {
      std::string text = v;
      if (text.size() >= 10 && text[4] == ':' && text[7] == ':') text[4] = text[7] = '-';
      if (text.size() > 10 && text[10] == ' ') text[10] = 'T';
      return text;
    }
  }
  return "";
}

void centre_lon_lat(const OGRSpatialReference& srs, const std::array<double, 6>& gt, int w, int h,
                    SampleRecord& record) {
  OGRSpatialReference wgs84;
  wgs84.importFromEPSG(4326);
  wgs84.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  OGRSpatialReference source(srs);
  source.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  std::unique_ptr<OGRCoordinateTransformation> ct(
      OGRCreateCoordinateTransformation(&source, &wgs84));
  if (!ct) return;
  double x = gt[0] + gt[1] * w / 2.0 + gt[2] * h / 2.0;
  double y = gt[3] + gt[4] * w / 2.0 + gt[5] * h / 2.0;
  if (ct->Transform(1, &x, &y)) {
    record.center_lon = x;
    record.center_lat = y;
  }
}

}  // namespace

LoadedSample load_sample(const Candidate& candidate, const BuildOptions& options,
                         DatasetCache& cache) {
  LoadedSample out;
  out.problems = candidate.problems;
  SampleRecord& record = out.sample.record;
  record.key = candidate.key;
  const RasterSlice* reference = nullptr;
  double reference_gt[6] = {0, 1, 0, 0, 0, 1};
  int reference_size[2] = {0, 0};
  OGRSpatialReference reference_srs;
  bool have_srs = false;
  auto problem = [&](const std::string& path, const std::string& reason, const std::string& text) {
    out.problems.push_back({path, reason, path + ": " + text});
  };

  for (const auto& modality : ModalityRegistry::instance().modalities()) {
    const auto it = candidate.rasters.find(modality.name);
    if (it == candidate.rasters.end()) continue;
    const RasterSlice& slice = it->second;
    GDALDataset* ds = cache.open(slice.path);
    if (!ds) {
      problem(slice.label, "unreadable", "GDAL cannot open it as a raster");
      continue;
    }
    const int bands = ds->GetRasterCount();
    if (bands != modality.channels()) {
      std::vector<std::string> names;
      for (const auto& b : modality.bands) names.push_back(b.name);
      problem(slice.label, "band count",
              std::to_string(bands) + " band(s), " + modality.name + " has " +
                  std::to_string(modality.channels()) + " (" + join(names, " ") + ")");
      continue;
    }
    const GDALDataType type = ds->GetRasterBand(1)->GetRasterDataType();
    const std::string type_name = GDALGetDataTypeName(type);
    bool mixed = false;
    for (int b = 2; b <= bands; ++b) mixed |= ds->GetRasterBand(b)->GetRasterDataType() != type;
    const auto dtype = dtype_from_gdal_name(type_name);
    if (mixed || !modality.accepts_raster_type(type_name) || !dtype) {
      problem(slice.label, "data type",
              (mixed ? std::string("bands of different data types") : "data type " + type_name) +
                  "; " + modality.name + " takes " + join(modality.raster_types, ", "));
      continue;
    }
    double gt[6];
    const OGRSpatialReference* srs = ds->GetSpatialRef();
    if (ds->GetGeoTransform(gt) != CE_None || !srs || srs->IsEmpty()) {
      problem(slice.label, "not georeferenced",
              "no CRS or geotransform (shards record where every sample is)");
      continue;
    }
    const int w = ds->GetRasterXSize(), h = ds->GetRasterYSize();
    if (!reference) {
      reference = &slice;
      std::copy(gt, gt + 6, reference_gt);
      reference_size[0] = w;
      reference_size[1] = h;
      reference_srs = *srs;
      have_srs = true;
    } else {
      std::string why;
      if (!srs->IsSame(&reference_srs))
        why = "CRS differs";
      else if (w != reference_size[0] || h != reference_size[1])
        why = "size " + std::to_string(w) + "x" + std::to_string(h) + " differs from " +
              std::to_string(reference_size[0]) + "x" + std::to_string(reference_size[1]);
      else if (!same_grid(gt, reference_gt))
        why = "geotransform (" + number(gt[0]) + ", " + number(gt[1]) + ", " + number(gt[3]) +
              ", " + number(gt[5]) + ") differs from (" + number(reference_gt[0]) + ", " +
              number(reference_gt[1]) + ", " + number(reference_gt[3]) + ", " +
              number(reference_gt[5]) + ")";
      if (!why.empty()) {
        problem(slice.label, "misaligned",
                "not on the grid of " + reference->label + " (" + why + ")");
        continue;
      }
    }
    const int cw = slice.width > 0 ? slice.width : w, ch = slice.width > 0 ? slice.height : h;
    if (slice.col + cw > w || slice.row + ch > h) {
      problem(slice.label, "misaligned",
              "the chip at column " + std::to_string(slice.col) + ", row " +
                  std::to_string(slice.row) + " lies outside the raster");
      continue;
    }
    Array array;
    array.dtype = *dtype;
    array.bands = bands;
    array.width = cw;
    array.height = ch;
    array.data.resize(array.byte_size());
    const int size = static_cast<int>(dtype_size(*dtype));
    if (ds->RasterIO(GF_Read, slice.col, slice.row, cw, ch, array.data.data(), cw, ch, type, bands,
                     nullptr, size, static_cast<GSpacing>(size) * cw,
                     static_cast<GSpacing>(size) * cw * ch, nullptr) != CE_None) {
      problem(slice.label, "unreadable", std::string("read failed: ") + CPLGetLastErrorMsg());
      continue;
    }
    // Checks on the values: nodata and plausibility.
    std::vector<std::optional<double>> nodata(bands);
    for (int b = 0; b < bands; ++b) {
      int has = 0;
      const double v = ds->GetRasterBand(b + 1)->GetNoDataValue(&has);
      if (has) nodata[b] = v;
    }
    const std::size_t plane = static_cast<std::size_t>(cw) * ch;
    std::size_t missing = 0, outside = 0;
    double low = std::numeric_limits<double>::infinity(), high = -low;
    const auto& range = modality.plausible_range;
    for (int b = 0; b < bands; ++b) {
      const NodataTest is_nodata(nodata[b]);
      for (std::size_t i = 0; i < plane; ++i) {
        const double v = array.value(b * plane + i);
        if (is_nodata(v)) {
          ++missing;
          continue;
        }
        if (range && (v < (*range)[0] || v > (*range)[1] || !std::isfinite(v) ||
                      (modality.is_class_map() && v != std::floor(v)))) {
          ++outside;
          low = std::min(low, v);
          high = std::max(high, v);
        }
      }
    }
    const double fraction = static_cast<double>(missing) / static_cast<double>(plane * bands);
    const std::string where = slice.width > 0
                                  ? " in the chip at column " + std::to_string(slice.col) +
                                        ", row " + std::to_string(slice.row)
                                  : "";
    if (missing == plane * bands) {
      problem(slice.label, "all nodata", "every value" + where + " is NaN or nodata");
      continue;
    }
    if (fraction > options.max_nodata_fraction) {
      problem(slice.label, "too much nodata",
              number(std::round(fraction * 1000) / 10) + " % of the values" + where +
                  " are NaN or nodata (limit " + number(options.max_nodata_fraction * 100) +
                  " %, --max-nodata)");
      continue;
    }
    if (outside > 0) {
      problem(slice.label, "implausible values",
              std::to_string(outside) + " value(s)" + where + " outside the plausible range [" +
                  number((*range)[0]) + ", " + number((*range)[1]) + "] of " + modality.name +
                  " (" + modality.units + "): min " + number(low) + ", max " + number(high));
      continue;
    }
    if (slice.width > 0)
      record.sources[modality.name] =
          slice.label + "#" + std::to_string(slice.col) + "," + std::to_string(slice.row);
    else
      record.sources[modality.name] = slice.label;
    if (record.date.empty()) record.date = !slice.date.empty() ? slice.date : raster_date(*ds);
    out.nodata[modality.name] = nodata;
    out.sample.arrays[modality.name] = std::move(array);
  }
  if (reference && have_srs) {
    record.crs = crs_string(reference_srs);
    const RasterSlice& s = *reference;
    record.width = s.width > 0 ? s.width : reference_size[0];
    record.height = s.width > 0 ? s.height : reference_size[1];
    const double* g = reference_gt;
    record.geotransform = {g[0] + s.col * g[1] + s.row * g[2], g[1], g[2],
                           g[3] + s.col * g[4] + s.row * g[5], g[4], g[5]};
    centre_lon_lat(reference_srs, record.geotransform, record.width, record.height, record);
  }
  if (out.sample.arrays.empty() && out.problems.empty())
    out.problems.push_back({candidate.key, "empty", candidate.key + ": no modality could be read"});
  return out;
}

}  // namespace terramind::shards
