// Running the tiles of a shard: locks, markers, composites of the feeding scenes, generation over
// each tile's window context, and the tile's own pixels kept.
#include <fcntl.h>
#include <gdal_priv.h>
#include <gdal_utils.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "tm/ascii_strings.h"
#include "tm/mosaic.h"
#include "tm/raster_io.h"

namespace terramind {
namespace {

namespace fs = std::filesystem;

// GDALClose() returns nothing in GDAL 3.6: a failed final flush shows as the last error.
bool close_ok(GDALDatasetH dataset) {
  CPLErrorReset();
  GDALClose(dataset);
  return CPLGetLastErrorType() < CE_Failure;
}
using nlohmann::json;

// A tile's lock: an fcntl write lock on locks/<tile>.lock. The kernel drops it when its process
// dies (SIGKILL included), so a killed worker never blocks the next one; the file itself stays
// (removing it would let two workers lock two different files of one name).
class TileLock {
 public:
  explicit TileLock(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw MosaicError("cannot create the lock file " + path + ": " + strerror(errno));
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    held_ = fcntl(fd_, F_SETLK, &lock) == 0;
  }
  ~TileLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }
  TileLock(const TileLock&) = delete;
  TileLock& operator=(const TileLock&) = delete;
  bool held() const { return held_; }

 private:
  int fd_ = -1;
  bool held_ = false;
};

json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) return nullptr;
  try {
    json j;
    in >> j;
    return j;
  } catch (const json::exception&) {
    return nullptr;  // a torn marker counts as none
  }
}

