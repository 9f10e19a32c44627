// PNG quicklooks: GDAL's utilities shrink the raster in memory (gdal_translate -outsize), draw it
// in the modality's style (gdal_translate -scale / -expand rgb, gdaldem hillshade / color-relief),
// tm adds an alpha band from the nodata mask, and the PNG is written beside its final name and
// renamed into place.
#include "tm/quicklook.h"

#include <cpl_conv.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <gdal.h>
#include <gdal_utils.h>
#include <ogr_srs_api.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "gdal_session.h"
#include "output_names.h"
#include "temp_registry.h"
#include "tm/ascii_strings.h"
#include "tm/tiling.h"

namespace terramind {
namespace {

// Brown (bare, water) -> yellow (sparse) -> green (dense vegetation) over NDVI -1..1.
struct RampStop {
  double ndvi;
  int r, g, b;
};
constexpr RampStop kNdviRamp[] = {
    {-1.0, 120, 70, 20}, {0.0, 190, 150, 90}, {0.2, 250, 230, 110},
    {0.5, 120, 190, 70}, {1.0, 0, 100, 40},
};

// Percentiles of the per-band stretch when the registry gives no fixed range.
constexpr double kLowPercentile = 0.02;
constexpr double kHighPercentile = 0.98;
// gdaldem -s for geographic CRSs: metres per degree (elevation in metres, pixels in degrees).
constexpr double kMetresPerDegree = 111120.0;

struct DatasetCloser {
  void operator()(void* ds) const {
    if (ds) GDALClose(static_cast<GDALDatasetH>(ds));
  }
};
using Dataset = std::unique_ptr<void, DatasetCloser>;

// The hidden temporary PNG: named as remove_stale_partials() expects, known to the Ctrl-C
// handler, removed (with any sidecar) unless published.
class TempPng {
 public:
  explicit TempPng(const std::string& final_path) {
    path_ = temp_name_for(final_path, "tm-partial");
    slot_ = register_temp_path(path_);
  }
  TempPng(const TempPng&) = delete;
  TempPng& operator=(const TempPng&) = delete;
  ~TempPng() {
    if (!published_) {
      std::remove(path_.c_str());
      std::remove((path_ + ".aux.xml").c_str());
    }
    unregister_temp_path(slot_);
  }
  const std::string& path() const { return path_; }

  void publish(const std::string& final_path) {
    // Nothing GDAL may have put beside the PNG travels with it: the PNG carries all it needs.
    std::remove((path_ + ".aux.xml").c_str());
    std::remove((final_path + ".aux.xml").c_str());
    if (std::rename(path_.c_str(), final_path.c_str()) != 0)
      throw RasterError("cannot move the quicklook into place as " + final_path + ": " +
                        std::strerror(errno));
    published_ = true;
  }

 private:
  std::string path_;
  int slot_ = -1;
  bool published_ = false;
};

// GDAL_PAM_ENABLED=NO for this thread while alive, so the PNG driver writes no .aux.xml.
class NoPamSidecars {
 public:
  NoPamSidecars() {
    const char* old = CPLGetThreadLocalConfigOption("GDAL_PAM_ENABLED", nullptr);
    if (old) {
      old_ = old;
      had_old_ = true;
    }
    CPLSetThreadLocalConfigOption("GDAL_PAM_ENABLED", "NO");
  }
  NoPamSidecars(const NoPamSidecars&) = delete;
  NoPamSidecars& operator=(const NoPamSidecars&) = delete;
  ~NoPamSidecars() {
    CPLSetThreadLocalConfigOption("GDAL_PAM_ENABLED", had_old_ ? old_.c_str() : nullptr);
  }

 private:
  std::string old_;
  bool had_old_ = false;
};

class Quicklook {
 public:
  Quicklook(const std::string& raster_path, const Modality& modality)
      : path_(raster_path), modality_(modality) {}

