// tm/tiling.h — the scene side of tm (public header of tm_tiling).
//
// Reading scenes and checking them against registry modalities, reading windows with a defined
// edge policy, and writing georeferenced GeoTIFF / COG outputs atomically (temporary file, rename
// on success; failure or Ctrl-C leaves nothing behind). GDAL is an implementation detail: it does
// not appear in this header. Knows nothing about argument parsing or about the model.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tm/quicklook.h"  // PNG quicklooks of rasters
#include "tm/registry.h"

namespace terramind {

// Bad input or output: the message names the file and the problem, ready to show to a user.
class RasterError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Raised by long-running work after SIGINT/SIGTERM/SIGHUP; callers exit with status 130.
class Interrupted : public std::runtime_error {
 public:
  Interrupted() : std::runtime_error("interrupted") {}
};

// ---------------------------------------------------------------------------------------------
// Interruption (Ctrl-C): the first signal sets a flag that work loops poll; temporary outputs are
// then removed by their owners' destructors. A second signal removes every registered temporary
// file at once and exits with status 130.
void install_interrupt_handlers();
bool interrupt_requested();
void throw_if_interrupted();
void reset_interrupt_for_tests();

// ---------------------------------------------------------------------------------------------
struct GeoReference {
  std::string crs_wkt;  // empty when the raster has no CRS
  std::array<double, 6> geotransform{0.0, 1.0, 0.0, 0.0, 0.0, 1.0};
  bool has_geotransform = false;
  bool is_georeferenced() const { return has_geotransform && !crs_wkt.empty(); }
  // Same CRS (by meaning, not by WKT text) and bit-identical geotransform.
  bool same_grid_as(const GeoReference& other) const;
};

struct RasterInfo {
  std::string path;
  std::string driver;
  int width = 0;
  int height = 0;
  int band_count = 0;
  std::string data_type;  // GDAL type name shared by all bands, e.g. "UInt16"
  std::optional<double> nodata;
  std::vector<std::string> band_descriptions;  // "" where a band has none
  std::vector<std::string> band_units;         // "" where a band has none
  GeoReference georef;
  std::map<std::string, std::string> provenance;  // tm's outputs: TM_<KEY> items, prefix cut
  std::map<std::string, std::string> tiff_tags;   // TIFFTAG_SOFTWARE, _DATETIME, _IMAGEDESCRIPTION
  std::vector<std::string> warnings;              // e.g. accepted without georeferencing

  bool is_floating_point() const { return data_type == "Float32" || data_type == "Float64"; }
};

// Result of checking a raster against a modality. `reasons` explain a mismatch in one line each,
// e.g. "13 bands: S2L2A has 12 (B01 ... B12)".
struct ModalityCheck {
  std::string modality;
  bool ok = false;
  std::vector<std::string> reasons;
  std::vector<std::string> notes;  // harmless observations (generic band descriptions ...)
  std::string summary() const;     // "matches S2L2A" / "not S2L2A: 13 bands ..."
};

ModalityCheck check_modality(const RasterInfo& info, const Modality& modality);
// Throws RasterError with the check's reasons unless the raster matches.
void require_modality(const RasterInfo& info, const Modality& modality);

// Ground pixel size in metres (geometric mean of x and y): projected CRSs by their linear unit,
// geographic ones converted at the raster's centre latitude. nullopt without georeferencing.
std::optional<double> pixel_size_metres(const RasterInfo& info);
// Pixels more than this factor finer or coarser than the modality's native resolution are refused.
constexpr double kResolutionTolerance = 1.5;
// "" when the pixel size fits the modality (or cannot be known); otherwise why not, e.g.
// "pixel size 100 m, S2L2A is 10 m".
std::string resolution_mismatch(const RasterInfo& info, const Modality& modality);

// Throws std::invalid_argument unless `modality` can be standardised as the model wants
// (`standardise`: the statistics version, none when the model takes raw values).
void require_standardisation(const Modality& modality, std::optional<StatsVersion> standardise);

// ---------------------------------------------------------------------------------------------
struct PixelWindow {
  int x = 0;  // may lie partly outside the raster; the edge policy fills the outside
  int y = 0;
  int width = 0;
  int height = 0;
};

// How pixels outside the raster are filled when a window crosses an edge.
enum class EdgePolicy {
  kFill,       // constant fill value, marked invalid
  kReflect,    // mirror without repeating the edge pixel (numpy "reflect"), marked valid
  kReplicate,  // repeat the edge pixel, marked valid
};

// A window as float32, band-sequential [band][row][col], plus a validity mask.
struct WindowData {
  int bands = 0;
  int width = 0;
  int height = 0;
  std::vector<float> values;
  std::vector<std::uint8_t> valid;  // per pixel: 1 if every band holds data (not nodata/NaN)

