// The published TerraMesh layout: listing the per-modality shard tars, reading them in lockstep
// and decoding their "<key>.zarr.zip" members through GDAL's Zarr driver.
//
// The fields read (training/README.md says where each fact comes from):
//   bands                 the pixels, (time, band, y, x) with time of size 1, or (band, y, x),
//                         or (y, x); any other variable name is accepted when it is the only
//                         non-coordinate variable of rank >= 2
//   x, y                  1-D coordinates of the pixel centres (CRS units) -> geotransform
//   crs                   integer EPSG code (0-d); else a spatial_ref variable's crs_wkt /
//                         spatial_ref attribute, a "crs" attribute, or GDAL's own _CRS
//   time                  int64 nanoseconds since 1970-01-01 (values <= 1e6: none, as in DEM),
//                         or CF "<unit> since <date>" when it has a units attribute
//   center_lon/center_lat 0-d float64 variables (or attributes); else computed from the
//                         footprint's centre with OGR
#include "terramesh_source.h"
#include "vsi_files.h"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <gdal.h>
#include <gdal_priv.h>
#include <ogr_spatialref.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <set>

#include "tm/ascii_strings.h"
#include "tm/registry.h"

namespace terramind::shards {
namespace {

constexpr const char* kZarrZip = ".zarr.zip";

// ---------------------------------------------------------------------------------------------
// GDAL plumbing

// Collects the GDAL errors raised on this thread while it lives (and keeps them off stderr).
class ErrorCapture {
 public:
  ErrorCapture() {
    CPLErrorReset();
    CPLPushErrorHandlerEx(&ErrorCapture::handler, this);
  }
  ~ErrorCapture() { CPLPopErrorHandler(); }
  ErrorCapture(const ErrorCapture&) = delete;
  ErrorCapture& operator=(const ErrorCapture&) = delete;

  // The first error message, or `fallback`.
  std::string message(const std::string& fallback) const {
    return first_.empty() ? fallback : first_;
  }

 private:
  static void CPL_STDCALL handler(CPLErr level, CPLErrorNum, const char* text) {
    auto* self = static_cast<ErrorCapture*>(CPLGetErrorHandlerUserData());
    if (self && level >= CE_Failure && self->first_.empty() && text) self->first_ = text;
  }
  std::string first_;
};

// ---------------------------------------------------------------------------------------------
// The zip, mounted as a /vsimem folder
//
// The member's zip is read here rather than through /vsizip/: GDAL's archive handlers cache the
// listing of every archive they open, keyed by name and never evicted (a unique name per call
// grows the process by kilobytes per sample; a reused name can serve a stale listing when the
// new zip has the same size and second of creation). Each entry becomes a /vsimem file under a
// folder unique to the call: stored entries (zarr's ZipStore default) point into the member's
// bytes without a copy, deflated ones are inflated into buffers held for the call.

std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | p[1] << 8); }
std::uint32_t le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}
std::uint64_t le64(const std::uint8_t* p) {
  return static_cast<std::uint64_t>(le32(p)) | static_cast<std::uint64_t>(le32(p + 4)) << 32;
}

struct ZipEntry {
  std::string name;
  std::uint16_t method = 0;
  std::uint32_t crc = 0;
  std::uint64_t compressed = 0;
  std::uint64_t size = 0;
  std::uint64_t local_offset = 0;
};

// The central directory of a zip held in memory. Throws FormatError naming `what`.
std::vector<ZipEntry> zip_directory(const std::uint8_t* data, std::size_t size,
                                    const std::string& what) {
  auto bad = [&](const std::string& why) {
    return FormatError(what + ": not a readable zip archive (" + why + ")");
  };
  if (size < 22) throw bad("too short");
  std::size_t eocd = std::string::npos;
  const std::size_t lowest = size > 22 + 65535 ? size - 22 - 65535 : 0;
  for (std::size_t at = size - 22 + 1; at-- > lowest;)
    if (le32(data + at) == 0x06054b50) {
      eocd = at;
      break;
    }
  if (eocd == std::string::npos) throw bad("no end of central directory: truncated?");
  std::uint64_t entries = le16(data + eocd + 10);
  std::uint64_t cd_size = le32(data + eocd + 12);
  std::uint64_t cd_offset = le32(data + eocd + 16);
  if ((entries == 0xffff || cd_size == 0xffffffffu || cd_offset == 0xffffffffu) && eocd >= 20 &&
      le32(data + eocd - 20) == 0x07064b50) {  // zip64
    const std::uint64_t record = le64(data + eocd - 20 + 8);
    if (record + 56 > size || le32(data + record) != 0x06064b50) throw bad("bad zip64 record");
    entries = le64(data + record + 32);
    cd_size = le64(data + record + 40);
    cd_offset = le64(data + record + 48);
  }
  if (cd_offset > size || cd_size > size - cd_offset) throw bad("central directory out of range");
  std::vector<ZipEntry> out;
  std::uint64_t at = cd_offset;
  for (std::uint64_t i = 0; i < entries; ++i) {
    if (at + 46 > cd_offset + cd_size || le32(data + at) != 0x02014b50)
      throw bad("corrupt central directory");
    ZipEntry entry;
    const std::uint16_t flags = le16(data + at + 8);
    entry.method = le16(data + at + 10);
    entry.crc = le32(data + at + 16);
    entry.compressed = le32(data + at + 20);
    entry.size = le32(data + at + 24);
    const std::uint16_t name_length = le16(data + at + 28);
    const std::uint16_t extra_length = le16(data + at + 30);
    const std::uint16_t comment_length = le16(data + at + 32);
    entry.local_offset = le32(data + at + 42);
    if (at + 46 + name_length + extra_length > cd_offset + cd_size)
      throw bad("corrupt central directory");
    entry.name.assign(reinterpret_cast<const char*>(data + at + 46), name_length);
    // Zip64 sizes and offset, in this order, for the fields saturated above.
    const std::uint64_t extra_end = at + 46 + name_length + extra_length;
    for (std::uint64_t e = at + 46 + name_length; e + 4 <= extra_end;) {
      const std::uint16_t id = le16(data + e);
      const std::uint16_t length = le16(data + e + 2);
      if (e + 4 + length > extra_end) break;
      if (id == 0x0001) {
        std::uint64_t field = e + 4;
        auto take = [&](std::uint64_t& value) {
          if (value == 0xffffffffu && field + 8 <= e + 4 + length) {
            value = le64(data + field);
            field += 8;
          }
        };
        take(entry.size);
        take(entry.compressed);
        take(entry.local_offset);
      }
      e += 4 + length;
    }
    if (flags & 1) throw FormatError(what + ": zip entry " + entry.name + " is encrypted");
    out.push_back(std::move(entry));
    at += 46 + name_length + extra_length + comment_length;
  }
  return out;
}