  // Raster band (1-based) holding the modality's band `index`: by description, else by order.
  int source_band(const RasterInfo& info, int index) const {
    const Band& wanted = modality_.bands.at(index);
    for (int b = 0; b < info.band_count; ++b) {
      const std::string description = static_cast<std::size_t>(b) < info.band_descriptions.size()
                                          ? info.band_descriptions[b]
                                          : "";
      if (description.empty()) continue;
      if (canonical_band_name(description) == canonical_band_name(wanted.name) ||
          to_upper(description) == to_upper(wanted.long_name))
        return b + 1;
    }
    if (info.band_count == modality_.channels() || (index == 0 && modality_.channels() == 1))
      return index + 1;
    throw RasterError(path_ + " has " + std::to_string(info.band_count) +
                      (info.band_count == 1 ? " band" : " bands") + " and none is described as " +
                      wanted.name + "; " + modality_.name + " has " +
                      std::to_string(modality_.channels()) + ": cannot make its quicklook");
  }

  [[noreturn]] void fail(const std::string& what, const GdalErrorCapture& capture) const {
    const std::string why = capture.last_message();
    throw RasterError("quicklook of " + path_ + ": " + what + " failed" +
                      (why.empty() ? "" : ": " + why));
  }

  Dataset translate(GDALDatasetH src, CPLStringList args, const std::string& what) const {
    GdalErrorCapture capture;
    args.AddString("-of");
    args.AddString("MEM");
    GDALTranslateOptions* options = GDALTranslateOptionsNew(args.List(), nullptr);
    if (!options) fail(what, capture);
    int usage_error = FALSE;
    GDALDatasetH out = GDALTranslate("", src, options, &usage_error);
    GDALTranslateOptionsFree(options);
    if (!out) fail(what, capture);
    return Dataset(out);
  }

  Dataset dem(GDALDatasetH src, const char* processing, const char* colour_file,
              CPLStringList args) const {
    GdalErrorCapture capture;
    const std::string what = std::string("gdaldem ") + processing;
    args.AddString("-of");
    args.AddString("MEM");
    GDALDEMProcessingOptions* options = GDALDEMProcessingOptionsNew(args.List(), nullptr);
    if (!options) fail(what, capture);
    int usage_error = FALSE;
    GDALDatasetH out = GDALDEMProcessing("", src, processing, colour_file, options, &usage_error);
    GDALDEMProcessingOptionsFree(options);
    if (!out) fail(what, capture);
    return Dataset(out);
  }

  std::vector<double> read_band(GDALDatasetH ds, int band) const {
    const int w = GDALGetRasterXSize(ds), h = GDALGetRasterYSize(ds);
    std::vector<double> values(static_cast<std::size_t>(w) * h);
    GdalErrorCapture capture;
    if (GDALRasterIO(GDALGetRasterBand(ds, band), GF_Read, 0, 0, w, h, values.data(), w, h,
                     GDT_Float64, 0, 0) != CE_None)
      fail("reading band " + std::to_string(band), capture);
    return values;
  }

  // 1 where every band holds data: GDAL's mask (nodata, alpha) and not NaN.
  std::vector<std::uint8_t> validity(GDALDatasetH ds) const {
    const int w = GDALGetRasterXSize(ds), h = GDALGetRasterYSize(ds);
    const std::size_t n = static_cast<std::size_t>(w) * h;
    std::vector<std::uint8_t> valid(n, 1), mask(n);
    for (int b = 1; b <= GDALGetRasterCount(ds); ++b) {
      GDALRasterBandH band = GDALGetRasterBand(ds, b);
      GdalErrorCapture capture;
      if (GDALRasterIO(GDALGetMaskBand(band), GF_Read, 0, 0, w, h, mask.data(), w, h, GDT_Byte, 0,
                       0) != CE_None)
        fail("reading the nodata mask", capture);
      const std::vector<double> values = read_band(ds, b);
      for (std::size_t i = 0; i < n; ++i)
        if (mask[i] == 0 || std::isnan(values[i])) valid[i] = 0;
    }
    return valid;
  }