  float at(int band, int row, int col) const {
    return values[(static_cast<std::size_t>(band) * height + row) * width + col];
  }
  std::size_t valid_count() const;
};

struct OpenOptions {
  // Rasters without CRS/geotransform are refused unless this is set; then outputs are written on
  // the bare pixel grid and a warning is recorded in RasterInfo::warnings.
  bool allow_ungeoreferenced = false;
  // Rasters whose pixel size is far from their modality's native resolution (a 100 m stack given
  // as S2L2A) are refused unless this is set: the model only knows its training resolution.
  bool allow_any_resolution = false;
};

class SceneReader {
 public:
  // Throws RasterError: missing file, not a raster, no bands, mixed band types, no georeferencing.
  static SceneReader open(const std::string& path, const OpenOptions& options = {});
  SceneReader(SceneReader&&) noexcept;
  SceneReader& operator=(SceneReader&&) noexcept;
  ~SceneReader();

  const RasterInfo& info() const { return info_; }
  WindowData read(const PixelWindow& window, EdgePolicy edge = EdgePolicy::kFill,
                  float fill_value = 0.0f) const;

 private:
  struct Handle;
  SceneReader(std::unique_ptr<Handle> handle, RasterInfo info);
  std::unique_ptr<Handle> handle_;
  RasterInfo info_;
};

// Reads only the metadata (no georeferencing requirement); for tm_info.
RasterInfo inspect_raster(const std::string& path);

// ---------------------------------------------------------------------------------------------
enum class OutputFormat { kGTiff, kCOG };

struct RasterSpec {
  int width = 0;
  int height = 0;
  int bands = 1;
  std::string data_type = "Float32";  // GDAL type name
  GeoReference georef;
  std::optional<double> nodata;
  std::vector<std::string> band_descriptions;
  std::vector<LulcClass> classes;  // non-empty: band 1 gets a colour table and category names
  std::map<std::string, std::string> metadata;    // default domain
  std::map<std::string, std::string> provenance;  // written as TM_<KEY> items
  std::vector<std::string> band_units;            // per band; "" for none
};

// Another grid for the finished outputs, made by GDAL's warper from the generated raster (the
// model itself always works on the input grid, at its native resolution).
struct OutputGrid {
  std::string crs;          // "EPSG:4326", PROJ or WKT; "" keeps the input CRS
  double resolution_x = 0;  // target pixel size in CRS units; 0: GDAL's choice
  double resolution_y = 0;
  bool empty() const { return crs.empty() && resolution_x <= 0 && resolution_y <= 0; }
};

struct WriteOptions {
  OutputFormat format = OutputFormat::kCOG;
  bool overwrite = false;
  int block_size = 512;
  // KEY=VALUE creation options for the GTiff/COG driver, after (so overriding) tm's defaults.
  std::vector<std::string> creation_options;
  OutputGrid grid;  // warp the finished rasters (nearest for classes, bilinear otherwise)
  // --resume: the working file gets a fixed name beside the destination
  // (resumable_working_path) and is kept, flushed, when the run stops before publishing, so a
  // later run can continue it.
  bool resumable = false;
};

// Refuses (RasterError) an existing output unless `overwrite`, a missing or unwritable folder, or a
// path that is a folder. Call it before long work so users learn early.
void check_output_path(const std::string& path, bool overwrite);

// Writes into a hidden temporary file beside `path`; commit() finishes it (COG conversion when
// asked) and renames it into place. Destroyed without commit(), it removes the temporary file.
class AtomicRasterWriter {
 public:
  // continue_working_file (with options.resumable): reopen the working file an interrupted run
  // left, instead of creating it; RasterError when it does not match `spec`.
  AtomicRasterWriter(std::string path, RasterSpec spec, WriteOptions options = {},
                     bool continue_working_file = false);
  AtomicRasterWriter(const AtomicRasterWriter&) = delete;
  AtomicRasterWriter& operator=(const AtomicRasterWriter&) = delete;
  ~AtomicRasterWriter();