// The zip's entries as files of a fresh /vsimem folder, removed on destruction.
class ZipMount {
 public:
  ZipMount(const std::vector<std::uint8_t>& bytes, const std::string& what) {
    static std::atomic<std::uint64_t> counter{0};
    folder_ = "/vsimem/tm_terramesh_" + std::to_string(counter.fetch_add(1)) + ".zarr";
    VSIMkdir(folder_.c_str(), 0755);
    try {
      mount(bytes, what);
    } catch (...) {
      VSIRmdirRecursive(folder_.c_str());
      throw;
    }
  }
  ~ZipMount() { VSIRmdirRecursive(folder_.c_str()); }
  ZipMount(const ZipMount&) = delete;
  ZipMount& operator=(const ZipMount&) = delete;
  const std::string& folder() const { return folder_; }
  bool has(const std::string& name) const { return names_.count(name) != 0; }

 private:
  void mount(const std::vector<std::uint8_t>& bytes, const std::string& what) {
    const std::uint8_t* data = bytes.data();
    const std::size_t size = bytes.size();
    for (const auto& entry : zip_directory(data, size, what)) {
      if (entry.name.empty() || entry.name.back() == '/') continue;  // folders
      if (entry.name.front() == '/' || entry.name.find("..") != std::string::npos ||
          entry.name.find('\\') != std::string::npos)
        throw FormatError(what + ": zip entry \"" + entry.name + "\" has an unsafe path");
      const std::string where = what + ": zip entry " + entry.name;
      if (entry.size > (std::uint64_t{1} << 31))
        throw FormatError(where + " is too large (" + std::to_string(entry.size) + " bytes)");
      if (entry.local_offset + 30 > size || le32(data + entry.local_offset) != 0x04034b50)
        throw FormatError(where + " has no local header (truncated zip?)");
      const std::uint64_t start = entry.local_offset + 30 + le16(data + entry.local_offset + 26) +
                                  le16(data + entry.local_offset + 28);
      if (start > size || entry.compressed > size - start)
        throw FormatError(where + " runs past the end of the zip (truncated?)");
      const std::uint8_t* payload = data + start;
      if (entry.method == 0) {
        if (entry.compressed != entry.size) throw FormatError(where + ": inconsistent sizes");
      } else if (entry.method == 8) {
        inflated_.emplace_back(entry.size);
        inflate_raw(payload, entry.compressed, inflated_.back(), where);
        payload = inflated_.back().data();
      } else {
        throw FormatError(where + " uses compression method " + std::to_string(entry.method) +
                          " (only stored and deflate are read)");
      }
      if (crc32(0L, payload, static_cast<uInt>(entry.size)) != entry.crc)
        throw FormatError(where + ": CRC-32 mismatch (corrupt zip)");
      // Parent folders, made once each.
      for (auto slash = entry.name.find('/'); slash != std::string::npos;
           slash = entry.name.find('/', slash + 1))
        if (folders_.insert(entry.name.substr(0, slash)).second)
          VSIMkdir((folder_ + "/" + entry.name.substr(0, slash)).c_str(), 0755);
      // GDAL only reads these buffers (the store is opened read-only): hence the const_cast.
      VSILFILE* file =
          VSIFileFromMemBuffer((folder_ + "/" + entry.name).c_str(), const_cast<GByte*>(payload),
                               static_cast<vsi_l_offset>(entry.size), FALSE);
      if (!file) throw FormatError(where + ": cannot be mapped to /vsimem");
      VSIFCloseL(file);
      names_.insert(entry.name);
    }
  }

