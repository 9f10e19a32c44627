// Planning: scene footprints in the target grid, the tiles they touch, the scenes of each tile.
#include <gdal_priv.h>
#include <ogr_geometry.h>
#include <ogr_spatialref.h>
#include <ogrsf_frmts.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <memory>
#include <set>

#include "tm/mosaic.h"
#include "tm/raster_io.h"

namespace terramind {
namespace {

using Geometry = std::unique_ptr<OGRGeometry, decltype(&OGRGeometryFactory::destroyGeometry)>;
Geometry no_geometry() { return Geometry(nullptr, &OGRGeometryFactory::destroyGeometry); }

constexpr int kEdgePoints = 20;  // per footprint edge: curved edges after reprojection
// Boxes are grown by this many pixels before they are matched with footprints: the warp kernel
// (up to 3 px for lanczos) and the densified footprint's chords must not drop a scene that
// holds a pixel of the box, or tiles of different sizes would see different scenes there.
constexpr int kMatchMarginPx = 4;

PixelBox grown(const PixelBox& b, int px) { return {b.x0 - px, b.y0 - px, b.x1 + px, b.y1 + px}; }

OGRSpatialReference srs_of(const std::string& wkt) {
  OGRSpatialReference srs;
  if (srs.importFromWkt(wkt.c_str()) != OGRERR_NONE) throw MosaicError("unreadable CRS: " + wkt);
  srs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  return srs;
}

std::string utc_now() {
  std::time_t now = std::time(nullptr);
  if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH")) now = std::atoll(epoch);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

// A box as a closed ring densified along its edges.
std::unique_ptr<OGRPolygon> box_polygon(double x0, double y0, double x1, double y1,
                                        int points = 1) {
  auto ring = std::make_unique<OGRLinearRing>();
  const double xs[4] = {x0, x1, x1, x0}, ys[4] = {y0, y0, y1, y1};
  for (int e = 0; e < 4; ++e)
    for (int k = 0; k < points; ++k) {
      const double t = static_cast<double>(k) / points;
      ring->addPoint(xs[e] + (xs[(e + 1) % 4] - xs[e]) * t, ys[e] + (ys[(e + 1) % 4] - ys[e]) * t);
    }
  ring->closeRings();
  auto polygon = std::make_unique<OGRPolygon>();
  polygon->addRingDirectly(ring.release());
  return polygon;
}

std::unique_ptr<OGRPolygon> map_box(const std::array<double, 4>& b) {
  return box_polygon(b[0], b[1], b[2], b[3]);
}

// A raster's header: CRS, geotransform, size; nullopt with `why` when it cannot be read.
struct RasterHeader {
  std::string crs_wkt;
  double gt[6];
  int width = 0, height = 0;
};

std::optional<RasterHeader> read_header(const std::string& path, std::string& why) {
  CPLErrorReset();
  GDALDatasetUniquePtr ds(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  if (!ds) {
    why = CPLGetLastErrorMsg()[0] ? CPLGetLastErrorMsg() : "not a raster GDAL can read";
    return std::nullopt;
  }
  RasterHeader h;
  h.width = ds->GetRasterXSize();
  h.height = ds->GetRasterYSize();
  const OGRSpatialReference* srs = ds->GetSpatialRef();
  if (!srs || ds->GetGeoTransform(h.gt) != CE_None) {
    why = "it has no georeferencing (CRS and geotransform)";
    return std::nullopt;
  }
  char* wkt = nullptr;
  const char* options[] = {"FORMAT=WKT2", nullptr};
  srs->exportToWkt(&wkt, options);
  h.crs_wkt = wkt ? wkt : "";
  CPLFree(wkt);
  return h;
}

// Transforms `geometry` (in `from`) into `to`; throws MosaicError naming `what`.
void transform(OGRGeometry& geometry, const OGRSpatialReference& from,
               const OGRSpatialReference& to, const std::string& what) {
  if (from.IsSame(&to)) return;
  std::unique_ptr<OGRCoordinateTransformation> ct(OGRCreateCoordinateTransformation(&from, &to));
  if (!ct || geometry.transform(ct.get()) != OGRERR_NONE)
    throw MosaicError("cannot transform " + what + " into the target CRS");
}

// Transformations into the target CRS, one per source CRS: creating one looks PROJ's database
// up, which would otherwise dominate planning (thousands of scenes share a handful of CRSs).
class TargetTransforms {
 public:
  explicit TargetTransforms(const OGRSpatialReference& target) : target_(target) {}
  void apply(OGRGeometry& geometry, const std::string& source_wkt, const std::string& what) {
    auto it = cache_.find(source_wkt);
    if (it == cache_.end()) {
      const OGRSpatialReference source = srs_of(source_wkt);
      std::unique_ptr<OGRCoordinateTransformation> ct;
      if (!source.IsSame(&target_)) ct.reset(OGRCreateCoordinateTransformation(&source, &target_));
      it = cache_.emplace(source_wkt, Entry{std::move(ct), source.IsSame(&target_) != 0}).first;
    }
    if (it->second.identity) return;
    if (!it->second.ct || geometry.transform(it->second.ct.get()) != OGRERR_NONE)
      throw MosaicError("cannot transform " + what + " into the target CRS");
  }

 private:
  struct Entry {
    std::unique_ptr<OGRCoordinateTransformation> ct;
    bool identity = false;
  };
  const OGRSpatialReference& target_;
  std::map<std::string, Entry> cache_;
};

Geometry raster_footprint(const RasterHeader& h) {
  const double* g = h.gt;
  auto ring = std::make_unique<OGRLinearRing>();
  const double px[4] = {0, double(h.width), double(h.width), 0},
               py[4] = {0, 0, double(h.height), double(h.height)};
  for (int e = 0; e < 4; ++e)
    for (int k = 0; k < kEdgePoints; ++k) {
      const double t = static_cast<double>(k) / kEdgePoints;
      const double x = px[e] + (px[(e + 1) % 4] - px[e]) * t,
                   y = py[e] + (py[(e + 1) % 4] - py[e]) * t;
      ring->addPoint(g[0] + x * g[1] + y * g[2], g[3] + x * g[4] + y * g[5]);
    }
  ring->closeRings();
  auto* polygon = new OGRPolygon();
  polygon->addRingDirectly(ring.release());
  return Geometry(polygon, &OGRGeometryFactory::destroyGeometry);
}

// The region of interest in the target CRS: the bounds box and/or the AOI's polygons.
Geometry region_of_interest(const PlanRequest& r, const OGRSpatialReference& target) {
  Geometry region = no_geometry();
  if (r.has_bounds) {
    const auto& b = r.bounds;
    if (!(b[0] < b[2] && b[1] < b[3]))
      throw MosaicError("the bounds are empty: min x must be below max x and min y below max y");
    std::unique_ptr<OGRPolygon> box = box_polygon(b[0], b[1], b[2], b[3], kEdgePoints);
    if (!r.bounds_crs.empty())
      transform(*box, srs_of(crs_to_wkt(r.bounds_crs)), target, "the bounds");
    region.reset(box.release());
  }
  if (!r.aoi.empty()) {
    GDALDatasetUniquePtr ds(GDALDataset::Open(r.aoi.c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY));
    if (!ds) throw MosaicError("cannot read the AOI " + r.aoi + " as a vector file");
    auto aoi = std::make_unique<OGRMultiPolygon>();
    for (auto&& layer : ds->GetLayers()) {
      const OGRSpatialReference* srs = layer->GetSpatialRef();
      for (auto&& feature : *layer) {
        const OGRGeometry* g = feature->GetGeometryRef();
        if (!g) continue;
        Geometry copy(g->clone(), &OGRGeometryFactory::destroyGeometry);
        if (srs) {
          OGRSpatialReference from(*srs);
          from.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
          transform(*copy, from, target, "the AOI " + r.aoi);
        }
        const auto type = wkbFlatten(copy->getGeometryType());
        if (type == wkbPolygon) {
          aoi->addGeometry(copy.get());
        } else if (type == wkbMultiPolygon) {
          for (const auto* part : *copy->toMultiPolygon()) aoi->addGeometry(part);
        }
      }
    }
    if (aoi->IsEmpty()) throw MosaicError("the AOI " + r.aoi + " holds no polygon");
    if (region) {
      Geometry both(region->Intersection(aoi.get()), &OGRGeometryFactory::destroyGeometry);
      if (!both || both->IsEmpty())
        throw MosaicError("the AOI " + r.aoi + " does not overlap the bounds");
      region = std::move(both);
    } else {
      region.reset(aoi.release());
    }
  }
  return region;
}

// The tile range whose tiles (grown by `margin` px) touch an envelope in map units.
struct TileRange {
  std::int64_t col0, col1, row0, row1;  // inclusive
};
TileRange tile_range(const MosaicGrid& g, const OGREnvelope& e, int margin) {
  const double t = g.tile_size;
  auto col = [&](double x) { return static_cast<std::int64_t>(std::floor(x / g.res_x / t)); };
  auto row = [&](double y) { return static_cast<std::int64_t>(std::floor(-y / g.res_y / t)); };
  const double mx = margin * g.res_x, my = margin * g.res_y;
  return {col(e.MinX - mx), col(e.MaxX + mx), row(e.MaxY + my), row(e.MinY - my)};
}

}  // namespace

MosaicPlan make_plan(const PlanRequest& r) {
  GDALAllRegister();
  MosaicPlan p;
  p.tm_version = tm_version();
  p.created = utc_now();
  p.settings = r.settings;
  p.model = r.model;
  p.targets = r.targets;
  p.runtime_library = r.runtime_library;
  p.runtime_options = r.runtime_options;
  p.rule = r.rule;
  p.resampling = r.resampling;
  p.format_name = r.format;
  p.allow_any_resolution = r.allow_any_resolution;
  p.grid = r.grid;
  if (p.targets.empty()) throw MosaicError("no target: name what to generate (--to LULC)");
  if (p.grid.tile_size < 16) throw MosaicError("the tile size must be at least 16 px");
  const TilingOptions tiling = plan_tiling_options(p);  // refuses bad settings early
  p.window_size = tiling.window_size;
  p.overlap = tiling.overlap;

  // Headers of the scenes: every scene without an item footprint, and every scene when the
  // target CRS or pixel size comes from them.
  const bool need_crs = p.grid.crs.empty(), need_res = p.grid.res_x <= 0 || p.grid.res_y <= 0;
  std::vector<std::optional<RasterHeader>> headers(r.scenes.size());
  std::vector<std::string> unreadable(r.scenes.size());
  for (std::size_t i = 0; i < r.scenes.size(); ++i) {
    const MosaicScene& s = r.scenes[i];
    if (!s.footprint_source_wkt.empty() && !need_crs && !(need_res && i == 0)) continue;
    headers[i] = read_header(s.inputs.begin()->second, unreadable[i]);
  }
  if (need_crs) {
    std::map<std::string, std::string> crss;  // display name -> WKT
    for (std::size_t i = 0; i < r.scenes.size(); ++i)
      if (headers[i]) crss.emplace(crs_display_name(headers[i]->crs_wkt), headers[i]->crs_wkt);
    if (crss.empty())
      throw MosaicError("no scene could be read to take the target CRS from; give it (--t-srs)");
    if (crss.size() > 1) {
      std::string names;
      for (const auto& [name, wkt] : crss) names += (names.empty() ? "" : ", ") + name;
      throw MosaicError("the scenes are in " + std::to_string(crss.size()) + " CRSs (" + names +
                        "): give the target grid's CRS (--t-srs, e.g. EPSG:3035) and pixel size "
                        "(--tr) to warp them into one grid");
    }
    p.grid.crs_wkt = crss.begin()->second;
    p.grid.crs = crs_display_name(p.grid.crs_wkt);
  } else {
    try {
      p.grid.crs_wkt = crs_to_wkt(p.grid.crs);
    } catch (const RasterError& e) {
      throw MosaicError(std::string("the target CRS: ") + e.what());
    }
  }
  const OGRSpatialReference target = srs_of(p.grid.crs_wkt);
  if (need_res) {
    const auto& first = headers.front();
    if (!first || !srs_of(first->crs_wkt).IsSame(&target))
      throw MosaicError("give the target pixel size (--tr): the first scene " +
                        (first ? std::string("is in another CRS") : std::string("cannot be read")));
    p.grid.res_x = std::abs(first->gt[1]);
    p.grid.res_y = std::abs(first->gt[5]);
  }

  // Footprints in the target CRS; scenes that cannot be placed are left out, with a warning.
  TargetTransforms transforms(target);
  OGRSpatialReference wgs84;
  wgs84.importFromEPSG(4326);
  wgs84.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  char* wgs84_text = nullptr;
  wgs84.exportToWkt(&wgs84_text);
  const std::string wgs84_wkt = wgs84_text ? wgs84_text : "";
  CPLFree(wgs84_text);
  std::vector<Geometry> footprints;
  for (std::size_t i = 0; i < r.scenes.size(); ++i) {
    const MosaicScene& s = r.scenes[i];
    Geometry footprint = no_geometry();
    try {
      if (!s.footprint_source_wkt.empty()) {
        footprint.reset(OGRGeometryFactory::createFromGeoJson(s.footprint_source_wkt.c_str()));
        if (!footprint) throw MosaicError("its geometry is not valid GeoJSON");
        transforms.apply(*footprint, wgs84_wkt, "the footprint of " + s.id);
      } else if (headers[i]) {
        footprint = raster_footprint(*headers[i]);
        transforms.apply(*footprint, headers[i]->crs_wkt, "the footprint of " + s.id);
      } else {
        throw MosaicError("it cannot be read (" + unreadable[i] + ")");
      }
    } catch (const MosaicError& e) {
      p.warnings.push_back("scene " + s.id + " (" + s.inputs.begin()->second +
                           ") is left out: " + e.what());
      continue;
    }
    p.scenes.push_back(s);
    p.scenes.back().footprint_source_wkt.clear();
    char* wkt = nullptr;
    footprint->exportToWkt(&wkt);
    p.scenes.back().footprint_wkt = wkt ? wkt : "";
    CPLFree(wkt);
    footprints.push_back(std::move(footprint));
  }
  if (p.scenes.empty()) throw MosaicError("no scene can be placed on the target grid");

  // The model only knows its modalities' native resolution: check the target pixel size once.
  if (!p.allow_any_resolution) {
    std::set<std::string> modalities;
    for (const auto& s : p.scenes)
      for (const auto& [m, path] : s.inputs) modalities.insert(m);
    OGREnvelope all;
    footprints.front()->getEnvelope(&all);
    RasterInfo probe;
    probe.width = probe.height = 1;
    probe.georef.crs_wkt = p.grid.crs_wkt;
    probe.georef.geotransform = {(all.MinX + all.MaxX) / 2, p.grid.res_x, 0.0,
                                 (all.MinY + all.MaxY) / 2, 0.0,          -p.grid.res_y};
    probe.georef.has_geotransform = true;
    for (const auto& m : modalities) {
      const std::string why = resolution_mismatch(probe, ModalityRegistry::instance().get(m));
      if (!why.empty())
        throw MosaicError("the target pixel size cannot be read as " + m + ": " + why +
                          " (--allow-resolution)");
    }
  }

  // Each scene walks its own tile range (grown by one window: its pixels feed the windows of
  // tiles up to a window away), so the work is linear in scenes and tiles.
  using Key = std::pair<std::int64_t, std::int64_t>;  // (row, col): row-major order
  std::map<Key, std::vector<int>> feeding;            // scenes reaching a tile's context
  std::set<Key> holds_data;                           // tiles a footprint touches
  for (std::size_t s = 0; s < p.scenes.size(); ++s) {
    OGREnvelope env;
    footprints[s]->getEnvelope(&env);
    OGRPreparedGeometryUniquePtr prepared(
        OGRCreatePreparedGeometry(OGRGeometry::ToHandle(footprints[s].get())));
    const TileRange range = tile_range(p.grid, env, p.window_size + kMatchMarginPx);
    for (std::int64_t row = range.row0; row <= range.row1; ++row)
      for (std::int64_t col = range.col0; col <= range.col1; ++col) {
        const PixelBox own = tile_pixels(p.grid, {col, row});
        const auto context = map_box(map_bounds(
            p.grid, grown(window_context(own, p.window_size, p.overlap), kMatchMarginPx)));
        if (!OGRPreparedGeometryIntersects(prepared.get(), OGRGeometry::ToHandle(context.get())))
          continue;
        feeding[{row, col}].push_back(static_cast<int>(s));
        const auto box = map_box(map_bounds(p.grid, grown(own, kMatchMarginPx)));
        if (OGRPreparedGeometryIntersects(prepared.get(), OGRGeometry::ToHandle(box.get())))
          holds_data.insert({row, col});
      }
  }

  // Rule order: dated scenes by datetime, then undated ones, each as listed.
  auto rule_order = [&](std::vector<int> scenes) {
    std::stable_sort(scenes.begin(), scenes.end(), [&](int a, int b) {
      const std::string &da = p.scenes[a].datetime, &db = p.scenes[b].datetime;
      if (da.empty() != db.empty()) return db.empty();
      return da < db;
    });
    return scenes;
  };
  const Geometry region = region_of_interest(r, target);
  if (region) {
    OGREnvelope env;
    region->getEnvelope(&env);
    OGRPreparedGeometryUniquePtr prepared(
        OGRCreatePreparedGeometry(OGRGeometry::ToHandle(region.get())));
    const TileRange range = tile_range(p.grid, env, 0);
    std::size_t with_input = 0;
    for (std::int64_t row = range.row0; row <= range.row1; ++row)
      for (std::int64_t col = range.col0; col <= range.col1; ++col) {
        const auto box = map_box(map_bounds(p.grid, tile_pixels(p.grid, {col, row})));
        // Touching is not enough: a tile sharing only an edge with the region has no pixel in it.
        if (!OGRPreparedGeometryIntersects(prepared.get(), OGRGeometry::ToHandle(box.get())))
          continue;
        Geometry overlap(box->Intersection(region.get()), &OGRGeometryFactory::destroyGeometry);
        if (!overlap || overlap->IsEmpty() ||
            wkbFlatten(overlap->getGeometryType()) == wkbLineString)
          continue;
        MosaicTile tile{{col, row}, {}};
        if (holds_data.count({row, col})) {
          tile.scenes = rule_order(feeding[{row, col}]);
          ++with_input;
        }
        p.tiles.push_back(std::move(tile));
      }
    if (with_input == 0)
      throw MosaicError(std::string(r.aoi.empty() ? "the bounds" : "the AOI " + r.aoi) +
                        " overlap no scene (" + std::to_string(p.scenes.size()) +
                        " scenes planned)");
  } else {
    for (const Key& key : holds_data)
      p.tiles.push_back({{key.second, key.first}, rule_order(feeding[key])});
  }
  return p;
}

}  // namespace terramind