  // All bands of a window, band-sequential. Throws Interrupted after Ctrl-C.
  void write(const PixelWindow& window, const float* data);
  void write(const PixelWindow& window, const std::uint16_t* data);
  void write(const PixelWindow& window, const std::uint8_t* data);
  // commit() = finish() + publish(). finish() does the slow part (COG conversion; interruptible)
  // into a second temporary file; publish() only renames it into place, so several outputs of
  // one run can be published together after all of them are finished.
  void commit();
  void finish();
  void publish();
  // Everything written so far is in the working file (for a resume checkpoint).
  void flush();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  void write_raw(const PixelWindow& window, const void* data, int gdal_type);
  void reopen_working_file();
  void discard() noexcept;

  std::string path_;
  std::string temp_path_;
  std::string cog_temp_path_;
  RasterSpec spec_;
  WriteOptions options_;
  void* dataset_ = nullptr;  // GDALDatasetH
  int temp_slot_ = -1;       // interrupt-handler registrations
  int cog_temp_slot_ = -1;
  bool finished_ = false;
  bool committed_ = false;
};

// Temporary files that a killed run (SIGKILL, power loss) left beside `path`
// (".<name>.tm-partial-PID-N", ".<name>.tm-final-PID-N"): those of processes that no longer run are
// removed; returns the paths removed, for the caller to report.
std::vector<std::string> remove_stale_partials(const std::string& path);
// The working file of a resumable output (".<name>.tm-resume"), which survives interruptions.
std::string resumable_working_path(const std::string& path);

// GDAL helpers that keep GDAL out of callers.
bool is_known_raster_type(const std::string& gdal_type_name);
// GDAL's --config KEY VALUE.
void set_gdal_config(const std::string& key, const std::string& value);
// Throws RasterError for a GDAL virtual file system path (/vsimem/, /vsis3/ ...) as an output
// file or folder: tm writes outputs to local files only (atomically, by rename).
void require_local_output(const std::string& path);
// Throws RasterError unless `option` is KEY=VALUE and KEY is a creation option of the GTiff or
// COG driver (as `format` writes).
void check_creation_option(const std::string& option, OutputFormat format);
// For code running inside a GDAL host (the GDAL driver plugin): the host has registered the
// drivers it wants, so the library must not call GDALAllRegister() and re-add skipped ones.
void use_host_gdal_drivers();
// WKT2 of a CRS given as "EPSG:32632", PROJ string or WKT; throws RasterError if unknown.
std::string crs_to_wkt(const std::string& definition);
// Short human name of a CRS, e.g. "WGS 84 / UTM zone 32N (EPSG:32632)".
std::string crs_display_name(const std::string& wkt);

// Throws RasterError naming both files and what differs unless the rasters share one pixel grid:
// same size, same CRS, bit-identical geotransform.
void require_same_grid(const RasterInfo& first, const RasterInfo& other);

// =============================================================================================
// Tiled inference: window grid, blending, the model-agnostic compute interface and the streaming
// pipeline read -> fill/normalise -> batch -> infer -> blend -> write.

// Square windows of `window_size` px whose origins step by window_size - overlap; the last row and
// column are placed flush with the far edge, so every pixel is covered and no window leaves the
// raster. An axis shorter than one window gets a single window at 0 that extends past the raster:
// it is read with an edge policy and its output is cropped. Windows are numbered row-major.
class WindowGrid {
 public:
  WindowGrid(int raster_width, int raster_height, int window_size = 224, int overlap = 32);

  int raster_width() const { return raster_width_; }
  int raster_height() const { return raster_height_; }
  int window_size() const { return window_size_; }
  int overlap() const { return overlap_; }
  int stride() const { return window_size_ - overlap_; }
  int rows() const { return static_cast<int>(row_origins_.size()); }
  int cols() const { return static_cast<int>(col_origins_.size()); }
  std::size_t count() const { return row_origins_.size() * col_origins_.size(); }
  const std::vector<int>& row_origins() const { return row_origins_; }
  const std::vector<int>& col_origins() const { return col_origins_; }