  static void inflate_raw(const std::uint8_t* in, std::uint64_t in_size,
                          std::vector<std::uint8_t>& out, const std::string& where) {
    z_stream stream{};
    if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) throw FormatError(where + ": zlib failure");
    stream.next_in = const_cast<Bytef*>(in);
    stream.avail_in = static_cast<uInt>(in_size);
    stream.next_out = out.data();
    stream.avail_out = static_cast<uInt>(out.size());
    const int result = inflate(&stream, Z_FINISH);
    const bool complete = result == Z_STREAM_END && stream.total_out == out.size();
    inflateEnd(&stream);
    if (!complete) throw FormatError(where + ": corrupt deflate stream");
  }

  std::string folder_;
  std::set<std::string> names_;
  std::set<std::string> folders_;
  std::vector<std::vector<std::uint8_t>> inflated_;
};

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}
std::string parent_folder(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

// ---------------------------------------------------------------------------------------------
// Reading small arrays and attributes

// A 0-d (or one-element) numeric array as double; nullopt when absent or not numeric.
std::optional<double> scalar_value(const std::shared_ptr<GDALMDArray>& array) {
  if (!array || array->GetDataType().GetClass() != GEDTC_NUMERIC) return std::nullopt;
  if (array->GetTotalElementsCount() != 1) return std::nullopt;
  const std::size_t rank = array->GetDimensionCount();
  std::vector<GUInt64> start(rank, 0);
  std::vector<std::size_t> count(rank, 1);
  double value = 0;
  if (!array->Read(start.data(), count.data(), nullptr, nullptr,
                   GDALExtendedDataType::Create(GDT_Float64), &value))
    return std::nullopt;
  return value;
}

// A 0-d (or one-element) array as int64 (exact for EPSG codes and nanosecond timestamps).
std::optional<std::int64_t> scalar_int64(const std::shared_ptr<GDALMDArray>& array) {
  if (!array || array->GetDataType().GetClass() != GEDTC_NUMERIC) return std::nullopt;
  if (array->GetTotalElementsCount() != 1) return std::nullopt;
  const std::size_t rank = array->GetDimensionCount();
  std::vector<GUInt64> start(rank, 0);
  std::vector<std::size_t> count(rank, 1);
  std::int64_t value = 0;
  if (!array->Read(start.data(), count.data(), nullptr, nullptr,
                   GDALExtendedDataType::Create(GDT_Int64), &value))
    return std::nullopt;
  return value;
}

// A 0-d (or one-element) string array.
std::optional<std::string> scalar_string(const std::shared_ptr<GDALMDArray>& array) {
  if (!array || array->GetDataType().GetClass() != GEDTC_STRING) return std::nullopt;
  if (array->GetTotalElementsCount() != 1) return std::nullopt;
  const std::size_t rank = array->GetDimensionCount();
  std::vector<GUInt64> start(rank, 0);
  std::vector<std::size_t> count(rank, 1);
  char* value = nullptr;
  if (!array->Read(start.data(), count.data(), nullptr, nullptr,
                   GDALExtendedDataType::CreateString(), &value))
    return std::nullopt;
  std::string out = value ? value : "";
  CPLFree(value);
  return out;
}

std::optional<std::string> string_attribute(const GDALIHasAttribute& owner,
                                            const std::string& name) {
  const auto attribute = owner.GetAttribute(name);
  if (!attribute) return std::nullopt;
  if (attribute->GetDataType().GetClass() == GEDTC_STRING) {
    const char* text = attribute->ReadAsString();
    if (text) return std::string(text);
    return std::nullopt;
  }
  if (attribute->GetDataType().GetClass() == GEDTC_NUMERIC) {
    const double value = attribute->ReadAsDouble();
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.17g", value);
    return std::string(buffer);
  }
  return std::nullopt;
}

std::optional<double> number_attribute(const GDALIHasAttribute& owner, const std::string& name) {
  const auto attribute = owner.GetAttribute(name);
  if (!attribute || attribute->GetDataType().GetClass() != GEDTC_NUMERIC) return std::nullopt;
  return attribute->ReadAsDouble();
}

// A 1-D numeric array as doubles.
std::optional<std::vector<double>> vector_values(const std::shared_ptr<GDALMDArray>& array) {
  if (!array || array->GetDimensionCount() != 1 || array->GetDataType().GetClass() != GEDTC_NUMERIC)
    return std::nullopt;
  const std::size_t n = static_cast<std::size_t>(array->GetDimensions()[0]->GetSize());
  std::vector<double> values(n);
  const GUInt64 start = 0;
  if (n && !array->Read(&start, &n, nullptr, nullptr, GDALExtendedDataType::Create(GDT_Float64),
                        values.data()))
    return std::nullopt;
  return values;
}

// Opens an array of the root group, quietly: nullptr when it is absent or GDAL cannot open it
// (a data type the driver does not know, such as datetime64).
std::shared_ptr<GDALMDArray> open_array(const std::shared_ptr<GDALGroup>& root,
                                        const std::set<std::string>& names,
                                        const std::string& name) {
  if (!names.count(name)) return nullptr;
  CPLPushErrorHandler(CPLQuietErrorHandler);
  auto array = root->OpenMDArray(name);
  CPLPopErrorHandler();
  CPLErrorReset();
  return array;
}

// ---------------------------------------------------------------------------------------------
// Metadata

// "EPSG:<code>" when the CRS is identified by an EPSG code, else its WKT.
std::string crs_text(const OGRSpatialReference& srs) {
  const char* authority = srs.GetAuthorityName(nullptr);
  const char* code = srs.GetAuthorityCode(nullptr);
  if (authority && code && EQUAL(authority, "EPSG")) return std::string("EPSG:") + code;
  OGRSpatialReference copy(srs);
  if (copy.AutoIdentifyEPSG() == OGRERR_NONE) {
    authority = copy.GetAuthorityName(nullptr);
    code = copy.GetAuthorityCode(nullptr);
    if (authority && code && EQUAL(authority, "EPSG")) return std::string("EPSG:") + code;
  }
  char* wkt = nullptr;
  srs.exportToWkt(&wkt);
  std::string out = wkt ? wkt : "";
  CPLFree(wkt);
  return out;
}

std::string crs_from_user_text(const std::string& text) {
  if (text.empty()) return "";
  OGRSpatialReference srs;
  CPLPushErrorHandler(CPLQuietErrorHandler);
  const OGRErr err = srs.SetFromUserInput(text.c_str());
  CPLPopErrorHandler();
  CPLErrorReset();
  return err == OGRERR_NONE ? crs_text(srs) : std::string();
}

std::string crs_from_epsg(std::int64_t code) {
  if (code <= 0 || code > 0x7fffffff) return "";
  return "EPSG:" + std::to_string(code);
}

std::string read_crs(const std::shared_ptr<GDALGroup>& root, const std::set<std::string>& names,
                     const std::shared_ptr<GDALMDArray>& data) {
  // TerraMesh: a 0-d int64 "crs" variable holding the EPSG code.
  if (const auto crs = open_array(root, names, "crs")) {
    if (const auto code = scalar_int64(crs)) {
      const std::string text = crs_from_epsg(*code);
      if (!text.empty()) return text;
    }
    if (const auto text = scalar_string(crs)) {
      const std::string parsed = crs_from_user_text(*text);
      if (!parsed.empty()) return parsed;
    }
    for (const char* attribute : {"crs_wkt", "spatial_ref"})
      if (const auto text = string_attribute(*crs, attribute)) {
        const std::string parsed = crs_from_user_text(*text);
        if (!parsed.empty()) return parsed;
      }
  }
  // CF grid mapping as rioxarray writes it.
  if (const auto ref = open_array(root, names, "spatial_ref")) {
    for (const char* attribute : {"crs_wkt", "spatial_ref"})
      if (const auto text = string_attribute(*ref, attribute)) {
        const std::string parsed = crs_from_user_text(*text);
        if (!parsed.empty()) return parsed;
      }
  }
  // A "crs" attribute (EPSG code or any text OGR understands) on the variable or the group.
  for (const GDALIHasAttribute* owner : {static_cast<const GDALIHasAttribute*>(data.get()),
                                         static_cast<const GDALIHasAttribute*>(root.get())})
    if (const auto text = string_attribute(*owner, "crs")) {
      std::string candidate = *text;
      char* end = nullptr;
      const double number = std::strtod(candidate.c_str(), &end);
      if (end && *end == '\0' && number > 0 && number == std::floor(number))
        candidate = "EPSG:" + std::to_string(static_cast<std::int64_t>(number));
      const std::string parsed = crs_from_user_text(candidate);
      if (!parsed.empty()) return parsed;
    }
  // GDAL's own convention (_CRS attribute).
  if (const auto srs = data->GetSpatialRef()) return crs_text(*srs);
  return "";
}

// Days since 1970-01-01 of a proleptic Gregorian date, and back.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}
void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp + (mp < 10 ? 3 : -9);
  y += m <= 2;
}

