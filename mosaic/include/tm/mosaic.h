// tm/mosaic.h — continent-scale mosaics as tile jobs on existing schedulers (public header of
// tm_mosaic).
//
// A plan cuts a target grid (CRS, pixel size, square output tiles) into output tiles and names the
// scenes that feed each one. Workers run the tiles of one shard (i of N, from Slurm, Kubernetes,
// AWS Batch or flags) into one shared folder: per tile an atomic write and a completion marker
// carrying the settings hash, a lock that dies with its process, deterministic pixels. Assembly
// puts the finished tiles under one VRT (with overviews) and optionally one COG.
//
// Seam-free by construction: windows lie on one global window grid anchored at the CRS origin,
// each tile generates exactly the windows that touch it (reading the scenes over that context,
// warped to the target grid) and keeps its own pixels, and every window is seeded from its
// global position. A pixel therefore gets the same windows, weights and seeds whichever tile (and
// worker) makes it: cutting the grid into other tiles gives the same mosaic, bit for bit.
//
// Knows nothing about argument parsing; the model is any WindowModel (tm/window_model.h).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tm/pipeline.h"  // TilingOptions, WindowModel
#include "tm/settings.h"  // RuntimeSettings

namespace terramind {

// Version of the plan file layout; a plan of another version is refused.
constexpr int kMosaicPlanFormat = 1;

// Problems with a plan, a shard or a mosaic folder that stop the job (clear message).
class MosaicError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ---------------------------------------------------------------------------------------------
// The target grid.

// Pixels of the target CRS anchored at its origin: global pixel (col, row) covers map x in
// [col * res_x, (col + 1) * res_x) and y in ((-row - 1) * res_y, -row * res_y]. Output tiles are
// tile_size squares of that pixel grid (tile (i, j) starts at pixel (i * tile_size, j *
// tile_size)), so tiles of different plans over one CRS line up and keep their names.
struct MosaicGrid {
  std::string crs;      // as given (EPSG:3035, a WKT, a PROJ string)
  std::string crs_wkt;  // resolved
  double res_x = 0.0;   // map units per pixel, > 0
  double res_y = 0.0;
  int tile_size = 1024;  // output tile side, px
};

struct PixelBox {  // global pixels [x0, x1) x [y0, y1)
  std::int64_t x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  std::int64_t width() const { return x1 - x0; }
  std::int64_t height() const { return y1 - y0; }
};

struct TileIndex {
  std::int64_t col = 0, row = 0;
  std::string name() const;  // "c<col>_r<row>" (signed)
};

PixelBox tile_pixels(const MosaicGrid& grid, const TileIndex& tile);
// The union of the global windows (window_size, stride window_size - overlap, anchored at
// pixel 0) that touch `box`: what a tile must generate so that its pixels match the whole grid's.
PixelBox window_context(const PixelBox& box, int window_size, int overlap);
// Map bounds (min x, min y, max x, max y) of global pixels.
std::array<double, 4> map_bounds(const MosaicGrid& grid, const PixelBox& box);

// ---------------------------------------------------------------------------------------------
// Scenes.

struct MosaicScene {
  std::string id;
  std::string datetime;                       // ISO 8601 when known, else ""
  std::map<std::string, std::string> inputs;  // registry modality -> raster path
  // Footprint in the target CRS as WKT (POLYGON / MULTIPOLYGON); filled by make_plan.
  std::string footprint_wkt;
  std::string footprint_source_wkt;  // from an item's geometry (EPSG:4326), if given
};

// Scenes from `sources`: raster files (each one scene of `modality`), folders of rasters
// (.tif/.tiff/.vrt, sorted), text lists ("@list.txt", a path per line, # comments), and JSON item
// lists (a STAC-like FeatureCollection / ItemCollection, or an array, of items with "id",
// "properties.datetime", "geometry" (EPSG:4326) and "assets" whose keys or "tm:modality" name
// registry modalities; "href"s relative to the list's folder). Throws MosaicError.
std::vector<MosaicScene> read_scene_sources(const std::vector<std::string>& sources,
                                            const std::string& modality);

// ---------------------------------------------------------------------------------------------
// Plans.

// How overlapping scenes combine, pixel by pixel, in the target grid (scenes ordered by
// datetime, then as listed; undated scenes after dated ones).
enum class CompositeRule {
  kFirst,   // the earliest scene with data wins
  kLatest,  // the latest scene with data wins
  kMean,    // the mean of every scene with data
};
std::string to_string(CompositeRule rule);
CompositeRule composite_rule_from_string(const std::string& text);  // std::invalid_argument

struct PlanRequest {
  std::vector<MosaicScene> scenes;
  // Target grid: crs "" takes the scenes' CRS (refused when they differ); resolution 0 the first
  // scene's pixel size.
  MosaicGrid grid;
  bool has_bounds = false;
  std::array<double, 4> bounds{};  // min x, min y, max x, max y
  std::string bounds_crs;          // "": the target CRS
  std::string aoi;                 // vector file (OGR): only tiles touching its polygons
  // What the workers run: the shared settings as text (tm/settings.h keys: window, overlap, steps,
  // seed ...), read with apply_setting, plus these.
  std::map<std::string, std::string> settings;
  std::string model;                 // card, official name, or a runtime's model name
  std::vector<std::string> targets;  // required
  std::string runtime_library;       // "": the built-in TerraMind runtime
  std::map<std::string, std::string> runtime_options;  // passed to a runtime library
  CompositeRule rule = CompositeRule::kFirst;
  std::string resampling = "bilinear";  // GDAL warp resampling of the inputs
  std::string format = "COG";           // tiles: COG or GTiff
  bool allow_any_resolution = false;
};

struct MosaicTile {
  TileIndex index;
  std::vector<int> scenes;  // feeding scenes (their footprints reach the tile's context), in rule
                            // order; empty: no input (no file is made)
};

struct MosaicPlan {
  int format = kMosaicPlanFormat;
  std::string tm_version;
  std::string created;  // UTC, ISO 8601; also the creation date written into every tile
  MosaicGrid grid;
  std::map<std::string, std::string> settings;
  std::string model;
  std::vector<std::string> targets;
  std::string runtime_library;
  std::map<std::string, std::string> runtime_options;
  CompositeRule rule = CompositeRule::kFirst;
  std::string resampling;
  std::string format_name = "COG";
  bool allow_any_resolution = false;
  int window_size = 224, overlap = 32;  // from settings, kept for the context
  std::vector<MosaicScene> scenes;
  std::vector<MosaicTile> tiles;  // row-major by tile index
  std::vector<std::string> warnings;