  static std::string number(double value) { return CPLSPrintf("%.17g", value); }

  // gdal_translate -scale_<band> low high 0 255 for every band, to Byte.
  Dataset stretch(GDALDatasetH src, const std::vector<std::array<double, 2>>& ranges) const {
    CPLStringList args;
    args.AddString("-ot");
    args.AddString("Byte");
    args.AddString("-a_nodata");
    args.AddString("none");
    for (std::size_t b = 0; b < ranges.size(); ++b) {
      args.AddString(("-scale_" + std::to_string(b + 1)).c_str());
      args.AddString(number(ranges[b][0]).c_str());
      args.AddString(number(ranges[b][1]).c_str());
      args.AddString("0");
      args.AddString("255");
    }
    return translate(src, args, "stretching");
  }

  // 2-98 % of the valid values of each band (the registry's fixed range when it has one).
  std::vector<std::array<double, 2>> colour_ranges(GDALDatasetH ds,
                                                   const std::vector<std::uint8_t>& valid) const {
    std::vector<std::array<double, 2>> ranges;
    for (int b = 1; b <= GDALGetRasterCount(ds); ++b) {
      if (modality_.quicklook_range) {
        ranges.push_back(*modality_.quicklook_range);
        continue;
      }
      const std::vector<double> all = read_band(ds, b);
      std::vector<double> values;
      values.reserve(all.size());
      for (std::size_t i = 0; i < all.size(); ++i)
        if (valid[i]) values.push_back(all[i]);
      std::array<double, 2> range{0.0, 1.0};
      if (!values.empty()) {
        auto at = [&](double fraction) {
          const auto k = static_cast<std::size_t>(fraction * double(values.size() - 1) + 0.5);
          std::nth_element(values.begin(), values.begin() + k, values.end());
          return values[k];
        };
        range = {at(kLowPercentile), at(kHighPercentile)};
        if (!(range[1] > range[0])) range[1] = range[0] + 1.0;
      }
      ranges.push_back(range);
    }
    return ranges;
  }

  Dataset hillshade(GDALDatasetH dem_ds) const {
    CPLStringList args;
    args.AddString("-compute_edges");
    // -s: elevation units (metres) per horizontal unit of the CRS.
    if (OGRSpatialReferenceH srs = GDALGetSpatialRef(dem_ds)) {
      double scale = 1.0;
      if (OSRIsGeographic(srs))
        scale = kMetresPerDegree;
      else if (OSRIsProjected(srs))
        scale = OSRGetLinearUnits(srs, nullptr);
      if (scale > 0 && scale != 1.0) {
        args.AddString("-s");
        args.AddString(number(scale).c_str());
      }
    }
    return dem(dem_ds, "hillshade", nullptr, args);
  }

  Dataset ndvi_colours(GDALDatasetH ndvi) const {
    static std::atomic<int> counter{0};
    const std::string colour_file = "/vsimem/tm_quicklook_ndvi_" + std::to_string(getpid()) + "_" +
                                    std::to_string(counter++) + ".txt";
    std::string text;
    for (const RampStop& s : kNdviRamp)
      text += number(s.ndvi) + " " + std::to_string(s.r) + " " + std::to_string(s.g) + " " +
              std::to_string(s.b) + "\n";
    text += "nv 0 0 0\n";
    VSILFILE* file = VSIFileFromMemBuffer(colour_file.c_str(),
                                          reinterpret_cast<GByte*>(text.data()), text.size(),
                                          /*bTakeOwnership=*/FALSE);
    if (!file) throw RasterError("quicklook of " + path_ + ": cannot make the NDVI colour ramp");
    VSIFCloseL(file);
    struct Unlink {
      std::string path;
      ~Unlink() { VSIUnlink(path.c_str()); }
    } unlink{colour_file};
    return dem(ndvi, "color-relief", colour_file.c_str(), CPLStringList());
  }