  PixelWindow window(int row, int col) const;  // full window_size square
  PixelWindow window(std::size_t index) const;
  PixelWindow footprint(int row, int col) const;  // the window cropped to the raster
  // Once window rows 0..row are blended, raster rows [0, rows_final_after(row)) are complete.
  int rows_final_after(int row) const;

 private:
  int raster_width_, raster_height_, window_size_, overlap_;
  std::vector<int> row_origins_, col_origins_;
};

enum class BlendWeighting {
  kMean,   // every window counts the same (plain mean, as in the TerraMind paper)
  kTaper,  // raised-cosine ramps across each overlap: no seams (default)
};

// The option names of the engine's choices ("taper", "mean"; "reflect", "replicate", "fill"),
// for command lines, connection strings and metadata. Parsing ignores case; nullopt when the
// name is unknown.
const char* to_string(BlendWeighting weighting);
const char* to_string(EdgePolicy edge);
std::optional<BlendWeighting> blend_weighting_from(const std::string& name);
std::optional<EdgePolicy> edge_policy_from(const std::string& name);

// Separable per-window weights: weight = row_weights(window row)[r] * col_weights(window col)[c].
// Along each axis the weights of the windows covering a pixel sum to 1 (partition of unity, also
// at the irregular flush last window); weights are 0 outside the raster. kTaper ramps over the
// real overlap with each neighbour and is 1 where a window has no neighbour (raster edges).
class BlendWeights {
 public:
  BlendWeights(const WindowGrid& grid, BlendWeighting weighting);
  const std::vector<float>& row_weights(int window_row) const { return rows_.at(window_row); }
  const std::vector<float>& col_weights(int window_col) const { return cols_.at(window_col); }
  float at(int window_row, int window_col, int r, int c) const {
    return rows_[window_row][r] * cols_[window_col][c];
  }

 private:
  std::vector<std::vector<float>> rows_, cols_;
};

// Complete raster rows handed out by a BlendAccumulator over the full raster width: normalised
// values, band-sequential [channel][row][col], NaN where no window contributed, and the validity
// [row][col] (1 where some window contributed).
struct FinishedRows {
  int y0 = 0;
  int rows = 0;
  int width = 0;
  int channels = 0;
  std::vector<float> values;
  std::vector<std::uint8_t> valid;

  float at(int channel, int row, int col) const {
    return values[(static_cast<std::size_t>(channel) * rows + row) * width + col];
  }
};

// Weighted sum of C-channel window outputs over a band of raster rows (double precision, so
// identical contributions normalise back to exactly the same float). Windows arrive in row-major
// order; finish_through(r) hands out the rows that no later window touches and recycles them, so
// at most one window height of rows is ever held, whatever the raster height.
class BlendAccumulator {
 public:
  BlendAccumulator(const WindowGrid& grid, int channels,
                   BlendWeighting weighting = BlendWeighting::kTaper);

  // Adds a window output `values` [channel][r][c] (window_size^2 per channel) at grid cell
  // (row, col); pixels with valid[r * window_size + c] == 0 (or outside the raster) add nothing
  // and stay nodata unless another window holds them. Window rows before `row` must be finished.
  void add(int row, int col, const float* values, const std::uint8_t* valid = nullptr);

  // Per channel: the mean of (blended so far - window) over the window's valid pixels that already
  // hold blended data; the additive offset that aligns the window with its processed neighbours
  // (left and above). 0 for a channel without overlap.
  std::vector<double> alignment_offset(int row, int col, const float* values,
                                       const std::uint8_t* valid = nullptr) const;

  // Declares window rows up to `window_row` complete and returns the raster rows that became
  // final (possibly none).
  FinishedRows finish_through(int window_row);
  // For a resumed run, on a fresh accumulator: window rows before `window_row` are not coming;
  // the raster rows they alone cover count as handed out (another run wrote them).
  void start_at(int window_row);
  // The same into `out`, reusing its buffers (no page faults for a new strip every window row).
  void finish_through(int window_row, FinishedRows& out);

