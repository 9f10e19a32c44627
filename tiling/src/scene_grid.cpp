// Multi-input scenes must share one pixel grid; the refusal says what differs and how to fix it.
#include <ogr_spatialref.h>

#include <cstring>
#include <iomanip>
#include <sstream>

#include "gdal_session.h"
#include "tm/ascii_strings.h"
#include "tm/tiling.h"

namespace terramind {
namespace {

std::string size_text(const RasterInfo& info) {
  return std::to_string(info.width) + "x" + std::to_string(info.height);
}

std::string transform_text(const GeoReference& g) {
  if (!g.has_geotransform) return "no geotransform";
  std::ostringstream out;
  out << std::setprecision(15) << "origin (" << g.geotransform[0] << ", " << g.geotransform[3]
      << "), pixel " << g.geotransform[1] << " x " << g.geotransform[5];
  if (g.geotransform[2] != 0.0 || g.geotransform[4] != 0.0)
    out << ", rotation " << g.geotransform[2] << ", " << g.geotransform[4];
  return out.str();
}

// "EPSG:32632" when the CRS has an authority code, else its name; for a gdalwarp hint.
std::string crs_code(const std::string& wkt) {
  OGRSpatialReference srs;
  if (wkt.empty() || srs.importFromWkt(wkt.c_str()) != OGRERR_NONE) return "";
  const char* authority = srs.GetAuthorityName(nullptr);
  const char* code = srs.GetAuthorityCode(nullptr);
  if (authority && code) return std::string(authority) + ":" + code;
  return "";
}

// gdalwarp options that put a raster on `info`'s grid (north-up grids only).
std::string warp_hint(const RasterInfo& info) {
  const auto& gt = info.georef.geotransform;
  if (!info.georef.has_geotransform || gt[2] != 0.0 || gt[4] != 0.0) return "";
  std::ostringstream out;
  out << std::setprecision(15) << "gdalwarp";
  const std::string code = crs_code(info.georef.crs_wkt);
  if (!code.empty()) out << " -t_srs " << code;
  out << " -te " << gt[0] << " " << gt[3] + info.height * gt[5] << " " << gt[0] + info.width * gt[1]
      << " " << gt[3] << " -ts " << info.width << " " << info.height;
  return out.str();
}

}  // namespace

void require_same_grid(const RasterInfo& first, const RasterInfo& other) {
  ensure_gdal_registered();
  std::vector<std::string> differences;
  if (first.width != other.width || first.height != other.height)
    differences.push_back("size " + size_text(first) + " vs " + size_text(other));
  GeoReference crs_only = other.georef;  // compare the CRS alone
  crs_only.geotransform = first.georef.geotransform;
  crs_only.has_geotransform = first.georef.has_geotransform;
  if (!first.georef.same_grid_as(crs_only))
    differences.push_back("CRS " + crs_display_name(first.georef.crs_wkt) + " vs " +
                          crs_display_name(other.georef.crs_wkt));
  if (first.georef.has_geotransform != other.georef.has_geotransform ||
      std::memcmp(first.georef.geotransform.data(), other.georef.geotransform.data(),
                  sizeof(double) * 6) != 0)
    differences.push_back("geotransform " + transform_text(first.georef) + " vs " +
                          transform_text(other.georef));
  if (differences.empty()) return;
  std::string message =
      "inputs are not on one grid: " + first.path + " and " + other.path + " differ in ";
  message += join(differences, "; ");
  const std::string hint = warp_hint(first);
  message += ". Resample " + other.path + " onto the grid of " + first.path +
             (hint.empty() ? "" : " (" + hint + ")") + " first";
  throw RasterError(message);
}

}  // namespace terramind