// ISO 8601 date-time of nanoseconds since the epoch ("2021-07-23T13:22:41", fraction if any).
std::string iso_from_ns(std::int64_t ns) {
  std::int64_t seconds = ns / 1000000000;
  std::int64_t fraction = ns % 1000000000;
  if (fraction < 0) {
    fraction += 1000000000;
    --seconds;
  }
  std::int64_t days = seconds / 86400;
  std::int64_t rest = seconds % 86400;
  if (rest < 0) {
    rest += 86400;
    --days;
  }
  std::int64_t year = 0;
  unsigned month = 0, day = 0;
  civil_from_days(days, year, month, day);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04lld-%02u-%02uT%02d:%02d:%02d",
                static_cast<long long>(year), month, day, static_cast<int>(rest / 3600),
                static_cast<int>(rest / 60 % 60), static_cast<int>(rest % 60));
  std::string out = buffer;
  if (fraction) {
    std::snprintf(buffer, sizeof buffer, ".%09lld", static_cast<long long>(fraction));
    std::string digits = buffer;
    while (digits.back() == '0') digits.pop_back();
    out += digits;
  }
  return out;
}

// Nanoseconds per CF time unit, 0 when unknown.
std::int64_t unit_ns(std::string unit) {
  unit = to_lower(unit);
  if (unit == "nanoseconds" || unit == "nanosecond" || unit == "ns") return 1;
  if (unit == "microseconds" || unit == "microsecond" || unit == "us") return 1000;
  if (unit == "milliseconds" || unit == "millisecond" || unit == "ms") return 1000000;
  if (unit == "seconds" || unit == "second" || unit == "s") return 1000000000;
  if (unit == "minutes" || unit == "minute") return 60LL * 1000000000;
  if (unit == "hours" || unit == "hour" || unit == "h") return 3600LL * 1000000000;
  if (unit == "days" || unit == "day" || unit == "d") return 86400LL * 1000000000;
  return 0;
}

// "<unit> since YYYY-MM-DD[ HH:MM[:SS]]" -> (ns per unit, epoch in ns); nullopt if not CF.
std::optional<std::pair<std::int64_t, std::int64_t>> cf_time_units(const std::string& units) {
  const auto since = to_lower(units).find(" since ");
  if (since == std::string::npos) return std::nullopt;
  const std::int64_t per = unit_ns(units.substr(0, since));
  if (!per) return std::nullopt;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0;
  double s = 0;
  const std::string date = units.substr(since + 7);
  const int fields = std::sscanf(date.c_str(), "%d-%d-%d%*[ T]%d:%d:%lf", &y, &mo, &d, &h, &mi, &s);
  if (fields < 3 || mo < 1 || mo > 12 || d < 1 || d > 31) return std::nullopt;
  const std::int64_t epoch =
      (days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 +
       mi * 60) *
          1000000000 +
      static_cast<std::int64_t>(std::llround(s * 1e9));
  return std::make_pair(per, epoch);
}