  int channels() const { return channels_; }
  int finished_rows() const { return top_; }  // raster rows handed out so far
  int active_rows() const;                    // raster rows held now
  int peak_active_rows() const { return peak_active_; }
  std::size_t bytes() const;  // memory of the band

 private:
  std::size_t slot(int raster_row) const;
  WindowGrid grid_;
  BlendWeights weights_;
  int channels_;
  int capacity_;         // rows in the ring: min(window size, raster height)
  int top_ = 0;          // first raster row not yet handed out
  int touched_end_ = 0;  // one past the last raster row touched
  int next_window_row_ = 0;
  int peak_active_ = 0;
  std::vector<double> sums_;         // [slot row][channel][col]: sum of weight * value
  std::vector<double> weight_sums_;  // [slot row][col]
};

// Where windows and rows cross, mean |difference| of neighbouring pixels: `seam_step` over pairs
// in window overlaps or across window borders, `interior_step` over pairs inside one window.
// ratio() near 1: no visible window grid; well above 1: a patch grid (e.g. DEM offsets).
// Pairs with a NaN pixel are ignored.
struct SeamStrength {
  double seam_step = 0.0;
  double interior_step = 0.0;
  std::size_t seam_pairs = 0;
  std::size_t interior_pairs = 0;
  double ratio() const { return interior_step > 0.0 ? seam_step / interior_step : 0.0; }
};

// `image` is one band, row-major, of the grid's raster size.
SeamStrength measure_seams(const float* image, const WindowGrid& grid);
// Band `band` (1-based) of a raster of the grid's size; nodata pixels are ignored.
SeamStrength measure_seams(const std::string& raster_path, const WindowGrid& grid, int band = 1);

// ---------------------------------------------------------------------------------------------
// The compute step, independent of any particular model.

// One output of a model.
struct TargetSpec {
  std::string name;
  int channels = 1;                   // values per pixel; for class targets one score per class
  bool is_classes = false;            // class probabilities: blended, then arg-maxed at the end
  std::string data_type = "Float32";  // continuous targets: GDAL type written (class maps: Byte)
  double nodata = -9999.0;            // written where no input holds data; fits data_type
  std::vector<std::string> band_descriptions;
  std::string units;               // physical units of continuous bands ("dB", "m"); "" for none
  std::vector<LulcClass> classes;  // class targets: channel k is classes[k] (index, name, colour);
                                   // empty: channel k is class k
};

// How a registry modality is written as a target: class maps (LULC) as class probabilities with
// the registry's classes and colours, nodata class 0; others with their band names and output
// type (nodata 0 for UInt16, -9999 otherwise). Throws std::invalid_argument for unknown names.
TargetSpec target_spec_for(const std::string& modality);

// One input modality of a batch: [window][channel][row][col] and [window][row][col].
struct InputTensor {
  std::string modality;  // registry name
  int channels = 0;
  std::vector<float> values;        // invalid pixels already filled; standardised if asked
  std::vector<std::uint8_t> valid;  // 1 where the raster held data before filling
};

struct InputBatch {
  int count = 0;                     // windows in the batch
  int window_size = 0;               // rows = cols
  std::vector<PixelWindow> windows;  // raster position of each window, e.g. to seed per window
  std::vector<InputTensor> inputs;   // in the order the scene inputs were given
  const InputTensor* find(const std::string& modality) const;
};

struct OutputTensor {
  std::string target;
  int channels = 0;
  std::vector<float> values;  // [window][channel][row][col], sized by the engine
};

struct OutputBatch {
  std::vector<OutputTensor> targets;  // the requested targets only, in request order
  OutputTensor* find(const std::string& target);
};

class WindowModel {
 public:
  virtual ~WindowModel() = default;
  virtual std::vector<std::string> targets() const = 0;
  virtual TargetSpec spec(const std::string& target) const = 0;
  // Input modalities (registry names) the model can take; any non-empty subset may be given.
  virtual bool accepts_input(const std::string& modality) const = 0;
  // Registry statistics the engine standardises inputs with, (x - mean) / std, before infer().
  // nullopt: the model gets raw values and standardises itself (TerraMind generation does); the
  // engine never normalises twice.
  virtual std::optional<StatsVersion> input_standardisation() const { return std::nullopt; }
  // Window sizes must be a multiple of this (e.g. 16 for ViT patches, 32 for diffusion decoders).
  virtual int window_size_multiple() const { return 1; }
  // What makes the model's pixels, for the provenance metadata of every output ("TM" domain):
  // e.g. MODEL, MODEL_SHA256, SEED, DIFFUSION_STEPS, TEMPERATURE, TOP_P.
  virtual std::map<std::string, std::string> provenance() const { return {}; }
  // Fills outputs.targets[*].values for every window of the batch, all targets in one pass.
  // Called from one thread at a time; may use threads of its own.
  virtual void infer(const InputBatch& inputs, OutputBatch& outputs) = 0;
};

// Reads one input window for a model exactly as generate_scene does: the reader's nodata, NaN and
// +-inf pixels are invalid, and so are values no sensor produces (more than
// kImplausibleStdDevs registry standard deviations from the modality's mean, e.g. 3e38 in an S-2
// band), so they never reach the network. Engines that generate windows on demand (the GDAL
// plugin) use it to match tm_generate.
constexpr double kImplausibleStdDevs = 1e4;
WindowData read_input_window(const SceneReader& reader, const Modality& modality,
                             const PixelWindow& window, EdgePolicy edge);

// Fills the invalid pixels of one input window and standardises it exactly as generate_scene does
// before infer(): writes values [channel][row][col] and validity [row][col] into one batch slot.
// Public for engines that generate windows on demand (the GDAL plugin) and must match tm_generate.
void prepare_window(const WindowData& data, const Modality& modality,
                    std::optional<StatsVersion> standardise, float* values_out,
                    std::uint8_t* valid_out);

// ---------------------------------------------------------------------------------------------
// The streaming pipeline.

struct SceneInput {
  SceneInput() = default;
  SceneInput(std::string scene_path, std::string modality_name, std::string origin_path = {})
      : path(std::move(scene_path)),
        modality(std::move(modality_name)),
        origin(std::move(origin_path)) {}

