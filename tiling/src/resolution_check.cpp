// Pixel size against a modality's native resolution.
#include <ogr_spatialref.h>

#include <cmath>
#include <sstream>

#include "tm/tiling.h"

namespace terramind {

std::optional<double> pixel_size_metres(const RasterInfo& info) {
  if (!info.georef.is_georeferenced()) return std::nullopt;
  OGRSpatialReference srs;
  if (srs.importFromWkt(info.georef.crs_wkt.c_str()) != OGRERR_NONE) return std::nullopt;
  const auto& gt = info.georef.geotransform;
  const double sx = std::hypot(gt[1], gt[4]), sy = std::hypot(gt[2], gt[5]);
  if (srs.IsGeographic()) {
    srs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
    const double lat = gt[3] + gt[4] * info.width / 2.0 + gt[5] * info.height / 2.0;
    const double radians = srs.GetAngularUnits() * lat;  // degrees -> radians via the unit
    const double metres_per_unit = 6378137.0 * srs.GetAngularUnits();  // along a meridian
    const double x = sx * metres_per_unit * std::cos(radians), y = sy * metres_per_unit;
    return std::sqrt(x * y);
  }
  if (srs.IsProjected()) return std::sqrt(sx * sy) * srs.GetLinearUnits();
  return std::nullopt;
}

std::string resolution_mismatch(const RasterInfo& info, const Modality& modality) {
  if (modality.resolution_m <= 0) return "";
  const auto size = pixel_size_metres(info);
  if (!size || *size <= 0) return "";
  const double ratio = *size / modality.resolution_m;
  if (ratio <= kResolutionTolerance && ratio >= 1.0 / kResolutionTolerance) return "";
  std::ostringstream why;
  why.precision(3);
  why << "pixel size " << *size << " m, " << modality.name << " is " << modality.resolution_m
      << " m (the model only knows its native resolution; resample it, or accept other "
         "resolutions explicitly)";
  return why.str();
}

}  // namespace terramind