// The acquisition time of the store, ISO 8601; empty when it has none.
std::string read_date(const std::shared_ptr<GDALGroup>& root, const std::set<std::string>& names,
                      const std::shared_ptr<GDALMDArray>& data) {
  std::shared_ptr<GDALMDArray> time;
  if (data->GetDimensionCount() == 4) time = data->GetDimensions()[0]->GetIndexingVariable();
  if (!time) time = open_array(root, names, "time");
  if (!time) return "";
  if (const auto text = scalar_string(time)) return *text;
  const auto raw = scalar_int64(time);
  if (!raw) return "";
  // GDAL's Zarr driver reports a "units" attribute as the array's unit.
  std::string units = time->GetUnit();
  if (units.empty()) units = string_attribute(*time, "units").value_or("");
  if (const auto cf = cf_time_units(units)) return iso_from_ns(cf->second + *raw * cf->first);
  // terramesh.py: integer values of datetime64[ns]; DEM has no valid timestamp (value 0).
  if (*raw <= 1000000) return "";
  return iso_from_ns(*raw);
}

// ---------------------------------------------------------------------------------------------
// Decoding

// The key of "<...>/<key>.zarr.zip" (also "tar: member" messages).
std::string key_from_what(const std::string& what) {
  std::string name = what;
  const auto cut = name.find_last_of("/ ");
  if (cut != std::string::npos) name = name.substr(cut + 1);
  const auto dot = name.find('.');
  return dot == std::string::npos ? name : name.substr(0, dot);
}

bool is_coordinate_name(const std::string& name) {
  static const std::set<std::string> kCoordinates = {
      "x",          "y",          "time",       "band",  "crs",     "spatial_ref",
      "center_lat", "center_lon", "cloud_mask", "lat",   "lon",     "latitude",
      "longitude",  "x_",         "y_",         "time_", "file_id", "sample_id"};
  return kCoordinates.count(name) != 0;
}

std::shared_ptr<GDALMDArray> find_data_variable(const std::shared_ptr<GDALGroup>& root,
                                                const std::set<std::string>& names,
                                                const std::string& what) {
  if (names.count("bands")) {
    ErrorCapture errors;
    auto array = root->OpenMDArray("bands");
    if (!array)
      throw FormatError(what + ": the \"bands\" variable cannot be read: " +
                        errors.message("GDAL's Zarr driver does not open it"));
    return array;
  }
  std::vector<std::string> candidates;
  std::set<std::string> dimension_names;
  for (const auto& dim : root->GetDimensions()) dimension_names.insert(dim->GetName());
  for (const auto& name : names) {
    if (is_coordinate_name(name) || dimension_names.count(name)) continue;
    const auto array = open_array(root, names, name);
    if (array && array->GetDimensionCount() >= 2) candidates.push_back(name);
  }
  if (candidates.size() == 1) return open_array(root, names, candidates[0]);
  if (candidates.empty())
    throw FormatError(what +
                      ": no data variable (\"bands\", or a single non-coordinate variable "
                      "of rank 2 to 4) in the Zarr group");
  throw FormatError(what + ": no \"bands\" variable and several candidates (" +
                    join(candidates, ", ") + "): which one holds the pixels is ambiguous");
}

// Pixel size and first centre of a coordinate vector; FormatError unless regularly spaced.
std::pair<double, double> regular_axis(const std::vector<double>& values, const char* axis,
                                       const std::string& what) {
  if (values.size() < 2)
    throw FormatError(what + ": the " + axis +
                      " coordinate has fewer than 2 values; the pixel size cannot be derived");
  const double step = (values.back() - values.front()) / static_cast<double>(values.size() - 1);
  if (!(step != 0) || !std::isfinite(step))
    throw FormatError(what + ": the " + axis + " coordinate is constant or not finite");
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double expected = values.front() + step * static_cast<double>(i);
    if (std::fabs(values[i] - expected) > 1e-3 * std::fabs(step))
      throw FormatError(what + ": the " + axis + " coordinate is not regularly spaced (value " +
                        std::to_string(i) + ")");
  }
  return {step, values.front()};
}

void centre_from_footprint(SampleRecord& record) {
  if (record.crs.empty() || record.width <= 0 || record.height <= 0) return;
  OGRSpatialReference source;
  OGRSpatialReference wgs84;
  CPLPushErrorHandler(CPLQuietErrorHandler);
  const bool ok = source.SetFromUserInput(record.crs.c_str()) == OGRERR_NONE &&
                  wgs84.importFromEPSG(4326) == OGRERR_NONE;
  CPLPopErrorHandler();
  CPLErrorReset();
  if (!ok) return;
  source.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  wgs84.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  std::unique_ptr<OGRCoordinateTransformation> transform(
      OGRCreateCoordinateTransformation(&source, &wgs84));
  if (!transform) return;
  const auto& g = record.geotransform;
  double x = g[0] + g[1] * record.width / 2.0 + g[2] * record.height / 2.0;
  double y = g[3] + g[4] * record.width / 2.0 + g[5] * record.height / 2.0;
  if (transform->Transform(1, &x, &y)) {
    record.center_lon = x;
    record.center_lat = y;
  }
}