  std::string path;
  std::string modality;  // registry name or alias
  std::string origin;    // the user's file when `path` is derived from it (an area's VRT)
};

// A part of the scene to generate: a box (in the inputs' CRS, or `box_crs`), and/or the polygons
// of a vector file (OGR; pixels outside them are nodata, so windows there are skipped).
struct AreaOfInterest {
  bool has_box = false;
  std::array<double, 4> box{};  // min x, min y, max x, max y
  std::string box_crs;          // "" : the inputs' CRS
  std::string cutline;          // vector file path; "" : none
  bool empty() const { return !has_box && cutline.empty(); }
};

// The inputs cropped to `area` as virtual rasters (/vsimem/ VRTs) on the inputs' own grid (no
// resampling: the box snaps to whole pixels). Throws RasterError when the area misses a scene.
std::vector<SceneInput> crop_to_area(const std::vector<SceneInput>& inputs,
                                     const AreaOfInterest& area);

struct TargetRequest {
  TargetRequest() = default;
  TargetRequest(std::string target_name, std::string output_path,
                std::string probabilities_output = {})
      : target(std::move(target_name)),
        path(std::move(output_path)),
        probabilities_path(std::move(probabilities_output)) {}

  std::string target;              // one of WindowModel::targets()
  std::string path;                // continuous raster, or class raster with colour table
  std::string probabilities_path;  // class targets only: also write blended probabilities
  // Continuous targets (DEM): before blending, shift each window by the mean difference to what
  // its left and upper neighbours already blended (BlendAccumulator::alignment_offset), so
  // per-window levels leave no patch grid. Works while streaming; the first window of a connected
  // area sets the level, and small alignment errors can accumulate over long distances.
  bool harmonise_offsets = false;
};

struct TilingOptions {
  int window_size = 224;
  int overlap = 32;
  int batch_size = 8;             // windows per infer() call
  int threads = 0;                // TBB threads for reading, blending and writing; 0: all cores
  int max_batches_in_flight = 3;  // one per stage: read, infer, blend + write
  BlendWeighting weighting = BlendWeighting::kTaper;
  EdgePolicy edge = EdgePolicy::kReflect;  // for windows larger than the raster
  OpenOptions open;
  WriteOptions write;
  // GDAL's block cache is capped to this during the run (0: left alone). It must hold the input
  // tiles of one window row (two rows of 512-px tiles of a 12-band UInt16 10980-px scene: 276 MB)
  // plus the outputs' working tiles; GDAL's default (5 % of RAM) would dominate memory.
  std::size_t gdal_cache_bytes = std::size_t(384) << 20;
  // Called after each batch is blended: windows done (skipped ones included) and total. Runs on a
  // pipeline thread, one call at a time.
  std::function<void(std::size_t done, std::size_t total)> progress;
  // Keep finished rows in resumable working files with a checkpoint beside the first output, and
  // continue from them when an earlier run with the same inputs, model and settings was stopped.
  // Windows are regenerated from the last complete row on, with their own seeds, so the result
  // equals an uninterrupted run. Not with harmonise_offsets (its alignment chains every window).
  bool resume = false;
};

struct TilingSummary {
  std::size_t windows = 0;   // in the grid
  std::size_t inferred = 0;  // passed to the model
  std::size_t skipped = 0;   // all inputs all nodata
  std::size_t batches = 0;
  double seconds = 0.0;        // wall time, commits included
  double model_seconds = 0.0;  // inside WindowModel::infer
  int peak_band_rows = 0;      // most raster rows an accumulator held (<= window size)
  std::size_t accumulator_bytes = 0;
  std::size_t peak_rss_bytes = 0;  // process peak resident set (getrusage) at the end
  std::vector<std::string> outputs;
  std::vector<std::string> warnings;
  int resumed_rows = 0;  // raster rows an interrupted run had finished (resume), of raster_rows
  int raster_rows = 0;
  double model_busy_share() const { return seconds > 0.0 ? model_seconds / seconds : 0.0; }
};

// The provenance of one generated raster, for every tool and the plugin alike: tm's items
// (AI_GENERATED=YES, TARGET, TM_VERSION, CREATED, INPUT_<modality>, the window settings and the
// model's provenance(); files carry them as TM_<KEY>, the plugin's datasets also in a "TM" domain)
// and standard TIFF tags (software, date, a description saying the raster is AI-generated). The
// date is now, or SOURCE_DATE_EPOCH when set (reproducible outputs).
struct OutputProvenance {
  std::map<std::string, std::string> tm_domain;
  std::map<std::string, std::string> tiff_tags;  // default domain, TIFFTAG_*
};
OutputProvenance output_provenance(const WindowModel& model, const std::vector<SceneInput>& inputs,
                                   const TilingOptions& options, const std::string& target);
// The same for any tool: tm's items (AI_GENERATED when `ai_generated`, TARGET, VERSION, CREATED,
// INPUT_<modality>) plus `items`, and the TIFF tags naming `made_by`.
OutputProvenance tool_provenance(const std::string& target, const std::string& made_by,
                                 const std::vector<SceneInput>& inputs,
                                 const std::map<std::string, std::string>& items,
                                 bool ai_generated);

// Throws std::invalid_argument unless a model's TargetSpec can be written (channels, classes fit
// a Byte raster, known data type). `target` names it in the message.
void validate_target_spec(const TargetSpec& spec, const std::string& target);

// Runs `model` over the scene given by `inputs` and writes every requested target in one pass
// (each window is inferred once for all targets), with at most one band of window rows in memory.
//
// Inputs are opened, checked against their modality and against each other (one grid: size, CRS,
// geotransform) before any work; outputs are checked before any work and written atomically, on
// the inputs' grid, bit for bit. Windows where every input is nodata are not inferred. In other
// windows, invalid pixels of an input are filled with the mean of that band's valid pixels in the
// window (the modality's registry mean when the input has none there), so the model sees
// plausible values; the model also gets the masks. Output pixels where no input holds data are
// nodata. Class targets are blended as probabilities and written as the arg-max class (Byte, with
// colour table; nodata where no input holds data); probabilities optionally as Byte percentages,
// one band per class but the "No data" class, nodata 255.
// Ctrl-C (see install_interrupt_handlers) throws Interrupted and leaves no output behind.
TilingSummary generate_scene(const std::vector<SceneInput>& inputs, WindowModel& model,
                             const std::vector<TargetRequest>& targets,
                             const TilingOptions& options = {});

}  // namespace terramind

#include "tm/stac_item.h"  // scene inputs from a STAC Item (uses SceneInput above)