  Dataset palette_colours(GDALDatasetH classes) const {
    GDALRasterBandH band = GDALGetRasterBand(classes, 1);
    if (!GDALGetRasterColorTable(band)) {
      // A class raster without a colour table: the registry's land-cover legend.
      GDALColorTableH table = GDALCreateColorTable(GPI_RGB);
      for (const LulcClass& c : ModalityRegistry::instance().lulc_classes()) {
        const GDALColorEntry entry{c.rgb[0], c.rgb[1], c.rgb[2], 255};
        GDALSetColorEntry(table, c.index, &entry);
      }
      GdalErrorCapture capture;
      const CPLErr status = GDALSetRasterColorTable(band, table);
      GDALDestroyColorTable(table);
      if (status != CE_None) fail("setting the land-cover colour table", capture);
    }
    CPLStringList args;
    args.AddString("-expand");
    args.AddString("rgb");
    args.AddString("-a_nodata");
    args.AddString("none");
    return translate(classes, args, "expanding the colour table");
  }

  // The picture's colour bands (1 grey or 3 RGB, Byte) and its validity, at the quicklook size.
  std::pair<Dataset, std::vector<std::uint8_t>> draw(GDALDatasetH src, const RasterInfo& info,
                                                     int width, int height) const {
    const QuicklookStyle style = modality_.quicklook;
    CPLStringList args;
    if (style == QuicklookStyle::kTrueColour) {
      for (const char* colour : {"RED", "GREEN", "BLUE"}) {
        args.AddString("-b");
        args.AddString(std::to_string(source_band(info, modality_.band_index(colour))).c_str());
      }
    } else {
      args.AddString("-b");
      args.AddString(std::to_string(source_band(info, 0)).c_str());
    }
    const bool classes = style == QuicklookStyle::kPalette;
    if (!classes) {
      args.AddString("-ot");
      args.AddString("Float32");
    }
    if (width != info.width || height != info.height) {
      args.AddString("-outsize");
      args.AddString(std::to_string(width).c_str());
      args.AddString(std::to_string(height).c_str());
      args.AddString("-r");
      args.AddString(classes ? "mode" : "average");
    }
    Dataset small = translate(src, args, "shrinking");
    std::vector<std::uint8_t> valid = validity(small.get());

    switch (style) {
      case QuicklookStyle::kTrueColour:
        return {stretch(small.get(), colour_ranges(small.get(), valid)), std::move(valid)};
      case QuicklookStyle::kDbStretch:
        return {stretch(small.get(), {*modality_.quicklook_range}), std::move(valid)};
      case QuicklookStyle::kHillshade:
        return {hillshade(small.get()), std::move(valid)};
      case QuicklookStyle::kPalette:
        return {palette_colours(small.get()), std::move(valid)};
      case QuicklookStyle::kNdviRamp:
        return {ndvi_colours(small.get()), std::move(valid)};
      case QuicklookStyle::kNone:
        break;
    }
    throw std::invalid_argument("modality " + modality_.name + " has no quicklook");
  }

