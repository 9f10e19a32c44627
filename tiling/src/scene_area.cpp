// Areas of interest: inputs cropped to a box or a cutline as virtual rasters on the input grid.
#include <gdal_priv.h>
#include <gdal_utils.h>
#include <ogrsf_frmts.h>

#include <atomic>
#include <cmath>

#include "gdal_session.h"
#include "tm/tiling.h"

namespace terramind {
namespace {

std::string number(double v) { return CPLSPrintf("%.17g", v); }

// Runs a GDAL utility that returns a dataset; the dataset is closed (a VRT file stays).
template <typename Options, typename NewFn, typename FreeFn, typename RunFn>
void run_gdal_utility(CPLStringList& args, NewFn make, FreeFn release, RunFn run,
                      const std::string& what) {
  GdalErrorCapture capture;
  Options* options = make(args.List(), nullptr);  // List() of a non-const list: char**
  if (!options) throw RasterError(what + ": " + capture.last_message());
  int usage_error = FALSE;
  GDALDatasetH out = run(options, &usage_error);
  release(options);
  if (!out) throw RasterError(what + ": " + capture.last_message());
  GDALClose(out);
}

// The cutline's extent in the raster's CRS: minx, miny, maxx, maxy.
std::array<double, 4> cutline_extent(const std::string& cutline, const RasterInfo& info) {
  GdalErrorCapture capture;
  GDALDataset* ds = static_cast<GDALDataset*>(
      GDALOpenEx(cutline.c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY, nullptr, nullptr, nullptr));
  if (!ds) throw RasterError("cutline " + cutline + " is not a vector file GDAL can read");
  OGRSpatialReference raster_srs;
  raster_srs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  raster_srs.importFromWkt(info.georef.crs_wkt.c_str());
  OGREnvelope all;
  bool any = false;
  for (OGRLayer* layer : ds->GetLayers()) {
    for (auto& feature : *layer) {
      OGRGeometry* geometry = feature->GetGeometryRef();
      if (!geometry) continue;
      std::unique_ptr<OGRGeometry> copy(geometry->clone());
      if (copy->getSpatialReference() && !info.georef.crs_wkt.empty() &&
          copy->transformTo(&raster_srs) != OGRERR_NONE) {
        GDALClose(ds);
        throw RasterError("cutline " + cutline + " cannot be transformed to the scene's CRS");
      }
      OGREnvelope e;
      copy->getEnvelope(&e);
      all.Merge(e);
      any = true;
    }
  }
  GDALClose(ds);
  if (!any) throw RasterError("cutline " + cutline + " has no geometry");
  return {all.MinX, all.MinY, all.MaxX, all.MaxY};
}

}  // namespace

std::vector<SceneInput> crop_to_area(const std::vector<SceneInput>& inputs,
                                     const AreaOfInterest& area) {
  if (area.empty()) return inputs;
  ensure_gdal_registered();
  static std::atomic<int> counter{0};
  std::vector<SceneInput> cropped;
  for (const SceneInput& input : inputs) {
    const RasterInfo info = inspect_raster(input.path);
    if (!info.georef.is_georeferenced())
      throw RasterError(input.path +
                        " has no georeferencing: an area of interest cannot be placed");
    const std::string base = "/vsimem/tm_area/" + std::to_string(counter++) + "_";
    // 1. The box (given, or the cutline's extent) as a window of the input grid: no resampling.
    std::array<double, 4> box = area.box;
    std::string box_crs = area.box_crs;
    if (!area.has_box) {
      box = cutline_extent(area.cutline, info);
      box_crs.clear();
    }
    CPLStringList translate;
    // -eco: a box entirely off the scene is an error, not an empty raster.
    for (const char* a : {"-of", "VRT", "-eco", "-projwin"}) translate.AddString(a);
    for (const double v : {box[0], box[3], box[2], box[1]}) translate.AddString(number(v).c_str());
    if (!box_crs.empty()) {
      translate.AddString("-projwin_srs");
      translate.AddString(box_crs.c_str());
    }
    const std::string window = base + "window.vrt";
    GDALDatasetH src = GDALOpen(input.path.c_str(), GA_ReadOnly);
    if (!src) throw RasterError(input.path + " cannot be opened");
    run_gdal_utility<GDALTranslateOptions>(
        translate, GDALTranslateOptionsNew, GDALTranslateOptionsFree,
        [&](GDALTranslateOptions* o, int* err) {
          return GDALTranslate(window.c_str(), src, o, err);
        },
        "the area of interest does not overlap " + input.path + " or is invalid");
    GDALClose(src);
    std::string path = window;
    // 2. A cutline masks pixels outside its polygons as nodata, on the same grid (-te/-ts,
    // nearest).
    if (!area.cutline.empty()) {
      const RasterInfo w = inspect_raster(window);
      const auto& gt = w.georef.geotransform;
      CPLStringList warp;
      for (const char* a : {"-of", "VRT", "-r", "near", "-cutline"}) warp.AddString(a);
      warp.AddString(area.cutline.c_str());
      warp.AddString("-te");
      for (const double v : {gt[0], gt[3] + gt[5] * w.height, gt[0] + gt[1] * w.width, gt[3]})
        warp.AddString(number(v).c_str());
      warp.AddString("-ts");
      warp.AddString(std::to_string(w.width).c_str());
      warp.AddString(std::to_string(w.height).c_str());
      warp.AddString("-dstnodata");
      warp.AddString(number(info.nodata.value_or(info.is_floating_point() ? NAN : 0.0)).c_str());
      const std::string masked = base + "cutline.vrt";
      GDALDatasetH window_ds = GDALOpen(window.c_str(), GA_ReadOnly);
      run_gdal_utility<GDALWarpAppOptions>(
          warp, GDALWarpAppOptionsNew, GDALWarpAppOptionsFree,
          [&](GDALWarpAppOptions* o, int* err) {
            return GDALWarp(masked.c_str(), nullptr, 1, &window_ds, o, err);
          },
          "cutting " + input.path + " with " + area.cutline + " failed");
      GDALClose(window_ds);
      path = masked;
    }
    cropped.push_back({path, input.modality, input.origin.empty() ? input.path : input.origin});
  }
  return cropped;
}

}  // namespace terramind
