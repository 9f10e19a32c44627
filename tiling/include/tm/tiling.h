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
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tm/registry.h"

namespace terramind {

// Bad input or output: the message names the file and the problem, ready to show to a user.
class RasterError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Raised by long-running work after SIGINT/SIGTERM; callers exit with status 130.
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
  GeoReference georef;
  std::vector<std::string> warnings;  // e.g. accepted without georeferencing

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
  std::map<std::string, std::string> metadata;
};

struct WriteOptions {
  OutputFormat format = OutputFormat::kCOG;
  bool overwrite = false;
  int block_size = 512;
};

// Refuses (RasterError) an existing output unless `overwrite`, a missing or unwritable folder, or a
// path that is a folder. Call it before long work so users learn early.
void check_output_path(const std::string& path, bool overwrite);

// Writes into a hidden temporary file beside `path`; commit() finishes it (COG conversion when
// asked) and renames it into place. Destroyed without commit(), it removes the temporary file.
class AtomicRasterWriter {
 public:
  AtomicRasterWriter(std::string path, RasterSpec spec, WriteOptions options = {});
  AtomicRasterWriter(const AtomicRasterWriter&) = delete;
  AtomicRasterWriter& operator=(const AtomicRasterWriter&) = delete;
  ~AtomicRasterWriter();

  // All bands of a window, band-sequential. Throws Interrupted after Ctrl-C.
  void write(const PixelWindow& window, const float* data);
  void write(const PixelWindow& window, const std::uint16_t* data);
  void write(const PixelWindow& window, const std::uint8_t* data);
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  void write_raw(const PixelWindow& window, const void* data, int gdal_type);
  void discard() noexcept;

  std::string path_;
  std::string temp_path_;
  std::string cog_temp_path_;
  RasterSpec spec_;
  WriteOptions options_;
  void* dataset_ = nullptr;  // GDALDatasetH
  int temp_slot_ = -1;       // interrupt-handler registrations
  int cog_temp_slot_ = -1;
  bool committed_ = false;
};

// GDAL helpers that keep GDAL out of callers.
bool is_known_raster_type(const std::string& gdal_type_name);
// WKT2 of a CRS given as "EPSG:32632", PROJ string or WKT; throws RasterError if unknown.
std::string crs_to_wkt(const std::string& definition);
// Short human name of a CRS, e.g. "WGS 84 / UTM zone 32N (EPSG:32632)".
std::string crs_display_name(const std::string& wkt);

}  // namespace terramind