bool is_optical(const std::string& modality) { return starts_with(modality, "S2"); }

}  // namespace

void decode_terramesh_zarr(const std::vector<std::uint8_t>& zip_bytes, const std::string& modality,
                           const std::string& what, Sample& sample) {
  static const bool registered = [] {
    GDALAllRegister();
    return true;
  }();
  (void)registered;

  const Modality* known = ModalityRegistry::instance().find(modality);
  const std::string name = known ? known->name : modality;

  // A zip starts with a local file header (or, empty, with the end of central directory).
  if (zip_bytes.size() < 22 || zip_bytes[0] != 'P' || zip_bytes[1] != 'K' ||
      !((zip_bytes[2] == 3 && zip_bytes[3] == 4) || (zip_bytes[2] == 5 && zip_bytes[3] == 6)))
    throw FormatError(what +
                      ": not a zip archive (a .zarr.zip member must be a zipped Zarr v2 "
                      "store)");

  const ZipMount zip(zip_bytes, what);
  if (!zip.has(".zgroup")) {
    if (zip.has(".zarray"))
      throw FormatError(what + ": a Zarr array, not a Zarr group (no .zgroup at the zip's root)");
    if (zip.has("zarr.json"))
      throw FormatError(what + ": a Zarr v3 store; TerraMesh samples are Zarr v2 (.zgroup)");
    throw FormatError(what + ": no Zarr group in the zip (no .zgroup at its root)");
  }
  std::unique_ptr<GDALDataset> dataset;
  {
    ErrorCapture errors;
    const char* const drivers[] = {"Zarr", nullptr};
    dataset.reset(GDALDataset::Open(zip.folder().c_str(),
                                    GDAL_OF_MULTIDIM_RASTER | GDAL_OF_READONLY, drivers, nullptr,
                                    nullptr));
    if (!dataset)
      throw FormatError(
          what + ": GDAL's Zarr driver cannot open the store: " + errors.message("unknown error"));
  }
  const auto root = dataset->GetRootGroup();
  if (!root) throw FormatError(what + ": the Zarr store has no root group");
  std::set<std::string> names;
  {
    CPLPushErrorHandler(CPLQuietErrorHandler);
    for (const auto& n : root->GetMDArrayNames()) names.insert(n);
    CPLPopErrorHandler();
    CPLErrorReset();
  }

  const auto data = find_data_variable(root, names, what);
  const std::string variable = data->GetName();
  const auto dims = data->GetDimensions();
  const std::size_t rank = dims.size();
  if (rank < 2 || rank > 4)
    throw FormatError(what + ": variable \"" + variable + "\" has " + std::to_string(rank) +
                      " dimensions; expected (time, band, y, x), (band, y, x) or (y, x)");
  if (rank == 4 && dims[0]->GetSize() != 1)
    throw FormatError(what + ": variable \"" + variable + "\" has " +
                      std::to_string(dims[0]->GetSize()) + " time steps (dimension \"" +
                      dims[0]->GetName() + "\"); only single-time stores are read");

  const auto& type = data->GetDataType();
  if (type.GetClass() != GEDTC_NUMERIC)
    throw FormatError(what + ": variable \"" + variable + "\" is not numeric");
  const GDALDataType gdal_type = type.GetNumericDataType();
  const char* type_name = GDALGetDataTypeName(gdal_type);
  const auto dtype = dtype_from_gdal_name(type_name ? type_name : "");
  if (!dtype)
    throw FormatError(what + ": variable \"" + variable + "\" has unsupported data type " +
                      (type_name ? type_name : "unknown") +
                      " (supported: Byte, Int8, UInt16, Int16, UInt32, Int32, Float32, Float64)");

  Array array;
  array.dtype = *dtype;
  array.bands = rank >= 3 ? static_cast<int>(dims[rank - 3]->GetSize()) : 1;
  array.height = static_cast<int>(dims[rank - 2]->GetSize());
  array.width = static_cast<int>(dims[rank - 1]->GetSize());
  if (array.bands <= 0 || array.height <= 0 || array.width <= 0)
    throw FormatError(what + ": variable \"" + variable + "\" is empty");
  array.data.resize(array.byte_size());
  {
    std::vector<GUInt64> start(rank, 0);
    std::vector<std::size_t> count(rank);
    for (std::size_t i = 0; i < rank; ++i) count[i] = static_cast<std::size_t>(dims[i]->GetSize());
    ErrorCapture errors;
    if (!data->Read(start.data(), count.data(), nullptr, nullptr,
                    GDALExtendedDataType::Create(gdal_type), array.data.data()))
      throw FormatError(what + ": variable \"" + variable +
                        "\" cannot be read: " + errors.message("corrupt chunk"));
  }

  // Geometry: the pixel-centre coordinates of the last two dimensions.
  SampleRecord geometry;
  geometry.width = array.width;
  geometry.height = array.height;
  bool georeferenced = false;
  {
    auto x_var = dims[rank - 1]->GetIndexingVariable();
    if (!x_var)
      x_var = open_array(
          root, names,
          names.count(dims[rank - 1]->GetName()) ? dims[rank - 1]->GetName() : std::string("x"));
    auto y_var = dims[rank - 2]->GetIndexingVariable();
    if (!y_var)
      y_var = open_array(
          root, names,
          names.count(dims[rank - 2]->GetName()) ? dims[rank - 2]->GetName() : std::string("y"));
    const auto xs = vector_values(x_var);
    const auto ys = vector_values(y_var);
    if (xs && ys) {
      if (xs->size() != static_cast<std::size_t>(array.width) ||
          ys->size() != static_cast<std::size_t>(array.height))
        throw FormatError(what + ": the x/y coordinates (" + std::to_string(xs->size()) + " x " +
                          std::to_string(ys->size()) + ") do not match the " +
                          std::to_string(array.width) + " x " + std::to_string(array.height) +
                          " pixels");
      const auto [dx, x0] = regular_axis(*xs, "x", what);
      const auto [dy, y0] = regular_axis(*ys, "y", what);
      // Coordinates are pixel centres: the geotransform's origin is the outer corner.
      geometry.geotransform = {x0 - dx / 2, dx, 0, y0 - dy / 2, 0, dy};
      georeferenced = true;
    }
  }
  geometry.crs = read_crs(root, names, data);
  const std::string date = read_date(root, names, data);

  double center_lon = std::numeric_limits<double>::quiet_NaN();
  double center_lat = std::numeric_limits<double>::quiet_NaN();
  {
    const auto lon = scalar_value(open_array(root, names, "center_lon"));
    const auto lat = scalar_value(open_array(root, names, "center_lat"));
    if (lon && lat) {
      center_lon = *lon;
      center_lat = *lat;
    } else {
      for (const GDALIHasAttribute* owner : {static_cast<const GDALIHasAttribute*>(data.get()),
                                             static_cast<const GDALIHasAttribute*>(root.get())}) {
        const auto alon = number_attribute(*owner, "center_lon");
        const auto alat = number_attribute(*owner, "center_lat");
        if (alon && alat) {
          center_lon = *alon;
          center_lat = *alat;
          break;
        }
      }
    }
  }

  // The record: the first modality decoded sets the geometry; the others must agree in size.
  SampleRecord& record = sample.record;
  if (record.key.empty()) record.key = key_from_what(what);
  if (record.width == 0 && record.height == 0) {
    record.width = geometry.width;
    record.height = geometry.height;
    if (georeferenced) record.geotransform = geometry.geotransform;
    record.crs = geometry.crs;
    if (!std::isnan(center_lon)) {
      record.center_lon = center_lon;
      record.center_lat = center_lat;
    } else if (georeferenced) {
      centre_from_footprint(record);
    }
  } else if (record.width != geometry.width || record.height != geometry.height) {
    throw FormatError(what + ": " + std::to_string(geometry.width) + " x " +
                      std::to_string(geometry.height) + " pixels where the sample's other " +
                      "modalities have " + std::to_string(record.width) + " x " +
                      std::to_string(record.height));
  } else {
    if (record.crs.empty()) record.crs = geometry.crs;
    if (std::isnan(record.center_lon) && !std::isnan(center_lon)) {
      record.center_lon = center_lon;
      record.center_lat = center_lat;
    }
  }
  // Sentinel-2's acquisition time names the sample; other modalities fill in when it is absent.
  if (!date.empty() && (record.date.empty() || is_optical(name))) record.date = date;
  if (!record.sources.count(name)) record.sources[name] = what;
  sample.arrays[name] = std::move(array);
}

