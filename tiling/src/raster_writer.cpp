// Atomic GeoTIFF / COG writing: an uncompressed tiled working file receives the windows, commit()
// copies it to the final format next to the destination and renames it into place.
#include <dirent.h>
#include <gdal_priv.h>
#include <gdal_utils.h>
#include <ogr_spatialref.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "gdal_session.h"
#include "output_names.h"
#include "temp_registry.h"
#include "tm/ascii_strings.h"
#include "tm/tiling.h"

namespace terramind {
namespace {

void remove_file_and_sidecar(const std::string& path) {
  if (path.empty()) return;
  std::remove(path.c_str());
  std::remove((path + ".aux.xml").c_str());
}

// GDAL's write errors rarely say why; a full disk is the usual reason and users must see it.
std::string disk_full_note(const std::string& path) {
  struct statvfs fs {};
  if (statvfs(parent_folder(path).c_str(), &fs) != 0) return "";
  const double free_bytes = double(fs.f_bavail) * double(fs.f_frsize);
  return free_bytes < 1e6 ? " (No space left on device)" : "";
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

const char* best_compression() {
  GDALDriver* gtiff = GetGDALDriverManager()->GetDriverByName("GTiff");
  const char* options = gtiff ? gtiff->GetMetadataItem(GDAL_DMD_CREATIONOPTIONLIST) : nullptr;
  return options && std::strstr(options, "ZSTD") ? "ZSTD" : "DEFLATE";
}

int CPL_STDCALL progress_unless_interrupted(double, const char*, void*) {
  return interrupt_requested() ? FALSE : TRUE;
}

// A virtual (VRT) warp of `src` onto `grid`: classes by nearest neighbour, values bilinear.
GDALDatasetH warp_to_grid(GDALDataset* src, const OutputGrid& grid, bool classes,
                          std::optional<double> nodata) {
  CPLStringList args;
  args.AddString("-of");
  args.AddString("VRT");
  if (!grid.crs.empty()) {
    args.AddString("-t_srs");
    args.AddString(grid.crs.c_str());
  }
  if (grid.resolution_x > 0 || grid.resolution_y > 0) {
    args.AddString("-tr");
    args.AddString(
        CPLSPrintf("%.17g", grid.resolution_x > 0 ? grid.resolution_x : grid.resolution_y));
    args.AddString(
        CPLSPrintf("%.17g", grid.resolution_y > 0 ? grid.resolution_y : grid.resolution_x));
  }
  args.AddString("-r");
  args.AddString(classes ? "near" : "bilinear");
  if (nodata) {
    args.AddString("-dstnodata");
    args.AddString(CPLSPrintf("%.17g", *nodata));
  }
  GDALWarpAppOptions* options = GDALWarpAppOptionsNew(args.List(), nullptr);
  if (!options) return nullptr;
  GDALDatasetH sources[] = {GDALDataset::ToHandle(src)};
  GDALDatasetH out = GDALWarp("", nullptr, 1, sources, options, nullptr);
  GDALWarpAppOptionsFree(options);
  return out;
}

}  // namespace

std::vector<std::string> remove_stale_partials(const std::string& path) {
  std::vector<std::string> removed;
  const std::string folder = parent_folder(path);
  const std::string prefix = "." + base_name(path) + ".";
  DIR* dir = opendir(folder.c_str());
  if (!dir) return removed;
  while (const dirent* entry = readdir(dir)) {
    const std::string name = entry->d_name;
    if (name.rfind(prefix, 0) != 0) continue;
    std::string rest = name.substr(prefix.size());  // tm-partial-PID-N[.aux.xml]
    std::string tag;
    for (const char* t : {"tm-partial-", "tm-final-"})
      if (rest.rfind(t, 0) == 0) tag = t;
    if (tag.empty()) continue;
    rest = rest.substr(tag.size());
    const auto dash = rest.find('-');
    if (dash == std::string::npos || dash == 0) continue;
    long pid = 0;
    try {
      pid = std::stol(rest.substr(0, dash));
    } catch (const std::exception&) {
      continue;
    }
    // kill(pid, 0): ESRCH means no such process; EPERM means it runs under another user.
    if (pid <= 0 || pid == getpid() || kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH)
      continue;
    const std::string full = folder + "/" + name;
    if (std::remove(full.c_str()) == 0) removed.push_back(full);
  }
  closedir(dir);
  return removed;
}

std::string resumable_working_path(const std::string& path) {
  return parent_folder(path) + "/." + base_name(path) + ".tm-resume";
}

void set_gdal_config(const std::string& key, const std::string& value) {
  ensure_gdal_registered();
  CPLSetConfigOption(key.c_str(), value.c_str());
}

void require_local_output(const std::string& path) {
  if (path.rfind("/vsi", 0) == 0)
    throw RasterError("output " + path +
                      ": tm writes outputs to local files only (atomically, by rename); write "
                      "locally and copy, or read generated layers through the GDAL plugin");
}

void check_creation_option(const std::string& option, OutputFormat format) {
  ensure_gdal_registered();
  const auto eq = option.find('=');
  if (eq == std::string::npos || eq == 0)
    throw RasterError("creation option '" + option + "' is not KEY=VALUE");
  const char* name = format == OutputFormat::kCOG ? "COG" : "GTiff";
  GDALDriver* driver = GetGDALDriverManager()->GetDriverByName(name);
  const char* list = driver ? driver->GetMetadataItem(GDAL_DMD_CREATIONOPTIONLIST) : nullptr;
  const std::string key = option.substr(0, eq);
  if (list && !std::strstr(list, ("name='" + to_upper(key) + "'").c_str()))
    throw RasterError("'" + key + "' is not a creation option of GDAL's " + name +
                      " driver (see gdalinfo --format " + name + ")");
}

void check_output_path(const std::string& path, bool overwrite) {
  if (path.empty()) throw RasterError("no output path given");
  require_local_output(path);
  struct stat st {};
  if (stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) throw RasterError("output path is a folder: " + path);
    if (!overwrite)
      throw RasterError("output exists: " + path + " (pass --overwrite to replace it)");
  }
  const std::string folder = parent_folder(path);
  if (stat(folder.c_str(), &st) != 0) throw RasterError("output folder does not exist: " + folder);
  if (!S_ISDIR(st.st_mode)) throw RasterError("output folder is not a folder: " + folder);
  if (access(folder.c_str(), W_OK) != 0)
    throw RasterError("output folder is not writable: " + folder + " (" + std::strerror(errno) +
                      ")");
}

AtomicRasterWriter::AtomicRasterWriter(std::string path, RasterSpec spec, WriteOptions options,
                                       bool continue_working_file)
    : path_(std::move(path)), spec_(std::move(spec)), options_(options) {
  ensure_gdal_registered();
  if (spec_.width <= 0 || spec_.height <= 0 || spec_.bands <= 0)
    throw std::invalid_argument("raster spec needs a positive size and band count");
  const GDALDataType type = GDALGetDataTypeByName(spec_.data_type.c_str());
  if (type == GDT_Unknown)
    throw std::invalid_argument("unknown raster data type '" + spec_.data_type + "'");
  if (spec_.band_descriptions.size() > static_cast<std::size_t>(spec_.bands))
    throw std::invalid_argument("more band descriptions than bands");
  check_output_path(path_, options_.overwrite);

  if (options_.resumable) {
    // Not registered with the interrupt handler: a second Ctrl-C must not delete resumable work.
    temp_path_ = resumable_working_path(path_);
    if (continue_working_file) {
      reopen_working_file();
      return;
    }
  } else {
    temp_path_ = temp_name_for(path_, "tm-partial");
    temp_slot_ = register_temp_path(temp_path_);
  }
  const std::string block = std::to_string(options_.block_size);
  CPLStringList co;
  co.AddNameValue("TILED", "YES");
  co.AddNameValue("BLOCKXSIZE", block.c_str());
  co.AddNameValue("BLOCKYSIZE", block.c_str());
  co.AddNameValue("BIGTIFF", "IF_SAFER");
  // Resumable working files are closed at every checkpoint: without SPARSE_OK the first close
  // would write every tile not yet generated.
  if (options_.resumable) co.AddNameValue("SPARSE_OK", "TRUE");
  GdalErrorCapture capture;
  GDALDriver* gtiff = GetGDALDriverManager()->GetDriverByName("GTiff");
  GDALDataset* ds =
      gtiff->Create(temp_path_.c_str(), spec_.width, spec_.height, spec_.bands, type, co.List());
  if (!ds) {
    const std::string why = capture.last_message();
    unregister_temp_path(temp_slot_);
    temp_slot_ = -1;
    remove_file_and_sidecar(temp_path_);
    throw RasterError("cannot create output in " + parent_folder(path_) + ": " + why);
  }
  dataset_ = ds;

  if (spec_.georef.has_geotransform) ds->SetGeoTransform(spec_.georef.geotransform.data());
  if (!spec_.georef.crs_wkt.empty()) {
    OGRSpatialReference srs;
    srs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
    if (srs.importFromWkt(spec_.georef.crs_wkt.c_str()) != OGRERR_NONE) {
      discard();
      throw RasterError("output CRS is not valid WKT");
    }
    ds->SetSpatialRef(&srs);
  }
  for (const auto& [key, value] : spec_.metadata) ds->SetMetadataItem(key.c_str(), value.c_str());
  // Provenance as TM_<KEY> in the default domain: GDAL 3.6's GTiff/COG CreateCopy, gdal_translate
  // and gdalwarp drop custom domains, and the file must carry it wherever it goes.
  for (const auto& [key, value] : spec_.provenance)
    ds->SetMetadataItem(("TM_" + key).c_str(), value.c_str());
  for (int b = 1; b <= spec_.bands; ++b) {
    GDALRasterBand* band = ds->GetRasterBand(b);
    if (static_cast<std::size_t>(b) <= spec_.band_units.size() && !spec_.band_units[b - 1].empty())
      band->SetUnitType(spec_.band_units[b - 1].c_str());
    if (spec_.nodata) band->SetNoDataValue(*spec_.nodata);
    if (static_cast<std::size_t>(b) <= spec_.band_descriptions.size())
      band->SetDescription(spec_.band_descriptions[b - 1].c_str());
  }
  if (!spec_.classes.empty()) {
    GDALRasterBand* band = ds->GetRasterBand(1);
    GDALColorTable table;
    CPLStringList names;
    int max_index = 0;
    for (const auto& c : spec_.classes) max_index = std::max(max_index, c.index);
    std::vector<std::string> by_index(max_index + 1);
    for (const auto& c : spec_.classes) {
      GDALColorEntry entry{c.rgb[0], c.rgb[1], c.rgb[2], 255};
      table.SetColorEntry(c.index, &entry);
      by_index[c.index] = c.name;
    }
    for (const auto& name : by_index) names.AddString(name.c_str());
    band->SetColorTable(&table);
    band->SetColorInterpretation(GCI_PaletteIndex);
    band->SetCategoryNames(names.List());
  }
}

void AtomicRasterWriter::reopen_working_file() {
  GdalErrorCapture capture;
  auto* ds = static_cast<GDALDataset*>(
      GDALOpenEx(temp_path_.c_str(), GDAL_OF_RASTER | GDAL_OF_UPDATE, nullptr, nullptr, nullptr));
  if (!ds) throw RasterError("cannot reopen " + temp_path_ + ": " + capture.last_message());
  dataset_ = ds;
  const GDALDataType type = GDALGetDataTypeByName(spec_.data_type.c_str());
  if (ds->GetRasterXSize() != spec_.width || ds->GetRasterYSize() != spec_.height ||
      ds->GetRasterCount() != spec_.bands || ds->GetRasterBand(1)->GetRasterDataType() != type) {
    GDALClose(static_cast<GDALDatasetH>(dataset_));
    dataset_ = nullptr;
    throw RasterError(temp_path_ +
                      " does not match the output being written (size, bands or type)");
  }
}

AtomicRasterWriter::~AtomicRasterWriter() {
  if (committed_) return;
  if (!options_.resumable) {
    discard();
    return;
  }
  // Resumable: the working file stays for the next run, complete up to the last flush.
  if (dataset_) {
    GdalErrorCapture capture;
    GDALClose(static_cast<GDALDatasetH>(dataset_));
    dataset_ = nullptr;
  }
  remove_file_and_sidecar(cog_temp_path_);
  unregister_temp_path(cog_temp_slot_);
  cog_temp_slot_ = -1;
}

void AtomicRasterWriter::flush() {
  if (!dataset_) return;
  GdalErrorCapture capture;
  CPLErrorReset();
  // FlushCache alone can leave a fresh GeoTIFF's tile index unwritten (measured: a file killed
  // after its first flush read back empty); closing writes it, and reopening is cheap.
  GDALClose(static_cast<GDALDatasetH>(dataset_));
  dataset_ = nullptr;
  if (CPLGetLastErrorType() >= CE_Failure)
    throw RasterError("writing " + path_ + " failed: " + capture.last_message() +
                      disk_full_note(path_));
  reopen_working_file();
}

void AtomicRasterWriter::discard() noexcept {
  if (dataset_) {
    GdalErrorCapture capture;
    GDALClose(static_cast<GDALDatasetH>(dataset_));
    dataset_ = nullptr;
  }
  remove_file_and_sidecar(temp_path_);
  remove_file_and_sidecar(cog_temp_path_);
  unregister_temp_path(temp_slot_);
  unregister_temp_path(cog_temp_slot_);
  temp_slot_ = cog_temp_slot_ = -1;
}

void AtomicRasterWriter::write(const PixelWindow& w, const float* data) {
  write_raw(w, data, GDT_Float32);
}
void AtomicRasterWriter::write(const PixelWindow& w, const std::uint16_t* data) {
  write_raw(w, data, GDT_UInt16);
}
void AtomicRasterWriter::write(const PixelWindow& w, const std::uint8_t* data) {
  write_raw(w, data, GDT_Byte);
}

void AtomicRasterWriter::write_raw(const PixelWindow& w, const void* data, int gdal_type) {
  throw_if_interrupted();
  if (committed_ || !dataset_) throw std::logic_error("write after commit");
  if (w.x < 0 || w.y < 0 || w.width <= 0 || w.height <= 0 || w.x + w.width > spec_.width ||
      w.y + w.height > spec_.height)
    throw std::out_of_range("window (" + std::to_string(w.x) + ", " + std::to_string(w.y) + ", " +
                            std::to_string(w.width) + "x" + std::to_string(w.height) +
                            ") is outside the output raster");
  const auto type = static_cast<GDALDataType>(gdal_type);
  const GSpacing pixel = GDALGetDataTypeSizeBytes(type);
  GdalErrorCapture capture;
  auto* ds = static_cast<GDALDataset*>(dataset_);
  const CPLErr err = ds->RasterIO(GF_Write, w.x, w.y, w.width, w.height, const_cast<void*>(data),
                                  w.width, w.height, type, spec_.bands, nullptr, pixel,
                                  pixel * w.width, pixel * w.width * w.height, nullptr);
  if (err != CE_None)
    throw RasterError("writing " + path_ + " failed: " + capture.last_message() +
                      disk_full_note(path_));
}

void AtomicRasterWriter::commit() {
  finish();
  publish();
}

void AtomicRasterWriter::finish() {
  if (finished_ || committed_) return;
  throw_if_interrupted();
  auto* src = static_cast<GDALDataset*>(dataset_);
  GdalErrorCapture capture;
  src->FlushCache();  // void in GDAL 3.6: errors surface through CPLGetLastErrorType
  if (CPLGetLastErrorType() >= CE_Failure)
    throw RasterError("writing " + path_ + " failed: " + capture.last_message() +
                      disk_full_note(path_));

  const bool cog = options_.format == OutputFormat::kCOG;
  const bool floating = spec_.data_type == "Float32" || spec_.data_type == "Float64";
  CPLStringList co;
  co.AddNameValue("COMPRESS", best_compression());
  co.AddNameValue("BIGTIFF", "IF_SAFER");
  co.AddNameValue("NUM_THREADS", "ALL_CPUS");
  if (cog) {
    co.AddNameValue("BLOCKSIZE", std::to_string(options_.block_size).c_str());
    if (spec_.classes.empty()) co.AddNameValue("PREDICTOR", "YES");
    // Class rasters must never be averaged into overviews.
    co.AddNameValue("RESAMPLING", spec_.classes.empty() && floating ? "AVERAGE" : "NEAREST");
  } else {
    co.AddNameValue("TILED", "YES");
    co.AddNameValue("BLOCKXSIZE", std::to_string(options_.block_size).c_str());
    co.AddNameValue("BLOCKYSIZE", std::to_string(options_.block_size).c_str());
    if (spec_.classes.empty()) co.AddNameValue("PREDICTOR", floating ? "3" : "2");
  }
  for (const auto& option : options_.creation_options) {
    const auto eq = option.find('=');
    co.SetNameValue(option.substr(0, eq).c_str(), option.substr(eq + 1).c_str());
  }
  cog_temp_path_ = temp_name_for(path_, "tm-final");
  cog_temp_slot_ = register_temp_path(cog_temp_path_);
  GDALDriver* driver = GetGDALDriverManager()->GetDriverByName(cog ? "COG" : "GTiff");
  if (!driver) throw RasterError(std::string("GDAL has no ") + (cog ? "COG" : "GTiff") + " driver");
  GDALDataset* source = src;
  GDALDatasetH warped = nullptr;
  if (!options_.grid.empty()) {
    warped = warp_to_grid(src, options_.grid, !spec_.classes.empty(), spec_.nodata);
    if (!warped) {
      throw_if_interrupted();
      throw RasterError("warping " + path_ +
                        " to the output grid failed: " + capture.last_message());
    }
    source = GDALDataset::FromHandle(warped);
  }
  GDALDataset* out = driver->CreateCopy(cog_temp_path_.c_str(), source, FALSE, co.List(),
                                        progress_unless_interrupted, nullptr);
  if (warped) GDALClose(warped);
  if (!out) {
    throw_if_interrupted();
    throw RasterError("finishing " + path_ + " failed: " + capture.last_message() +
                      disk_full_note(path_));
  }
  out->FlushCache();
  GDALClose(out);  // returns void in GDAL 3.6
  if (CPLGetLastErrorType() >= CE_Failure)
    throw RasterError("finishing " + path_ + " failed: " + capture.last_message() +
                      disk_full_note(path_));
  GDALClose(src);
  dataset_ = nullptr;
  // A resumable working file goes only once the output is in place (publish).
  if (!options_.resumable) remove_file_and_sidecar(temp_path_);
  finished_ = true;
}

void AtomicRasterWriter::publish() {
  if (committed_) return;
  if (!finished_) throw std::logic_error("publish before finish");
  // Category names live in a PAM sidecar for GeoTIFF; move it along, drop a stale one.
  std::remove((path_ + ".aux.xml").c_str());
  if (file_exists(cog_temp_path_ + ".aux.xml") &&
      std::rename((cog_temp_path_ + ".aux.xml").c_str(), (path_ + ".aux.xml").c_str()) != 0)
    throw RasterError("cannot move " + cog_temp_path_ +
                      ".aux.xml into place: " + std::strerror(errno));
  if (std::rename(cog_temp_path_.c_str(), path_.c_str()) != 0)
    throw RasterError("cannot move the finished output into place at " + path_ + ": " +
                      std::strerror(errno));
  if (options_.resumable) remove_file_and_sidecar(temp_path_);
  unregister_temp_path(temp_slot_);
  unregister_temp_path(cog_temp_slot_);
  temp_slot_ = cog_temp_slot_ = -1;
  committed_ = true;
}

}  // namespace terramind