// Through `temp` (in the tile's work folder) and a rename.
void write_json_atomically(const std::string& path, const std::string& temp, const json& j) {
  {
    std::ofstream out(temp);
    out << j.dump(1) << "\n";
    out.flush();
    if (!out) {
      std::remove(temp.c_str());
      throw MosaicError("cannot write " + path);
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    std::remove(temp.c_str());
    throw MosaicError("cannot write " + path);
  }
}

bool marker_matches(const std::string& path, const std::string& hash) {
  const json j = read_json(path);
  return j.is_object() && j.value("hash", "") == hash;
}

std::string default_worker() {
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(getpid());
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

// Tiles carry the plan's creation date, not the hour a worker made them: the same tile is then
// byte-identical whichever worker makes it (SOURCE_DATE_EPOCH, unless the user set it).
void pin_creation_date(const std::string& created) {
  if (std::getenv("SOURCE_DATE_EPOCH")) return;
  std::tm tm{};
  if (!strptime(created.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) return;
  setenv("SOURCE_DATE_EPOCH", std::to_string(static_cast<long long>(timegm(&tm))).c_str(), 0);
}

const char* resampling_name(const std::string& name) {
  static const char* known[] = {"near", "bilinear", "cubic", "cubicspline", "lanczos", "average"};
  for (const char* k : known)
    if (name == k) return k;
  throw MosaicError("unknown resampling '" + name +
                    "' (near, bilinear, cubic, cubicspline, lanczos, average)");
}

// The warp kernel's scale for a scene: target pixels per source pixel, at most 1.
double kernel_scale(const RasterInfo& scene, const MosaicPlan& plan) {
  RasterInfo target = scene;
  target.georef.crs_wkt = plan.grid.crs_wkt;
  target.georef.geotransform = {0.0, plan.grid.res_x, 0.0, 0.0, 0.0, -plan.grid.res_y};
  const auto source_m = pixel_size_metres(scene), target_m = pixel_size_metres(target);
  if (!source_m || !target_m || *target_m <= 0) return 1.0;
  const double ratio = *source_m / *target_m;
  return ratio < 1.0 / kResolutionTolerance ? ratio : 1.0;
}

// One modality of the tile's scenes, warped onto the context's pixels and composited by the rule
// into a Float32 raster (NaN: no scene holds data), written to `path` (/vsimem/). Returns the
// number of values that hold data.
std::size_t composite_modality(const MosaicPlan& plan, const MosaicTile& tile,
                               const PixelBox& context, const Modality& modality,
                               const std::string& path) {
  const int w = static_cast<int>(context.width()), h = static_cast<int>(context.height());
  const int bands = modality.channels();
  const std::size_t plane = static_cast<std::size_t>(w) * h;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> out(plane * bands, nan), scene(plane * bands);
  std::vector<double> sums;
  std::vector<std::uint16_t> counts;
  if (plan.rule == CompositeRule::kMean) {
    sums.assign(plane * bands, 0.0);
    counts.assign(plane * bands, 0);
  }
  const auto bounds = map_bounds(plan.grid, context);
  std::vector<int> order = tile.scenes;
  if (plan.rule == CompositeRule::kLatest) std::reverse(order.begin(), order.end());
  for (int s : order) {
    const MosaicScene& sc = plan.scenes[s];
    const auto input = sc.inputs.find(modality.name);
    if (input == sc.inputs.end()) continue;
    const std::string& source = input->second;
    // The scene must be this modality (band count ...): a wrong scene fails its tiles clearly.
    RasterInfo info;
    try {
      info = inspect_raster(source);
      require_modality(info, modality);
    } catch (const RasterError& e) {
      throw MosaicError("scene " + sc.id + ": " + e.what());
    }
    GDALDatasetUniquePtr src(GDALDataset::Open(source.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
    if (!src) throw MosaicError("scene " + sc.id + ": cannot read " + source);
    // Exact per-pixel transforms (-et 0): a pixel's value then does not depend on the extent
    // being warped, which tile contexts of different sizes and positions need for identical
    // pixels.
    CPLStringList args;
    for (const char* a : {"-of", "MEM", "-ot", "Float32", "-et", "0", "-dstnodata", "nan", "-wo",
                          "UNIFIED_SRC_NODATA=YES"})
      args.AddString(a);
    // GDAL derives the kernel's scale from each chunk's source window, which under
    // reprojection (rotated grids) differs with the extent warped: the scale is fixed instead,
    // 1 at the native resolution, the pixel size ratio when a finer scene is reduced.
    const double scale = kernel_scale(info, plan);
    for (const char* axis : {"XSCALE=", "YSCALE="}) {
      args.AddString("-wo");
      args.AddString(CPLSPrintf("%s%.17g", axis, scale));
    }
    args.AddString("-r");
    args.AddString(resampling_name(plan.resampling));
    args.AddString("-t_srs");
    args.AddString(plan.grid.crs_wkt.c_str());
    args.AddString("-te");
    for (double b : bounds) args.AddString(CPLSPrintf("%.17g", b));
    args.AddString("-ts");
    args.AddString(std::to_string(w).c_str());
    args.AddString(std::to_string(h).c_str());
    CPLErrorHandlerPusher quiet(CPLQuietErrorHandler);  // errors reach the tile's message
    GDALWarpAppOptions* options = GDALWarpAppOptionsNew(args.List(), nullptr);
    GDALDatasetH handle = GDALDataset::ToHandle(src.get());
    int usage_error = 0;
    CPLErrorReset();
    GDALDatasetUniquePtr warped(
        GDALDataset::FromHandle(GDALWarp("", nullptr, 1, &handle, options, &usage_error)));
    GDALWarpAppOptionsFree(options);
    if (!warped)
      throw MosaicError("scene " + sc.id + ": warping " + source +
                        " failed: " + CPLGetLastErrorMsg());
    if (warped->RasterIO(GF_Read, 0, 0, w, h, scene.data(), w, h, GDT_Float32, bands, nullptr, 0, 0,
                         0, nullptr) != CE_None)
      throw MosaicError("scene " + sc.id + ": reading " + source +
                        " failed: " + CPLGetLastErrorMsg());
    // The scene's own nodata stays nodata (the warper keeps it when the source declares it).
    const std::optional<double> nodata = info.nodata;
    for (std::size_t i = 0; i < scene.size(); ++i) {
      const float v = scene[i];
      if (std::isnan(v) || (nodata && v == static_cast<float>(*nodata))) continue;
      if (plan.rule == CompositeRule::kMean) {
        sums[i] += v;
        ++counts[i];
      } else if (std::isnan(out[i])) {
        out[i] = v;
      }
    }
  }
  if (plan.rule == CompositeRule::kMean)
    for (std::size_t i = 0; i < out.size(); ++i)
      if (counts[i]) out[i] = static_cast<float>(sums[i] / counts[i]);
  std::size_t valid = 0;
  for (const float v : out) valid += !std::isnan(v);

  GDALDriver* gtiff = GetGDALDriverManager()->GetDriverByName("GTiff");
  GDALDatasetUniquePtr ds(gtiff->Create(path.c_str(), w, h, bands, GDT_Float32, nullptr));
  if (!ds) throw MosaicError("cannot create " + path);
  double gt[6] = {bounds[0], plan.grid.res_x, 0.0, bounds[3], 0.0, -plan.grid.res_y};
  ds->SetGeoTransform(gt);
  OGRSpatialReference srs;
  srs.importFromWkt(plan.grid.crs_wkt.c_str());
  ds->SetSpatialRef(&srs);
  for (int b = 1; b <= bands; ++b) {
    ds->GetRasterBand(b)->SetNoDataValue(std::nan(""));
    if (b - 1 < static_cast<int>(modality.bands.size()))
      ds->GetRasterBand(b)->SetDescription(modality.bands[b - 1].name.c_str());
  }
  if (ds->RasterIO(GF_Write, 0, 0, w, h, out.data(), w, h, GDT_Float32, bands, nullptr, 0, 0, 0,
                   nullptr) != CE_None)
    throw MosaicError("cannot write " + path);
  return valid;
}

// The tile's own pixels of a generated context raster, as the tile raster (atomically).
// The temporary file is made in the tile's work folder, which the next holder of the tile's lock
// clears: a killed worker leaves nothing beside the finished tiles.
void crop_tile(const std::string& context_raster, const PixelBox& context, const PixelBox& own,
               const std::string& destination, const std::string& temp, const MosaicPlan& plan,
               bool classes) {
  GDALDatasetUniquePtr src(
      GDALDataset::Open(context_raster.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  if (!src) throw MosaicError("cannot read the generated " + context_raster);
  const bool cog = to_lower(plan.format_name) == "cog";
  const bool floating = src->GetRasterBand(1)->GetRasterDataType() == GDT_Float32;
  CPLStringList args;
  for (const char* a : {"-of", cog ? "COG" : "GTiff", "-srcwin"}) args.AddString(a);
  for (std::int64_t v : {own.x0 - context.x0, own.y0 - context.y0, own.width(), own.height()})
    args.AddString(std::to_string(v).c_str());
  for (const char* a : {"-co", "COMPRESS=DEFLATE"}) args.AddString(a);
  if (!classes) {
    args.AddString("-co");
    args.AddString(cog ? "PREDICTOR=YES" : (floating ? "PREDICTOR=3" : "PREDICTOR=2"));
  }
  if (cog) {
    args.AddString("-co");
    args.AddString(classes || !floating ? "RESAMPLING=NEAREST" : "RESAMPLING=AVERAGE");
  } else {
    args.AddString("-co");
    args.AddString("TILED=YES");
  }
  GDALTranslateOptions* options = GDALTranslateOptionsNew(args.List(), nullptr);
  int usage_error = 0;
  CPLErrorReset();
  GDALDatasetH out =
      GDALTranslate(temp.c_str(), GDALDataset::ToHandle(src.get()), options, &usage_error);
  GDALTranslateOptionsFree(options);
  if (!out || !close_ok(out)) {
    std::remove(temp.c_str());
    throw MosaicError("cannot write " + destination + ": " + CPLGetLastErrorMsg());
  }
  // Class names live in the GeoTIFF's .aux.xml sidecar (GDAL's PAM): it moves along.
  std::error_code ec;
  fs::remove(destination + ".aux.xml", ec);
  if (fs::exists(temp + ".aux.xml")) fs::rename(temp + ".aux.xml", destination + ".aux.xml", ec);
  if (ec || std::rename(temp.c_str(), destination.c_str()) != 0) {
    std::remove(temp.c_str());
    throw MosaicError("cannot move " + destination +
                      " into place: " + (ec ? ec.message() : std::string(strerror(errno))));
  }
}

struct TileResult {
  bool empty = false;
  std::size_t windows = 0;
  std::vector<std::string> outputs;
};

TileResult make_tile(const MosaicPlan& plan, const MosaicPaths& paths, const MosaicTile& tile,
                     WindowModel& model, const TilingOptions& base, const RunOptions& options) {
  const PixelBox own = tile_pixels(plan.grid, tile.index);
  const PixelBox context = window_context(own, plan.window_size, plan.overlap);
  const std::int64_t limit = std::numeric_limits<int>::max() / 2;
  if (std::abs(context.x0) > limit || std::abs(context.y0) > limit)
    throw MosaicError("tile " + tile.index.name() + " lies too far from the CRS origin");
  // Modalities of the tile's scenes that the model takes.
  std::set<std::string> modalities;
  for (int s : tile.scenes)
    for (const auto& [m, path] : plan.scenes[s].inputs)
      if (model.accepts_input(m)) modalities.insert(m);
  if (modalities.empty()) throw MosaicError("the tile's scenes hold no input the model takes");
  const std::string vsimem = "/vsimem/tm_mosaic/" + tile.index.name() + "/";
  std::vector<SceneInput> inputs;
  struct VsimemCleanup {
    std::vector<std::string> files;
    ~VsimemCleanup() {
      for (const auto& f : files) VSIUnlink(f.c_str());
    }
  } cleanup;
  std::size_t valid = 0;
  for (const auto& m : modalities) {
    const std::string path = vsimem + m + ".tif";
    cleanup.files.push_back(path);
    valid += composite_modality(plan, tile, context, ModalityRegistry::instance().get(m), path);
    // Provenance names the scenes (INPUT_<modality>), not the tile's in-memory composite.
    std::vector<std::string> scene_paths;
    for (int s : tile.scenes)
      if (const auto it = plan.scenes[s].inputs.find(m); it != plan.scenes[s].inputs.end())
        scene_paths.push_back(it->second);
    inputs.emplace_back(path, m, join(scene_paths, ";"));
  }
  TileResult result;
  if (valid == 0) {  // the scenes hold no data here (nodata chips, swath gaps): nothing to keep
    result.empty = true;
    return result;
  }
  const std::string work = paths.work(tile.index);
  std::vector<TargetRequest> requests;
  for (const auto& t : plan.targets) requests.emplace_back(t, work + "/" + t + ".tif");
  TilingOptions tiling = base;
  tiling.grid_offset_x = static_cast<int>(context.x0);
  tiling.grid_offset_y = static_cast<int>(context.y0);
  tiling.write.format = OutputFormat::kGTiff;
  tiling.write.overwrite = true;
  tiling.progress = options.window_progress;
  const TilingSummary summary = generate_scene(inputs, model, requests, tiling);
  result.windows = summary.inferred;
  if (summary.inferred == 0) {  // every window all nodata: nothing to keep
    result.empty = true;
    return result;
  }
  for (const auto& request : requests) {
    const std::string destination = paths.tile_raster(request.target, tile.index);
    fs::create_directories(fs::path(destination).parent_path());
    crop_tile(request.path, context, own, destination, work + "/" + request.target + ".tile.tif",
              plan, model.spec(request.target).is_classes);
    result.outputs.push_back(fs::relative(destination, paths.folder).string());
  }
  return result;
}

}  // namespace

MosaicPaths::MosaicPaths(std::string f) : folder(std::move(f)) {}
std::string MosaicPaths::plan() const { return folder + "/plan.json"; }
std::string MosaicPaths::tile_raster(const std::string& target, const TileIndex& tile) const {
  return folder + "/tiles/" + target + "/" + tile.name() + ".tif";
}
std::string MosaicPaths::marker(const TileIndex& tile, const std::string& kind) const {
  return folder + "/tiles/" + tile.name() + "." + kind;
}
std::string MosaicPaths::lock(const TileIndex& tile) const {
  return folder + "/locks/" + tile.name() + ".lock";
}
std::string MosaicPaths::work(const TileIndex& tile) const {
  return folder + "/work/" + tile.name();
}

TilingOptions plan_tiling_options(const MosaicPlan& plan) {
  TilingOptions tiling;
  RuntimeSettings runtime;
  for (const auto& [key, value] : plan.settings) {
    const Setting* setting = find_setting(key);
    if (!setting) throw std::invalid_argument("unknown setting '" + key + "' in the plan");
    apply_setting(*setting, key, value, tiling, runtime);
  }
  if (tiling.overlap >= tiling.window_size)
    throw std::invalid_argument("the overlap must be smaller than the window");
  tiling.open.allow_any_resolution = plan.allow_any_resolution;
  return tiling;
}

RuntimeSettings plan_runtime_settings(const MosaicPlan& plan) {
  TilingOptions tiling;
  RuntimeSettings runtime;
  for (const auto& [key, value] : plan.settings)
    if (const Setting* setting = find_setting(key))
      apply_setting(*setting, key, value, tiling, runtime);
  runtime.model = plan.model;
  runtime.targets = plan.targets;
  return runtime;
}

RunReport run_shard(const MosaicPlan& plan, const MosaicPaths& paths, const Shard& shard,
                    WindowModel& model, const RunOptions& options) {
  GDALAllRegister();
  const auto start = std::chrono::steady_clock::now();
  const std::vector<std::string> offered = model.targets();
  for (const auto& t : plan.targets)
    if (std::find(offered.begin(), offered.end(), t) == offered.end())
      throw MosaicError("the model cannot make " + t + " (it makes " + join(offered, ", ") + ")");
  std::error_code ec;
  for (const char* sub : {"/tiles", "/locks", "/work"}) {
    fs::create_directories(paths.folder + sub, ec);
    if (ec) throw MosaicError("cannot use the mosaic folder " + paths.folder + ": " + ec.message());
  }
  pin_creation_date(plan.created);
  TilingOptions tiling = plan_tiling_options(plan);
  if (options.threads > 0) tiling.threads = options.threads;
  if (options.gdal_cache_bytes > 0) tiling.gdal_cache_bytes = options.gdal_cache_bytes;
  const std::string worker = options.worker.empty() ? default_worker() : options.worker;
  const std::string shard_name = std::to_string(shard.index) + "/" + std::to_string(shard.count);

  std::vector<std::size_t> mine;
  for (std::size_t k = 0; k < plan.tiles.size(); ++k)
    if (MosaicPlan::shard_of(k, shard.count) == shard.index) mine.push_back(k);
  RunReport report;
  for (std::size_t n = 0; n < mine.size(); ++n) {
    const MosaicTile& tile = plan.tiles[mine[n]];
    TileOutcome outcome{tile.index, "", 0.0, ""};
    const std::string hash = plan.tile_hash(tile);
    const std::string done = paths.marker(tile.index, "done"),
                      empty = paths.marker(tile.index, "empty"),
                      failed = paths.marker(tile.index, "failed");
    auto finished = [&] { return marker_matches(done, hash) || marker_matches(empty, hash); };
    if (tile.scenes.empty()) {
      outcome.state = "no input";
      ++report.no_input;
    } else if (finished()) {
      outcome.state = "skipped";
      ++report.skipped;
    } else {
      TileLock lock(paths.lock(tile.index));
      if (!lock.held()) {
        outcome.state = "busy";
        ++report.busy;
      } else if (finished()) {  // made by another worker since the first look
        outcome.state = "skipped";
        ++report.skipped;
      } else {
        // A killed worker's half-done files go first; markers of other settings go too.
        const std::string work = paths.work(tile.index);
        fs::remove_all(work, ec);
        fs::create_directories(work, ec);
        if (ec) throw MosaicError("cannot create " + work + ": " + ec.message());
        std::remove(done.c_str());
        std::remove(empty.c_str());
        const auto t0 = std::chrono::steady_clock::now();
        try {
          const TileResult made = make_tile(plan, paths, tile, model, tiling, options);
          outcome.seconds =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          json marker = {{"hash", hash},
                         {"tile", tile.index.name()},
                         {"shard", shard_name},
                         {"worker", worker},
                         {"finished", utc_now()},
                         {"seconds", outcome.seconds},
                         {"windows", made.windows},
                         {"outputs", made.outputs}};
          write_json_atomically(made.empty ? empty : done, work + "/marker.json", marker);
          std::remove(failed.c_str());
          outcome.state = made.empty ? "empty" : "made";
          ++(made.empty ? report.empty : report.made);
        } catch (const Interrupted&) {
          fs::remove_all(paths.work(tile.index), ec);
          throw;
        } catch (const std::exception& e) {
          outcome.state = "failed";
          outcome.error = e.what();
          ++report.failed;
          write_json_atomically(failed, work + "/marker.json",
                                {{"hash", hash},
                                 {"tile", tile.index.name()},
                                 {"shard", shard_name},
                                 {"worker", worker},
                                 {"time", utc_now()},
                                 {"error", outcome.error}});
        }
        fs::remove_all(paths.work(tile.index), ec);
      }
    }
    report.tiles.push_back(outcome);
    if (options.progress) options.progress(outcome, n + 1, mine.size());
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace terramind
