// Assembly: one VRT per target over the finished tiles, overviews, and optionally one COG.
#include <gdal_priv.h>
#include <gdal_utils.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "tm/ascii_strings.h"
#include "tm/mosaic.h"

namespace terramind {
namespace {

namespace fs = std::filesystem;

// GDALClose() returns nothing in GDAL 3.6: a failed final flush shows as the last error.
bool close_ok(GDALDatasetH dataset) {
  CPLErrorReset();
  GDALClose(dataset);
  return CPLGetLastErrorType() < CE_Failure;
}

bool marker_matches(const std::string& path, const std::string& hash) {
  std::ifstream in(path);
  if (!in) return false;
  try {
    nlohmann::json j;
    in >> j;
    return j.is_object() && j.value("hash", "") == hash;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

void rename_into_place(const std::string& temp, const std::string& path) {
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    std::remove(temp.c_str());
    throw MosaicError("cannot move " + path + " into place");
  }
}

// The VRT of one target over `tiles` (paths relative to the mosaic folder), written beside and
// renamed. Class rasters keep the first tile's colour table and class names.
std::string build_vrt(const std::string& folder, const std::string& target,
                      const std::vector<std::string>& tiles) {
  const std::string path = folder + "/mosaic_" + target + ".vrt";
  const std::string temp =
      folder + "/.mosaic_" + target + ".vrt.tm-partial-" + std::to_string(getpid());
  std::vector<std::string> absolute;
  for (const auto& t : tiles) absolute.push_back(folder + "/" + t);
  std::vector<const char*> names;
  for (const auto& a : absolute) names.push_back(a.c_str());
  CPLStringList args;
  args.AddString("-overwrite");
  GDALBuildVRTOptions* options = GDALBuildVRTOptionsNew(args.List(), nullptr);
  int usage_error = 0;
  CPLErrorReset();
  GDALDatasetH vrt = GDALBuildVRT(temp.c_str(), static_cast<int>(names.size()), nullptr,
                                  names.data(), options, &usage_error);
  GDALBuildVRTOptionsFree(options);
  if (!vrt) throw MosaicError("building " + path + " failed: " + CPLGetLastErrorMsg());
  // Class names, colours and tm's provenance of the tiles (not their per-tile inputs).
  GDALDatasetUniquePtr first(
      GDALDataset::Open(absolute.front().c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  GDALDataset* out = GDALDataset::FromHandle(vrt);
  if (first) {
    GDALRasterBand* from = first->GetRasterBand(1);
    for (int b = 1; b <= out->GetRasterCount() && b <= first->GetRasterCount(); ++b) {
      GDALRasterBand* band = out->GetRasterBand(b);
      GDALRasterBand* src = first->GetRasterBand(b);
      if (src->GetDescription()[0]) band->SetDescription(src->GetDescription());
      if (src->GetUnitType()[0]) band->SetUnitType(src->GetUnitType());
    }
    if (from->GetColorTable()) out->GetRasterBand(1)->SetColorTable(from->GetColorTable());
    if (char** categories = from->GetCategoryNames())
      out->GetRasterBand(1)->SetCategoryNames(categories);
    CPLStringList metadata;
    for (char** item = first->GetMetadata(); item && *item; ++item)
      if (std::string(*item).rfind("TM_INPUT_", 0) != 0) metadata.AddString(*item);
    metadata.SetNameValue("TM_MOSAIC_TILES", std::to_string(tiles.size()).c_str());
    out->SetMetadata(metadata.List());
  }
  if (!close_ok(vrt)) {
    std::remove(temp.c_str());
    throw MosaicError("writing " + path + " failed: " + CPLGetLastErrorMsg());
  }
  // The VRT names its sources relative to itself: its final name sits in the same folder.
  rename_into_place(temp, path);
  return path;
}

bool is_class_raster(const std::string& vrt) {
  GDALDatasetUniquePtr ds(GDALDataset::Open(vrt.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  return ds && ds->GetRasterBand(1)->GetColorTable() != nullptr;
}

std::string build_overviews(const std::string& vrt, bool classes) {
  GDALDatasetUniquePtr ds(GDALDataset::Open(vrt.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  if (!ds) throw MosaicError("cannot open " + vrt);
  std::vector<int> levels;
  for (int f = 2; std::max(ds->GetRasterXSize(), ds->GetRasterYSize()) / f >= 256; f *= 2)
    levels.push_back(f);
  const std::string ovr = vrt + ".ovr";
  std::remove(ovr.c_str());
  if (levels.empty()) return "";
  CPLSetThreadLocalConfigOption("COMPRESS_OVERVIEW", "DEFLATE");
  const CPLErr err =
      ds->BuildOverviews(classes ? "NEAREST" : "AVERAGE", static_cast<int>(levels.size()),
                         levels.data(), 0, nullptr, nullptr, nullptr, nullptr);
  CPLSetThreadLocalConfigOption("COMPRESS_OVERVIEW", nullptr);
  if (err != CE_None) throw MosaicError("building overviews of " + vrt + " failed");
  return ovr;
}

std::string build_cog(const std::string& folder, const std::string& target, const std::string& vrt,
                      bool classes) {
  const std::string path = folder + "/mosaic_" + target + ".tif";
  const std::string temp =
      folder + "/.mosaic_" + target + ".tif.tm-partial-" + std::to_string(getpid());
  GDALDatasetUniquePtr src(GDALDataset::Open(vrt.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  CPLStringList args;
  for (const char* a : {"-of", "COG", "-co", "COMPRESS=DEFLATE", "-co", "BIGTIFF=IF_SAFER", "-co",
                        "NUM_THREADS=ALL_CPUS", "-co"})
    args.AddString(a);
  args.AddString(classes ? "RESAMPLING=NEAREST" : "RESAMPLING=AVERAGE");
  if (!classes) {
    args.AddString("-co");
    args.AddString("PREDICTOR=YES");
  }
  GDALTranslateOptions* options = GDALTranslateOptionsNew(args.List(), nullptr);
  int usage_error = 0;
  CPLErrorReset();
  GDALDatasetH out =
      GDALTranslate(temp.c_str(), GDALDataset::ToHandle(src.get()), options, &usage_error);
  GDALTranslateOptionsFree(options);
  if (!out || !close_ok(out)) {
    std::remove(temp.c_str());
    throw MosaicError("writing " + path + " failed: " + CPLGetLastErrorMsg());
  }
  rename_into_place(temp, path);
  return path;
}

// What an interrupted assembly left (".mosaic_<T>.vrt.tm-partial-PID" of a process that no
// longer runs) goes first.
void remove_stale_assemblies(const std::string& folder) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    const auto at = name.rfind(".tm-partial-");
    if (name.rfind(".mosaic_", 0) != 0 || at == std::string::npos) continue;
    const int pid = std::atoi(name.c_str() + at + 12);
    if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) fs::remove(entry.path(), ec);
  }
}

// The share of the mosaic's extent its tiles cover: disjoint chips around the world make a
// sparse VRT that is fine to read but whose overviews or COG would be mostly empty pixels.
double coverage(const MosaicPlan& plan, const std::vector<const MosaicTile*>& tiles) {
  std::int64_t c0 = tiles.front()->index.col, c1 = c0, r0 = tiles.front()->index.row, r1 = r0;
  for (const MosaicTile* t : tiles) {
    c0 = std::min(c0, t->index.col);
    c1 = std::max(c1, t->index.col);
    r0 = std::min(r0, t->index.row);
    r1 = std::max(r1, t->index.row);
  }
  return static_cast<double>(tiles.size()) / (static_cast<double>(c1 - c0 + 1) * (r1 - r0 + 1));
}

}  // namespace

AssembleReport assemble_mosaic(const MosaicPlan& plan, const MosaicPaths& paths,
                               const AssembleOptions& options) {
  GDALAllRegister();
  AssembleReport report;
  std::vector<const MosaicTile*> done;
  for (const MosaicTile& tile : plan.tiles) {
    if (tile.scenes.empty()) continue;
    const std::string hash = plan.tile_hash(tile);
    if (marker_matches(paths.marker(tile.index, "done"), hash))
      done.push_back(&tile);
    else if (!marker_matches(paths.marker(tile.index, "empty"), hash))
      ++report.missing;
  }
  if (report.missing > 0 && !options.allow_incomplete)
    throw MosaicError(std::to_string(report.missing) +
                      " tiles are not done (tm_mosaic status "
                      "lists them): run the missing shards, or assemble what is done with "
                      "--allow-incomplete");
  if (done.empty()) throw MosaicError("no tile is done yet: nothing to assemble");
  report.tiles = done.size();
  remove_stale_assemblies(paths.folder);
  const double covered = coverage(plan, done);
  const bool sparse = covered < kSparseCoverage;
  const std::string share = CPLSPrintf("%.3g %%", 100 * covered);
  if (sparse && options.cog)
    throw MosaicError("the finished tiles cover " + share +
                      " of the mosaic's extent (scenes far apart): one COG would be mostly empty "
                      "pixels; use the VRTs (assemble without --cog), or plan the regions "
                      "separately");
  if (sparse && options.overviews)
    report.notes.push_back("no overviews: the tiles cover " + share +
                           " of the mosaic's extent, overviews would be mostly empty pixels");
  for (const auto& target : plan.targets) {
    std::vector<std::string> rasters;
    for (const MosaicTile* tile : done) {
      const std::string path = paths.tile_raster(target, tile->index);
      if (!fs::exists(path))
        throw MosaicError("tile " + tile->index.name() + " is marked done but " + path +
                          " is missing: remove its .done marker and run its shard again");
      rasters.push_back(fs::relative(path, paths.folder).string());
    }
    const std::string vrt = build_vrt(paths.folder, target, rasters);
    report.outputs.push_back(vrt);
    const bool classes = is_class_raster(vrt);
    if (!options.overviews || sparse) std::remove((vrt + ".ovr").c_str());  // not an old one
    if (options.overviews && !sparse)
      if (const std::string ovr = build_overviews(vrt, classes); !ovr.empty())
        report.outputs.push_back(ovr);
    if (options.cog) report.outputs.push_back(build_cog(paths.folder, target, vrt, classes));
  }
  return report;
}

}  // namespace terramind