// ---------------------------------------------------------------------------------------------
// Listing

namespace {

// The subset a shard belongs to: its name up to the last '_' ("majortom_shard", "ssl4eos12_shard").
std::string shard_subset(const std::string& name) {
  const auto underscore = name.find_last_of('_');
  return underscore == std::string::npos ? std::string() : name.substr(0, underscore);
}

}  // namespace

std::vector<ShardRef> list_terramesh_shards(const std::string& root, const std::string& split,
                                            const std::vector<std::string>& modalities) {
  const auto& registry = ModalityRegistry::instance();
  auto modality_folders = [&](const std::string& folder) {
    std::map<std::string, std::string> out;  // canonical -> folder
    for (const auto& entry : vsi_folder_entries(folder)) {
      const Modality* m = registry.find(entry);
      if (!m || !m->is_image() || !vsi_is_dir(folder + "/" + entry)) continue;
      if (out.count(m->name))
        throw FormatError(folder + ": two folders for modality " + m->name + " (" +
                          base_name(out[m->name]) + ", " + entry + ")");
      out[m->name] = folder + "/" + entry;
    }
    return out;
  };

  std::string folder = root;
  while (folder.size() > 1 && folder.back() == '/') folder.pop_back();
  std::map<std::string, std::string> folders;
  if (!split.empty() && vsi_is_dir(folder + "/" + split)) {
    folders = modality_folders(folder + "/" + split);
    if (!folders.empty()) folder += "/" + split;
  }
  if (folders.empty()) folders = modality_folders(folder);
  if (folders.empty())
    throw FormatError(folder + ": no TerraMesh modality folders (DEM, LULC, NDVI, S1GRD, S1RTC, " +
                      "S2L1C, S2L2A, S2RGB)" +
                      (split.empty() ? std::string() : " here or in " + folder + "/" + split));

  // The modality folders to pair.
  std::map<std::string, std::string> paired;
  if (modalities.empty()) {
    paired = folders;
  } else {
    for (const auto& requested : modalities) {
      const std::string canonical = registry.get(requested).name;
      const auto it = folders.find(canonical);
      if (it == folders.end()) {
        std::vector<std::string> present;
        for (const auto& [m, path] : folders) present.push_back(base_name(path));
        throw FormatError(folder + ": no " + canonical +
                          " folder (modality folders here: " + join(present, ", ") + ")");
      }
      paired[canonical] = it->second;
    }
  }

  // Shard names per folder, and per folder the subsets ("majortom_shard", ...) it holds.
  std::map<std::string, std::set<std::string>> shards_of;
  std::map<std::string, std::set<std::string>> subsets_of;
  std::set<std::string> all_names;
  for (const auto& [m, path] : paired) {
    for (const auto& entry : vsi_folder_entries(path)) {
      if (!ends_with(entry, ".tar") || vsi_is_dir(path + "/" + entry)) continue;
      shards_of[m].insert(entry);
      subsets_of[m].insert(shard_subset(entry));
      all_names.insert(entry);
    }
  }
  if (all_names.empty()) {
    std::vector<std::string> searched;
    for (const auto& [m, path] : paired) searched.push_back(path);
    throw FormatError(folder + ": no .tar shards in " + join(searched, ", "));
  }

  // A folder that holds shards of a subset must hold every shard of it (the published S1GRD
  // folder holds only ssl4eos12_* shards and S1RTC only majortom_*: those pair without them).
  std::vector<ShardRef> out;
  for (const auto& name : all_names) {
    ShardRef ref;
    ref.layout = Layout::kTerraMesh;
    ref.name = name;
    const std::string subset = shard_subset(name);
    std::string holder;
    for (const auto& [m, path] : paired)
      if (shards_of[m].count(name)) {
        holder = path;
        break;
      }
    for (const auto& [m, path] : paired) {
      if (shards_of[m].count(name)) {
        ref.modality_paths[m] = path + "/" + name;
      } else if (subsets_of[m].count(subset)) {
        throw FormatError(path + ": shard " + name + " is missing (" + holder +
                          " has it, and this folder holds other " + subset + "_* shards)");
      }
    }
    out.push_back(std::move(ref));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading

namespace {

struct ModalityTar {
  std::string modality;
  std::unique_ptr<TarReader> tar;
  TarMember member;
  bool held = false;  // member is the next sample's
};

class TerraMeshShardSource : public SampleSource {
 public:
  TerraMeshShardSource(const ShardRef& ref, const std::vector<std::string>& modalities)
      : ref_(ref) {
    for (const auto& [modality, path] : ref.modality_paths) {
      if (!modalities.empty() &&
          std::find(modalities.begin(), modalities.end(), modality) == modalities.end())
        continue;
      ModalityTar entry;
      entry.modality = modality;
      entry.tar = std::make_unique<TarReader>(path);
      tars_.push_back(std::move(entry));
    }
    if (!ref.modality_paths.empty()) {
      // <split>/<MODALITY>/<name>.tar: the split folder names the records' split.
      const std::string split =
          base_name(parent_folder(parent_folder(ref.modality_paths.begin()->second)));
      if (split == "train" || split == "val" || split == "test") split_ = split;
    }
  }

  bool next(Sample& sample) override { return read(&sample); }
  bool skip() override { return read(nullptr); }
  std::uint64_t bytes_read() const override {
    std::uint64_t total = 0;
    for (const auto& entry : tars_) total += entry.tar->bytes_read();
    return total;
  }

 private:
  // Advances `entry` to its next .zarr.zip member; false at the end of its tar.
  static bool advance(ModalityTar& entry) {
    while (entry.tar->next_header(entry.member))
      if (ends_with(entry.member.name, kZarrZip)) return true;
    return false;
  }

  static std::string member_key(const std::string& name) {
    const auto slash = name.rfind('/');
    const std::string base = slash == std::string::npos ? name : name.substr(slash + 1);
    const auto dot = base.find('.');
    const std::string prefix = slash == std::string::npos ? "" : name.substr(0, slash + 1);
    return prefix + (dot == std::string::npos ? base : base.substr(0, dot));
  }

  bool read(Sample* sample) {
    if (tars_.empty()) return false;
    std::size_t ended = 0;
    for (auto& entry : tars_) {
      entry.held = advance(entry);
      if (!entry.held) ++ended;
    }
    if (ended == tars_.size()) return false;
    const ModalityTar* first = nullptr;
    for (const auto& entry : tars_)
      if (entry.held) {
        first = &entry;
        break;
      }
    const std::string key = member_key(first->member.name);
    for (const auto& entry : tars_) {
      if (!entry.held)
        throw FormatError("misaligned: " + first->tar->path() + " has key " + key + " where " +
                          entry.tar->path() + " has ended");
      const std::string other = member_key(entry.member.name);
      if (other != key)
        throw FormatError("misaligned: " + first->tar->path() + " has key " + key + " where " +
                          entry.tar->path() + " has " + other);
    }
    if (!sample) return true;
    *sample = Sample{};
    sample->shard = ref_.name;
    sample->record.key = key;
    sample->record.split = split_;
    std::vector<std::uint8_t> bytes;
    for (auto& entry : tars_) {
      const std::string what = entry.tar->path() + "/" + entry.member.name;
      entry.tar->read_data(bytes);
      sample->record.sources[entry.modality] = what;
      decode_terramesh_zarr(bytes, entry.modality, what, *sample);
    }
    return true;
  }

  ShardRef ref_;
  std::string split_;
  std::vector<ModalityTar> tars_;
};

}  // namespace

std::unique_ptr<SampleSource> open_terramesh_shard(const ShardRef& ref,
                                                   const std::vector<std::string>& modalities) {
  if (ref.modality_paths.empty())
    throw FormatError(ref.name + ": a TerraMesh shard without modality tars");
  return std::make_unique<TerraMeshShardSource>(ref, modalities);
}

}  // namespace terramind::shards