  // The colour bands plus an alpha band from `valid`, as an in-memory Byte dataset.
  Dataset with_alpha(GDALDatasetH colours, const std::vector<std::uint8_t>& valid) const {
    const int w = GDALGetRasterXSize(colours), h = GDALGetRasterYSize(colours);
    const int n = GDALGetRasterCount(colours);
    if (static_cast<std::size_t>(w) * h != valid.size() || (n != 1 && n != 3))
      throw RasterError("quicklook of " + path_ + ": unexpected picture layout (" +
                        std::to_string(n) + " bands)");
    GdalErrorCapture capture;
    GDALDriverH mem = GDALGetDriverByName("MEM");
    if (!mem) fail("finding GDAL's MEM driver", capture);
    Dataset out(GDALCreate(mem, "", w, h, n + 1, GDT_Byte, nullptr));
    if (!out) fail("creating the picture", capture);
    std::vector<std::uint8_t> pixels(valid.size());
    for (int b = 1; b <= n + 1; ++b) {
      if (b <= n) {
        if (GDALRasterIO(GDALGetRasterBand(colours, b), GF_Read, 0, 0, w, h, pixels.data(), w, h,
                         GDT_Byte, 0, 0) != CE_None)
          fail("reading the picture", capture);
      } else {
        for (std::size_t i = 0; i < valid.size(); ++i) pixels[i] = valid[i] ? 255 : 0;
      }
      GDALRasterBandH band = GDALGetRasterBand(out.get(), b);
      if (GDALRasterIO(band, GF_Write, 0, 0, w, h, pixels.data(), w, h, GDT_Byte, 0, 0) != CE_None)
        fail("composing the picture", capture);
      static constexpr GDALColorInterp kRgb[] = {GCI_RedBand, GCI_GreenBand, GCI_BlueBand};
      GDALSetRasterColorInterpretation(band, b > n    ? GCI_AlphaBand
                                             : n == 1 ? GCI_GrayIndex
                                                      : kRgb[b - 1]);
    }
    return out;
  }

 private:
  std::string path_;
  const Modality& modality_;
};

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {};
  struct stat sb {};
  return stat(a.c_str(), &sa) == 0 && stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

}  // namespace

std::pair<int, int> quicklook_size(int width, int height, int max_size) {
  if (width < 1 || height < 1) throw std::invalid_argument("quicklook of an empty raster");
  if (max_size < 1)
    throw std::invalid_argument("quicklook size must be at least 1 px, not " +
                                std::to_string(max_size));
  const int longest = std::max(width, height);
  if (longest <= max_size) return {width, height};
  const double scale = double(max_size) / double(longest);
  auto side = [&](int n) {
    return std::clamp(static_cast<int>(std::lround(n * scale)), 1, max_size);
  };
  return {side(width), side(height)};
}

void write_quicklook(const std::string& raster_path, const Modality& modality,
                     const std::string& png_path, int max_size) {
  if (modality.quicklook == QuicklookStyle::kNone)
    throw std::invalid_argument("modality " + modality.name + " has no quicklook style");
  if (max_size < 1)
    throw std::invalid_argument("quicklook size must be at least 1 px, not " +
                                std::to_string(max_size));
  ensure_gdal_registered();
  const RasterInfo info = inspect_raster(raster_path);  // RasterError: missing, not a raster
  check_output_path(png_path, /*overwrite=*/true);
  if (same_file(raster_path, png_path))
    throw RasterError("quicklook " + png_path + " would replace its own raster");
  const auto [width, height] = quicklook_size(info.width, info.height, max_size);

  Dataset src;
  {
    GdalErrorCapture capture;
    src.reset(GDALOpenEx(raster_path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr, nullptr,
                         nullptr));
    if (!src)
      throw RasterError(raster_path + " is not a raster GDAL can read: " + capture.last_message());
  }
  Quicklook quicklook(raster_path, modality);
  auto [colours, valid] = quicklook.draw(src.get(), info, width, height);
  src.reset();
  Dataset picture = quicklook.with_alpha(colours.get(), valid);
  colours.reset();

  TempPng temp(png_path);
  {
    GdalErrorCapture capture;
    NoPamSidecars no_sidecars;
    GDALDriverH png = GDALGetDriverByName("PNG");
    if (!png) throw RasterError("cannot write " + png_path + ": GDAL has no PNG driver");
    Dataset written(
        GDALCreateCopy(png, temp.path().c_str(), picture.get(), FALSE, nullptr, nullptr, nullptr));
    if (!written) throw RasterError("cannot write " + png_path + ": " + capture.last_message());
    written.reset();  // closes (flushes) the PNG
    if (CPLGetLastErrorType() == CE_Failure)
      throw RasterError("cannot write " + png_path + ": " + capture.last_message());
  }
  throw_if_interrupted();
  temp.publish(png_path);
}

}  // namespace terramind