  // The hash of everything that decides a tile's pixels: version, grid, settings, model, rule,
  // and the tile's own scenes (ids, paths). A finished tile with another hash is made again.
  std::string tile_hash(const MosaicTile& tile) const;
  // The shard of tile k (its position in `tiles`) of `count`: k mod count.
  static int shard_of(std::size_t tile_position, int count) {
    return static_cast<int>(tile_position % static_cast<std::size_t>(count));
  }
};

// Footprints (transformed into the target CRS, densified edges), tiles touching the bounds / AOI
// and the scenes of each, from a spatial walk over each scene's own tile range: linear in scenes
// and tiles, never scenes x tiles. Throws MosaicError: mixed CRSs without a target CRS, an AOI or
// bounds that touch no scene, unreadable rasters without an item footprint.
MosaicPlan make_plan(const PlanRequest& request);

void write_plan(const MosaicPlan& plan, const std::string& path);  // atomically
// Throws MosaicError for a plan of another format or tm version ("make the plan again with this
// tm"), or one that cannot be read.
MosaicPlan read_plan(const std::string& path);

// ---------------------------------------------------------------------------------------------
// Shards.

struct Shard {
  int index = 0;
  int count = 1;
  std::string source;  // where it came from, for messages ("SLURM_ARRAY_TASK_ID", "--shard")
};

// The shard from flags when given (index and count >= 0), else from the scheduler's environment:
// Slurm job arrays (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT),
// Kubernetes Indexed Jobs (JOB_COMPLETION_INDEX of `count` or TM_SHARD_COUNT), AWS Batch array
// jobs (AWS_BATCH_JOB_ARRAY_INDEX of `count`/TM_SHARD_COUNT), else shard 0 of 1. Throws
// MosaicError for an index outside [0, count) or unparsable values.
Shard shard_from_environment(std::optional<int> index, std::optional<int> count,
                             const std::function<const char*(const char*)>& getenv_fn = nullptr);

// ---------------------------------------------------------------------------------------------
// Running tiles.

// The folder layout under the mosaic folder:
//   plan.json                      the plan
//   tiles/<TARGET>/<tile>.tif      one raster per target and tile (atomic rename)
//   tiles/<tile>.done              completion marker (JSON: hash, outputs, seconds, worker)
//   tiles/<tile>.failed            the error of the last failed attempt (JSON)
//   tiles/<tile>.empty             marker: the tile's scenes hold no data there (no file)
//   locks/<tile>.lock              held (fcntl) while a worker makes the tile
//   work/<tile>/                   the worker's temporary files; cleared by the next holder
struct MosaicPaths {
  explicit MosaicPaths(std::string folder);
  std::string folder;
  std::string plan() const;
  std::string tile_raster(const std::string& target, const TileIndex& tile) const;
  std::string marker(const TileIndex& tile, const std::string& kind) const;  // done/failed/empty
  std::string lock(const TileIndex& tile) const;
  std::string work(const TileIndex& tile) const;
};

enum class TileState { kPending, kDone, kEmpty, kFailed, kStale, kNoInput };
std::string to_string(TileState state);

struct TileOutcome {
  TileIndex tile;
  std::string state;  // made, empty, skipped (done), busy (another worker), failed, no input
  double seconds = 0.0;
  std::string error;
};

struct RunOptions {
  int threads = 0;                   // engine threads; 0: all cores
  std::size_t gdal_cache_bytes = 0;  // 0: the engine's default
  std::string worker;                // name in markers; default host:pid
  // Called after each tile, from the calling thread.
  std::function<void(const TileOutcome&, std::size_t done, std::size_t total)> progress;
  // Called with the tiles' window progress, for a progress bar.
  std::function<void(std::size_t done, std::size_t total)> window_progress;
};

struct RunReport {
  std::vector<TileOutcome> tiles;
  std::size_t made = 0, skipped = 0, busy = 0, failed = 0, empty = 0, no_input = 0;
  double seconds = 0.0;
};

// Makes every tile of `shard` that is not done with the plan's current hash: takes the tile's
// lock (a tile held by a live worker is left to it), clears what a killed worker left, warps and
// composites the feeding scenes over the tile's window context, generates it with `model`
// (windows at their global position), keeps the tile's pixels, renames the rasters into place and
// writes the marker last. A tile that fails (an unreadable scene ...) gets a .failed marker with
// its error and the run goes on. Throws MosaicError when the folder cannot be used;
// Interrupted on Ctrl-C / SIGTERM (the tile in hand is left for the next run).
RunReport run_shard(const MosaicPlan& plan, const MosaicPaths& paths, const Shard& shard,
                    WindowModel& model, const RunOptions& options = {});

// The engine options of a plan's settings (window, overlap, blend ...); throws
// std::invalid_argument naming a bad setting.
TilingOptions plan_tiling_options(const MosaicPlan& plan);
// The runtime settings of a plan (model, targets, seed, steps ...).
RuntimeSettings plan_runtime_settings(const MosaicPlan& plan);

// ---------------------------------------------------------------------------------------------
// Status and assembly.

struct ShardStatus {
  int shard = 0;
  std::size_t tiles = 0, done = 0, empty = 0, failed = 0, stale = 0, pending = 0, no_input = 0;
};

struct MosaicStatus {
  std::vector<ShardStatus> shards;  // by shard of `count`
  ShardStatus total;
  struct Failure {
    TileIndex tile;
    int shard = 0;
    std::string error;
  };
  std::vector<Failure> failures;
  bool complete() const { return total.pending == 0 && total.failed == 0 && total.stale == 0; }
};

// Reads the markers of every tile (a .done or .empty marker counts only with the plan's hash).
MosaicStatus mosaic_status(const MosaicPlan& plan, const MosaicPaths& paths, int shard_count);

struct AssembleOptions {
  bool cog = false;               // also one COG per target
  bool overviews = true;          // external overviews (.ovr) of the VRT
  bool allow_incomplete = false;  // assemble what is done even if tiles are missing
};

// Below this share of the mosaic's extent covered by tiles (scenes far apart), assembly makes no
// overviews and refuses one COG: they would be mostly empty pixels.
constexpr double kSparseCoverage = 0.05;

struct AssembleReport {
  std::vector<std::string> outputs;  // VRT (+ .ovr) and COG paths
  std::vector<std::string> notes;    // what was left out and why
  std::size_t tiles = 0;             // tile rasters per target
  std::size_t missing = 0;           // pending / failed / stale tiles
};

// mosaic_<TARGET>.vrt over every finished tile (class targets keep colour table and class
// names), overviews, and mosaic_<TARGET>.tif as COG on request. Throws MosaicError when tiles are
// missing (unless allow_incomplete), none is done, or a COG is asked of a sparse mosaic.
AssembleReport assemble_mosaic(const MosaicPlan& plan, const MosaicPaths& paths,
                               const AssembleOptions& options = {});

}  // namespace terramind
