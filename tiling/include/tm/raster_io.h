// tm/raster_io.h — raster I/O (part of tm_tiling; included by tm/tiling.h).
//
// Reading scenes and checking them against registry modalities, reading windows with a defined
// edge policy, and writing georeferenced GeoTIFF / COG outputs atomically (temporary file, rename
// on success; failure or Ctrl-C leaves nothing behind). GDAL is an implementation detail: it does
// not appear in this header (AtomicRasterWriter holds its dataset through a forward declaration).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tm/pixel_window.h"
#include "tm/registry.h"

class GDALDataset;  // GDAL's dataset (gdal_priv.h), only pointed to here

namespace terramind {

// Bad input or output: the message names the file and the problem, ready to show to a user.
class RasterError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

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
  GDALDataset* dataset_ = nullptr;  // the open working file
  int temp_slot_ = -1;              // interrupt-handler registrations
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

}  // namespace terramind
