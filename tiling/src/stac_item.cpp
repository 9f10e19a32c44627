// STAC Items as scene inputs: image assets mapped onto registry modalities by band names and
// stacked, per modality, in a /vsimem/ VRT on the finest grid of its assets.
#include "tm/stac_item.h"

#include <cpl_string.h>
#include <cpl_vsi.h>
#include <gdal_priv.h>
#include <gdal_utils.h>
#include <ogr_spatialref.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <tuple>

#include "gdal_session.h"
#include "tm/ascii_strings.h"

namespace terramind {
namespace {

using Json = nlohmann::ordered_json;  // keeps the assets in document order

constexpr std::size_t kMaxItemBytes = std::size_t(64) << 20;

std::string number(double v) { return CPLSPrintf("%.15g", v); }

// ---------------------------------------------------------------------------------------------
// Hrefs and locations.

// The scheme of "scheme://rest" (lower case), or "" when `s` has none.
std::string url_scheme(const std::string& s) {
  const std::size_t colon = s.find("://");
  if (colon == std::string::npos || colon == 0) return "";
  if (!std::isalpha(static_cast<unsigned char>(s[0]))) return "";
  for (std::size_t i = 0; i < colon; ++i) {
    const char c = s[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return "";
  }
  return to_lower(s.substr(0, colon));
}

// An absolute location (URL, /vsi path, local path) as GDAL opens it.
std::string gdal_location(const std::string& location) {
  const std::string scheme = url_scheme(location);
  if (scheme == "http" || scheme == "https" || scheme == "ftp") return "/vsicurl/" + location;
  if (scheme == "s3") return "/vsis3/" + location.substr(5);
  if (scheme == "gs") return "/vsigs/" + location.substr(5);
  if (scheme == "file") {
    std::string path = location.substr(7);  // file:///abs -> /abs
    if (starts_with(path, "localhost/")) path = path.substr(9);
    return path;
  }
  return location;
}

// Removes "." segments and resolves ".." ones after the first `keep` characters (the scheme and
// host of a URL, the /vsi prefix), leaving the rest of the text (double slashes included) alone.
std::string normalise_segments(const std::string& path, std::size_t keep) {
  keep = std::min(keep, path.size());
  std::vector<std::string> segments;
  std::size_t start = keep;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    const std::string segment = path.substr(start, end - start);
    if (segment == ".") {
      // dropped
    } else if (segment == ".." && !segments.empty() && segments.back() != ".." &&
               !segments.back().empty()) {
      segments.pop_back();
    } else {
      segments.push_back(segment);
    }
    start = end + 1;
  }
  return path.substr(0, keep) + join(segments, "/");
}

// Characters of `location` that ".." may not climb above: "https://host/", "/vsis3/".
std::size_t protected_prefix(const std::string& location) {
  const std::size_t scheme_end = location.find("://");
  if (scheme_end != std::string::npos) {
    const std::size_t host_end = location.find('/', scheme_end + 3);
    return host_end == std::string::npos ? location.size() : host_end + 1;
  }
  if (starts_with(location, "/vsi")) {
    const std::size_t second = location.find('/', 1);
    return second == std::string::npos ? location.size() : second + 1;
  }
  return 0;
}

std::string absolute_local(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path full = std::filesystem::absolute(path, ec);
  return ec ? path : full.lexically_normal().string();
}

bool is_remote_or_virtual(const std::string& location) {
  return !url_scheme(location).empty() || starts_with(location, "/vsi");
}

// The item's location as shown to users and used in provenance: local paths absolute.
std::string item_display_location(const std::string& item_path) {
  if (url_scheme(item_path) == "file") return gdal_location(item_path);
  return is_remote_or_virtual(item_path) ? item_path : absolute_local(item_path);
}

// The href's path without a URL query or fragment, lower case, for its extension.
std::string href_path_lower(const std::string& href) {
  std::string path = href;
  if (!url_scheme(href).empty()) path = path.substr(0, path.find_first_of("?#"));
  return to_lower(path);
}

// ---------------------------------------------------------------------------------------------
// The item document.

struct BandDecl {
  std::string name;
  std::string common_name;
  std::optional<double> nodata;
  std::optional<double> scale;
  std::optional<double> offset;
};

struct Asset {
  std::string key;
  std::string href;       // as written in the item
  std::string gdal_path;  // resolved
  std::string type;
  std::vector<std::string> roles;
  std::vector<BandDecl> bands;   // declared bands (empty: none declared)
  std::optional<double> nodata;  // asset-level "nodata" (STAC 1.1 common metadata)
  bool image = false;
  bool jp2 = false;
  std::size_t order = 0;
};

struct Item {
  std::string path;     // as given
  std::string display;  // absolute local path or URL
  std::string collection;
  std::vector<Asset> assets;  // every asset with an href, in document order
};

class ItemErrors {
 public:
  explicit ItemErrors(std::string item) : item_(std::move(item)) {}
  [[noreturn]] void fail(const std::string& what) const {
    throw RasterError("STAC item " + item_ + ": " + what);
  }

 private:
  std::string item_;
};

const Json* member(const Json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string string_member(const Json& object, const char* key, const ItemErrors& errors,
                          const std::string& context) {
  const Json* value = member(object, key);
  if (!value) return "";
  if (!value->is_string()) errors.fail(context + "\"" + key + "\" is not a string");
  return value->get<std::string>();
}

// A nodata value: a number or "nan", "inf", "-inf".
std::optional<double> nodata_value(const Json* value) {
  if (!value) return std::nullopt;
  if (value->is_number()) return value->get<double>();
  if (value->is_string()) {
    const std::string text = to_lower(value->get<std::string>());
    if (text == "nan") return std::nan("");
    if (text == "inf" || text == "+inf") return HUGE_VAL;
    if (text == "-inf") return -HUGE_VAL;
  }
  return std::nullopt;
}

std::optional<double> number_member(const Json& object, const char* key) {
  const Json* value = member(object, key);
  if (value && value->is_number()) return value->get<double>();
  return std::nullopt;
}

// The declared bands of an asset: eo:bands (STAC 1.0 EO extension), bands (STAC 1.1) and
// raster:bands, merged by position.
std::vector<BandDecl> declared_bands(const Json& asset, const ItemErrors& errors,
                                     const std::string& context) {
  std::vector<BandDecl> bands;
  for (const char* list : {"eo:bands", "bands", "raster:bands"}) {
    const Json* entries = member(asset, list);
    if (!entries) continue;
    if (!entries->is_array()) errors.fail(context + "\"" + list + "\" is not a list");
    if (entries->size() > bands.size()) bands.resize(entries->size());
    for (std::size_t i = 0; i < entries->size(); ++i) {
      const Json& entry = (*entries)[i];
      if (!entry.is_object())
        errors.fail(context + "\"" + list + "\" entry " + std::to_string(i + 1) +
                    " is not an object");
      BandDecl& band = bands[i];
      const std::string where = context + list + "[" + std::to_string(i) + "]: ";
      if (band.name.empty()) band.name = string_member(entry, "name", errors, where);
      for (const char* common : {"common_name", "eo:common_name"})
        if (band.common_name.empty())
          band.common_name = string_member(entry, common, errors, where);
      if (!band.nodata) band.nodata = nodata_value(member(entry, "nodata"));
      if (!band.scale) band.scale = number_member(entry, "scale");
      if (!band.offset) band.offset = number_member(entry, "offset");
    }
  }
  return bands;
}

bool is_image_asset(const Asset& asset, bool* jp2) {
  for (const std::string& role : asset.roles) {
    const std::string r = to_lower(role);
    if (r == "thumbnail" || r == "overview" || r == "metadata") return false;
  }
  const std::string type = to_lower(asset.type);
  if (!type.empty()) {
    *jp2 = starts_with(type, "image/jp2");
    return starts_with(type, "image/tiff") || starts_with(type, "image/vnd.stac.geotiff") || *jp2;
  }
  const std::string path = href_path_lower(asset.href);
  *jp2 = ends_with(path, ".jp2");
  return ends_with(path, ".tif") || ends_with(path, ".tiff") || *jp2;
}

std::string read_text(const std::string& item_path, const std::string& location) {
  GdalErrorCapture capture;
  const ItemErrors errors(item_path);
  VSIStatBufL stat;
  if (VSIStatL(location.c_str(), &stat) == 0 && VSI_ISDIR(stat.st_mode))
    throw RasterError("STAC item " + item_path + " is a folder, not a JSON file");
  VSILFILE* file = VSIFOpenL(location.c_str(), "rb");
  if (!file) {
    const std::string why = capture.last_message();
    throw RasterError("STAC item " + item_path + " cannot be read" +
                      (why.empty() ? std::string(": no such file") : ": " + why));
  }
  std::string text;
  std::array<char, 1 << 16> buffer{};
  while (true) {
    const std::size_t got = VSIFReadL(buffer.data(), 1, buffer.size(), file);
    text.append(buffer.data(), got);
    if (text.size() > kMaxItemBytes) {
      VSIFCloseL(file);
      errors.fail("larger than " + std::to_string(kMaxItemBytes >> 20) + " MiB: not a STAC Item");
    }
    if (got < buffer.size()) break;
  }
  VSIFCloseL(file);
  return text;
}

Item read_item(const std::string& item_path) {
  if (item_path.empty()) throw RasterError("STAC item: no file given");
  Item item;
  item.path = item_path;
  item.display = item_display_location(item_path);
  const std::string location =
      is_remote_or_virtual(item_path) ? gdal_location(item_path) : item.display;
  const std::string text = read_text(item_path, location);
  const ItemErrors errors(item_path);

  Json doc;
  try {
    doc = Json::parse(text);
  } catch (const Json::exception& e) {
    errors.fail(std::string("not valid JSON (") + e.what() + ")");
  }
  if (!doc.is_object()) errors.fail("not a STAC Item: the document is not a JSON object");
  const std::string type = string_member(doc, "type", errors, "");
  if (type != "Feature") {
    if (type == "Collection" || type == "Catalog")
      errors.fail("a STAC " + type + ", not an Item: give one of its items");
    if (type == "FeatureCollection")
      errors.fail("a FeatureCollection (a search result?), not one STAC Item: save one feature");
    errors.fail("not a STAC Item: \"type\" is " +
                (type.empty() ? std::string("missing") : "\"" + type + "\"") + ", not \"Feature\"");
  }
  if (!member(doc, "stac_version"))
    errors.fail("a GeoJSON Feature without \"stac_version\": not a STAC Item");
  item.collection = string_member(doc, "collection", errors, "");
  const Json* assets = member(doc, "assets");
  if (!assets || !assets->is_object() || assets->empty())
    errors.fail("not a STAC Item: no \"assets\"");

  for (const auto& [key, value] : assets->items()) {
    const std::string context = "asset '" + key + "': ";
    if (!value.is_object()) errors.fail(context + "not a JSON object");
    Asset asset;
    asset.key = key;
    asset.order = item.assets.size();
    asset.href = string_member(value, "href", errors, context);
    if (asset.href.empty()) continue;  // nothing to read
    asset.type = string_member(value, "type", errors, context);
    if (const Json* roles = member(value, "roles")) {
      if (!roles->is_array()) errors.fail(context + "\"roles\" is not a list");
      for (const Json& role : *roles)
        if (role.is_string()) asset.roles.push_back(role.get<std::string>());
    }
    asset.bands = declared_bands(value, errors, context);
    asset.nodata = nodata_value(member(value, "nodata"));
    asset.image = is_image_asset(asset, &asset.jp2);
    asset.gdal_path = resolve_stac_href(asset.href, item_path);
    item.assets.push_back(std::move(asset));
  }
  return item;
}

// ---------------------------------------------------------------------------------------------
// Matching assets to modality bands.

// STAC EO common names (and Earth Search's band names) that are not registry band names, as the
// registry's long names. The bare "rededge" is ambiguous (three bands) and deliberately absent.
const std::map<std::string, std::string>& stac_band_names() {
  static const std::map<std::string, std::string> table{
      {"coastal", "COASTAL_AEROSOL"}, {"nir", "NIR_BROAD"},       {"nir08", "NIR_NARROW"},
      {"nir09", "WATER_VAPOR"},       {"cirrus", "CIRRUS"},       {"swir16", "SWIR_1"},
      {"swir22", "SWIR_2"},           {"rededge1", "RED_EDGE_1"}, {"rededge2", "RED_EDGE_2"},
      {"rededge3", "RED_EDGE_3"}};
  return table;
}

// The band of `m` that `text` names, or -1.
int band_named(const Modality& m, const std::string& text) {
  if (text.empty()) return -1;
  const int index = m.band_index(text);
  if (index >= 0) return index;
  const auto& table = stac_band_names();
  const auto it = table.find(to_lower(text));
  return it == table.end() ? -1 : m.band_index(it->second);
}

// By its name first, its common name only when the name names no band of `m`.
int declared_band_of(const Modality& m, const BandDecl& band) {
  const int by_name = band_named(m, band.name);
  return by_name >= 0 ? by_name : band_named(m, band.common_name);
}

bool key_names_modality(const Modality& m, const std::string& key) {
  if (m.channels() != 1) return false;
  const std::string k = to_lower(key);
  if (k == to_lower(m.name)) return true;
  for (const std::string& alias : m.aliases)
    if (k == to_lower(alias)) return true;
  return false;
}

// The band of `m` a single-band asset holds (-1: none); `by_key`: the asset key names it.
int single_band_of(const Modality& m, const Asset& asset, bool* by_key) {
  *by_key = false;
  if (asset.bands.size() > 1) return -1;
  int index = asset.bands.empty() ? -1 : declared_band_of(m, asset.bands[0]);
  int from_key = band_named(m, asset.key);
  if (from_key < 0 && key_names_modality(m, asset.key)) from_key = 0;
  if (index < 0) index = from_key;
  *by_key = index >= 0 && from_key == index;
  return index;
}

// Words of a collection id and every run of consecutive words, squashed: "sentinel-1-rtc" ->
// sentinel, 1, rtc, sentinel1, 1rtc, sentinel1rtc.
std::set<std::string> word_runs(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  for (const char c : text + " ") {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!word.empty()) {
      words.push_back(word);
      word.clear();
    }
  }
  if (words.size() > 16) words.resize(16);
  std::set<std::string> runs;
  for (std::size_t i = 0; i < words.size(); ++i) {
    std::string run;
    for (std::size_t j = i; j < words.size(); ++j) runs.insert(run += words[j]);
  }
  return runs;
}

std::string squash(const std::string& text) {
  std::string out;
  for (const char c : text)
    if (std::isalnum(static_cast<unsigned char>(c)))
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool collection_names(const Modality& m, const std::set<std::string>& runs) {
  if (runs.count(squash(m.name))) return true;
  for (const std::string& alias : m.aliases)
    if (runs.count(squash(alias))) return true;
  return false;
}

struct Source {
  std::size_t asset = 0;  // index into Item::assets
  int band = 0;           // 0-based band of the asset
};

struct Match {
  const Modality* modality = nullptr;
  std::vector<std::optional<Source>> bands;  // per modality band
  bool hinted = false;                       // the item's collection names the modality
  std::string how;                           // a note on an unusual choice, or ""

  bool complete() const {
    return std::all_of(bands.begin(), bands.end(), [](const auto& s) { return s.has_value(); });
  }
  std::vector<std::string> missing() const {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < bands.size(); ++i)
      if (!bands[i])
        out.push_back(modality->bands[i].name + " (" + modality->bands[i].long_name + ")");
    return out;
  }
  std::vector<std::string> asset_keys(const Item& item) const {
    std::vector<std::string> keys;
    for (const auto& s : bands)
      if (s && std::find(keys.begin(), keys.end(), item.assets[s->asset].key) == keys.end())
        keys.push_back(item.assets[s->asset].key);
    return keys;
  }
};

Match match_modality(const Item& item, const Modality& m, const std::set<std::string>& runs) {
  Match match;
  match.modality = &m;
  match.hinted = collection_names(m, runs);
  const int n = m.channels();
  match.bands.assign(n, std::nullopt);
  const auto& assets = item.assets;

  // 1. One multi-band asset holding every band (GeoTIFF before JPEG 2000, then document order).
  if (n > 1) {
    std::optional<std::tuple<bool, std::size_t>> best;
    std::vector<std::optional<Source>> best_bands;
    for (std::size_t a = 0; a < assets.size(); ++a) {
      const Asset& asset = assets[a];
      if (!asset.image || asset.bands.size() < 2) continue;
      std::vector<std::optional<Source>> found(n);
      for (std::size_t j = 0; j < asset.bands.size(); ++j) {
        const int i = declared_band_of(m, asset.bands[j]);
        if (i >= 0 && !found[i]) found[i] = Source{a, static_cast<int>(j)};
      }
      const bool all =
          std::all_of(found.begin(), found.end(), [](auto& s) { return s.has_value(); });
      const auto rank = std::make_tuple(asset.jp2, asset.order);
      if (all && (!best || rank < *best)) {
        best = rank;
        best_bands = found;
      }
    }
    if (best) {
      match.bands = best_bands;
      return match;
    }
  }

  // 2./3. Band by band: single-band assets, then bands of multi-band assets.
  using Rank = std::tuple<int, bool, int, std::size_t>;  // multi-band, jp2, not by key, order
  std::vector<std::optional<Rank>> ranks(n);
  for (std::size_t a = 0; a < assets.size(); ++a) {
    const Asset& asset = assets[a];
    if (!asset.image) continue;
    const auto offer = [&](int i, int band, const Rank& rank) {
      if (i < 0 || i >= n) return;
      if (!ranks[i] || rank < *ranks[i]) {
        ranks[i] = rank;
        match.bands[i] = Source{a, band};
      }
    };
    if (asset.bands.size() <= 1) {
      bool by_key = false;
      const int i = single_band_of(m, asset, &by_key);
      offer(i, 0, Rank{0, asset.jp2, by_key ? 0 : 1, asset.order});
    } else {
      for (std::size_t j = 0; j < asset.bands.size(); ++j)
        offer(declared_band_of(m, asset.bands[j]), static_cast<int>(j),
              Rank{1, asset.jp2, 1, asset.order});
    }
  }

  // 4. A single-band modality the collection names: the item's one data asset.
  if (n == 1 && !match.bands[0] && match.hinted) {
    std::vector<std::size_t> data, images;
    for (std::size_t a = 0; a < assets.size(); ++a) {
      if (!assets[a].image || assets[a].bands.size() > 1) continue;
      images.push_back(a);
      const auto& roles = assets[a].roles;
      if (std::any_of(roles.begin(), roles.end(),
                      [](const std::string& r) { return to_lower(r) == "data"; }))
        data.push_back(a);
    }
    const std::vector<std::size_t>& pick = data.size() == 1 ? data : images;
    if (pick.size() == 1) {
      match.bands[0] = Source{pick[0], 0};
      match.how = m.name + " from asset '" + assets[pick[0]].key + "': the item's collection '" +
                  item.collection + "' names " + m.name;
    }
  }
  return match;
}

// "blue (B02), scl (no S2L2A band)": what each image asset holds for `match`'s modality.
std::string describe_image_assets(const Item& item, const Modality& m) {
  std::vector<std::string> parts;
  for (const Asset& asset : item.assets) {
    if (!asset.image) continue;
    std::vector<std::string> names;
    if (asset.bands.size() <= 1) {
      bool by_key = false;
      const int i = single_band_of(m, asset, &by_key);
      if (i >= 0) names.push_back(m.bands[i].name);
    } else {
      for (const BandDecl& band : asset.bands) {
        const int i = declared_band_of(m, band);
        if (i >= 0) names.push_back(m.bands[i].name);
      }
    }
    parts.push_back(asset.key + " (" +
                    (names.empty() ? "no " + m.name + " band" : join(names, " ")) + ")");
  }
  return parts.empty() ? std::string("none") : join(parts, ", ");
}

std::string describe_all_assets(const Item& item) {
  std::vector<std::string> parts;
  for (const Asset& asset : item.assets)
    parts.push_back(asset.key + (asset.type.empty() ? std::string() : " (" + asset.type + ")"));
  return parts.empty() ? std::string("none") : join(parts, ", ");
}

// What a band measures, across modalities: its registry long name (RED for S2L2A's B04 and
// S2RGB's R).
std::string band_identity(const Band& band) {
  return to_lower(band.long_name.empty() ? band.name : band.long_name);
}

std::set<std::string> band_identities(const Modality& m) {
  std::set<std::string> ids;
  for (const Band& band : m.bands) ids.insert(band_identity(band));
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Opening assets and building the VRTs.

struct OpenedAsset {
  int width = 0;
  int height = 0;
  int bands = 0;
  std::array<double, 6> geotransform{};
  std::string crs_wkt;
  bool projected_metres = false;
  std::vector<std::string> types;
  std::vector<std::optional<double>> nodata;
};

OpenedAsset open_asset(const Item& item, const Asset& asset) {
  const ItemErrors errors(item.path);
  const std::string name = "asset '" + asset.key + "' (" + asset.href + ")";
  GdalErrorCapture capture;
  GDALDataset* ds = static_cast<GDALDataset*>(GDALOpenEx(
      asset.gdal_path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr, nullptr, nullptr));
  if (!ds) {
    const std::string why = capture.last_message();
    errors.fail(name + " cannot be opened" + (why.empty() ? std::string() : ": " + why));
  }
  OpenedAsset opened;
  opened.width = ds->GetRasterXSize();
  opened.height = ds->GetRasterYSize();
  opened.bands = ds->GetRasterCount();
  const bool has_geotransform = ds->GetGeoTransform(opened.geotransform.data()) == CE_None;
  if (const OGRSpatialReference* srs = ds->GetSpatialRef()) {
    char* wkt = nullptr;
    srs->exportToWkt(&wkt);
    opened.crs_wkt = wkt ? wkt : "";
    CPLFree(wkt);
    opened.projected_metres = srs->IsProjected() && std::fabs(srs->GetLinearUnits() - 1.0) < 1e-12;
  }
  for (int b = 1; b <= opened.bands; ++b) {
    GDALRasterBand* band = ds->GetRasterBand(b);
    opened.types.push_back(GDALGetDataTypeName(band->GetRasterDataType()));
    int has = FALSE;
    const double v = band->GetNoDataValue(&has);
    opened.nodata.push_back(has ? std::optional<double>(v) : std::nullopt);
  }
  GDALClose(ds);
  if (opened.bands == 0) errors.fail(name + " has no raster bands");
  if (!has_geotransform || opened.crs_wkt.empty())
    errors.fail(name + " has no georeferencing: assets are stacked by their coordinates");
  if (opened.geotransform[2] != 0.0 || opened.geotransform[4] != 0.0)
    errors.fail(name + " has a rotated geotransform, which cannot be stacked");
  return opened;
}

template <typename Options, typename NewFn, typename FreeFn, typename RunFn>
void run_gdal_utility(CPLStringList& args, NewFn make, FreeFn release, RunFn run,
                      const ItemErrors& errors, const std::string& what) {
  GdalErrorCapture capture;
  Options* options = make(args.List(), nullptr);
  if (!options) errors.fail(what + ": " + capture.last_message());
  int usage_error = FALSE;
  GDALDatasetH out = run(options, &usage_error);
  release(options);
  if (!out) errors.fail(what + ": " + capture.last_message());
  GDALClose(out);
}

std::string pixel_text(double size, bool metres) { return number(size) + (metres ? " m" : ""); }

SceneInput build_vrt(const Item& item, const Match& match,
                     std::map<std::size_t, OpenedAsset>& opened, std::vector<std::string>& notes) {
  static std::atomic<int> counter{0};
  const ItemErrors errors(item.path);
  const Modality& m = *match.modality;
  const std::string base = "/vsimem/tm_stac/" + std::to_string(counter++) + "_" + m.name;

  // Open every asset once; check they can be stacked: one CRS, one data type.
  const OpenedAsset* first = nullptr;
  std::string first_key;
  std::string first_type;
  for (std::size_t i = 0; i < match.bands.size(); ++i) {
    const Source& s = *match.bands[i];
    const Asset& asset = item.assets[s.asset];
    auto it = opened.find(s.asset);
    if (it == opened.end()) it = opened.emplace(s.asset, open_asset(item, asset)).first;
    const OpenedAsset& o = it->second;
    if (s.band >= o.bands)
      errors.fail("asset '" + asset.key + "' declares " + std::to_string(asset.bands.size()) +
                  " bands but its file has " + std::to_string(o.bands));
    const std::string& type = o.types[s.band];
    if (!first) {
      first = &o;
      first_key = asset.key;
      first_type = type;
      continue;
    }
    if (o.crs_wkt != first->crs_wkt) {
      OGRSpatialReference a, b;
      a.importFromWkt(first->crs_wkt.c_str());
      b.importFromWkt(o.crs_wkt.c_str());
      if (!a.IsSame(&b))
        errors.fail("assets '" + first_key + "' and '" + asset.key + "' of " + m.name +
                    " are in different CRSs (" + crs_display_name(first->crs_wkt) + ", " +
                    crs_display_name(o.crs_wkt) + "); tm does not reproject STAC assets");
    }
    if (type != first_type)
      errors.fail(m.name + " would mix data types: asset '" + first_key + "' is " + first_type +
                  ", asset '" + asset.key + "' is " + type);
  }

  // One single-band source per modality band: the asset itself, or a VRT selecting its band
  // (and giving it the nodata value the item declares when the file has none).
  std::vector<std::string> sources;
  std::vector<std::string> scaled;
  for (std::size_t i = 0; i < match.bands.size(); ++i) {
    const Source& s = *match.bands[i];
    const Asset& asset = item.assets[s.asset];
    const OpenedAsset& o = opened.at(s.asset);
    std::optional<double> declared;
    if (s.band < static_cast<int>(asset.bands.size())) {
      const BandDecl& band = asset.bands[s.band];
      declared = band.nodata;
      if ((band.scale && *band.scale != 1.0) || (band.offset && *band.offset != 0.0))
        scaled.push_back(m.bands[i].name + " (scale " + number(band.scale.value_or(1.0)) +
                         ", offset " + number(band.offset.value_or(0.0)) + ")");
    }
    if (!declared) declared = asset.nodata;
    const bool give_nodata = declared && !o.nodata[s.band];
    if (o.bands == 1 && !give_nodata) {
      sources.push_back(asset.gdal_path);
      continue;
    }
    CPLStringList args;
    for (const char* a : {"-of", "VRT", "-b"}) args.AddString(a);
    args.AddString(std::to_string(s.band + 1).c_str());
    if (give_nodata) {
      args.AddString("-a_nodata");
      args.AddString(number(*declared).c_str());
    }
    const std::string band_vrt = base + "_band" + std::to_string(i + 1) + ".vrt";
    GdalErrorCapture capture;
    GDALDatasetH src = GDALOpen(asset.gdal_path.c_str(), GA_ReadOnly);
    if (!src) errors.fail("asset '" + asset.key + "' (" + asset.href + ") cannot be opened");
    try {
      run_gdal_utility<GDALTranslateOptions>(
          args, GDALTranslateOptionsNew, GDALTranslateOptionsFree,
          [&](GDALTranslateOptions* options, int* usage_error) {
            return GDALTranslate(band_vrt.c_str(), src, options, usage_error);
          },
          errors, "band " + std::to_string(s.band + 1) + " of asset '" + asset.key + "'");
    } catch (...) {
      GDALClose(src);
      throw;
    }
    GDALClose(src);
    sources.push_back(band_vrt);
  }

  // The stack on the finest grid of the sources (nearest neighbour: 10 m pixels unchanged).
  const std::string vrt = base + ".vrt";
  {
    CPLStringList args;
    for (const char* a : {"-separate", "-resolution", "highest", "-r", "nearest"})
      args.AddString(a);
    CPLStringList names;
    for (const std::string& s : sources) names.AddString(s.c_str());
    run_gdal_utility<GDALBuildVRTOptions>(
        args, GDALBuildVRTOptionsNew, GDALBuildVRTOptionsFree,
        [&](GDALBuildVRTOptions* options, int* usage_error) {
          return GDALBuildVRT(vrt.c_str(), names.size(), nullptr, names.List(), options,
                              usage_error);
        },
        errors, "stacking the assets of " + m.name);
  }

  // Name the bands, and check the stack is what was asked for.
  std::vector<std::optional<double>> nodata;
  std::array<double, 6> gt{};
  {
    GdalErrorCapture capture;
    GDALDataset* ds = static_cast<GDALDataset*>(GDALOpen(vrt.c_str(), GA_Update));
    if (!ds) errors.fail("the VRT of " + m.name + " cannot be opened: " + capture.last_message());
    const int count = ds->GetRasterCount();
    if (count != m.channels()) {
      GDALClose(ds);
      errors.fail("stacking the assets of " + m.name + " gave " + std::to_string(count) +
                  " bands instead of " + std::to_string(m.channels()) + ": " +
                  capture.last_message());
    }
    for (int b = 1; b <= count; ++b) {
      GDALRasterBand* band = ds->GetRasterBand(b);
      band->SetDescription(m.bands[b - 1].name.c_str());
      int has = FALSE;
      const double v = band->GetNoDataValue(&has);
      nodata.push_back(has ? std::optional<double>(v) : std::nullopt);
    }
    ds->GetGeoTransform(gt.data());
    GDALClose(ds);
  }

  // Notes: resampled bands, differing nodata, declared scale/offset.
  std::vector<std::string> resampled;
  bool metres = false;
  for (std::size_t i = 0; i < match.bands.size(); ++i) {
    const OpenedAsset& o = opened.at(match.bands[i]->asset);
    metres = o.projected_metres;
    const double size = std::fabs(o.geotransform[1]);
    if (size > std::fabs(gt[1]) * (1.0 + 1e-9) ||
        std::fabs(o.geotransform[5]) > std::fabs(gt[5]) * (1.0 + 1e-9))
      resampled.push_back(m.bands[i].name + " (" + pixel_text(size, metres) + ")");
  }
  if (!resampled.empty())
    notes.push_back(m.name + ": " + join(resampled, ", ") + " resampled onto the " +
                    pixel_text(std::fabs(gt[1]), metres) + " grid by nearest neighbour");
  const auto differs = [&](const std::optional<double>& v) {
    if (v.has_value() != nodata[0].has_value()) return true;
    if (!v) return false;
    return !(*v == *nodata[0] || (std::isnan(*v) && std::isnan(*nodata[0])));
  };
  if (std::any_of(nodata.begin(), nodata.end(), differs))
    notes.push_back(m.name + ": its bands have different nodata values; tm uses band 1's (" +
                    (nodata[0] ? number(*nodata[0]) : std::string("none")) + ")");
  if (!scaled.empty())
    notes.push_back(m.name + ": the item declares scale/offset for " + join(scaled, ", ") +
                    "; tm reads the values as stored");
  if (!match.how.empty()) notes.push_back(match.how);

  return SceneInput(vrt, m.name, item.display + "#" + join(match.asset_keys(item), ","));
}

}  // namespace

std::string resolve_stac_href(const std::string& href, const std::string& item_path) {
  if (!url_scheme(href).empty()) return gdal_location(href);
  if (starts_with(href, "/")) return href;  // absolute local path or /vsi path
  const std::string base = url_scheme(item_path) == "file" ? gdal_location(item_path) : item_path;
  if (is_remote_or_virtual(base)) {
    const std::size_t slash = base.rfind('/');
    const std::string folder = slash == std::string::npos ? std::string() : base.substr(0, slash);
    const std::string joined = folder + "/" + href;
    return gdal_location(normalise_segments(joined, protected_prefix(joined)));
  }
  std::error_code ec;
  std::filesystem::path folder = std::filesystem::absolute(base, ec).parent_path();
  if (ec) folder = std::filesystem::path(base).parent_path();
  return (folder / href).lexically_normal().string();
}

StacInputs scene_inputs_from_stac(const std::string& item_path,
                                  const std::vector<std::string>& modalities) {
  ensure_gdal_registered();
  const ModalityRegistry& registry = ModalityRegistry::instance();

  // The modalities asked for (checked before the item is read).
  std::vector<const Modality*> wanted;
  for (const std::string& name : modalities) {
    const Modality& m = registry.get(name);
    if (!m.is_image())
      throw std::invalid_argument(m.name + " is not an image modality: a STAC item holds rasters");
    if (std::find(wanted.begin(), wanted.end(), &m) == wanted.end()) wanted.push_back(&m);
  }

  const Item item = read_item(item_path);
  const ItemErrors errors(item.path);
  if (std::none_of(item.assets.begin(), item.assets.end(), [](const Asset& a) { return a.image; }))
    errors.fail("no image assets (GeoTIFF, COG or JPEG 2000); assets: " +
                describe_all_assets(item));
  const std::set<std::string> runs = word_runs(item.collection);

  StacInputs result;
  std::vector<Match> chosen;
  if (!wanted.empty()) {
    for (const Modality* m : wanted) {
      Match match = match_modality(item, *m, runs);
      if (!match.complete())
        errors.fail(m->name + " is incomplete: no asset holds " + join(match.missing(), ", ") +
                    "; image assets: " + describe_image_assets(item, *m));
      chosen.push_back(std::move(match));
    }
  } else {
    std::vector<Match> complete, partial;
    std::vector<std::string> closest;
    for (const Modality& m : registry.modalities()) {
      if (!m.is_image()) continue;
      Match match = match_modality(item, m, runs);
      if (match.complete()) {
        complete.push_back(std::move(match));
        continue;
      }
      const auto missing = match.missing();
      if (missing.size() < static_cast<std::size_t>(m.channels()) || match.hinted) {
        closest.push_back(m.name + " lacks " + join(missing, ", "));
        partial.push_back(std::move(match));
      }
    }
    if (complete.empty())
      errors.fail("holds no modality completely" +
                  (closest.empty() ? std::string() : " (" + join(closest, "; ") + ")") +
                  "; image assets: " + describe_all_assets(item) +
                  ". Band names are matched against the registry (tm_info lists them)");
    for (std::size_t a = 0; a < complete.size(); ++a) {
      const Modality& m = *complete[a].modality;
      const auto mine = band_identities(m);
      std::string dropped;
      for (std::size_t b = 0; b < complete.size() && dropped.empty(); ++b) {
        if (a == b) continue;
        const Modality& other = *complete[b].modality;
        const auto theirs = band_identities(other);
        if (!std::includes(theirs.begin(), theirs.end(), mine.begin(), mine.end())) continue;
        if (theirs.size() > mine.size()) {
          dropped = m.name + " not used: its bands are part of " + other.name + " (ask for " +
                    m.name + " by name to use it)";
        } else if (complete[b].hinted && !complete[a].hinted) {
          dropped = m.name + " not used: " + other.name + " has the same bands and the item's " +
                    "collection '" + item.collection + "' names it (ask for " + m.name +
                    " by name to use it)";
        } else if (complete[b].hinted == complete[a].hinted && b < a) {
          dropped = m.name + " not used: " + other.name + " has the same bands and comes first " +
                    "(ask for " + m.name + " by name to use it)";
        }
      }
      if (dropped.empty())
        chosen.push_back(complete[a]);
      else
        result.notes.push_back(dropped);
    }
    // Partly present modalities whose bands no chosen one holds (S2L2A without B05 while only
    // S2RGB is complete), and those the collection names, are worth a note.
    for (const Match& match : partial) {
      std::set<std::string> found;
      for (std::size_t i = 0; i < match.bands.size(); ++i)
        if (match.bands[i]) found.insert(band_identity(match.modality->bands[i]));
      const bool held = std::any_of(chosen.begin(), chosen.end(), [&](const Match& c) {
        const auto ids = band_identities(*c.modality);
        return std::includes(ids.begin(), ids.end(), found.begin(), found.end());
      });
      if (held && !match.hinted) continue;
      result.notes.push_back(match.modality->name + " not complete: no asset holds " +
                             join(match.missing(), ", ") +
                             (match.hinted ? " (the item's collection '" + item.collection +
                                                 "' names " + match.modality->name + ")"
                                           : std::string()));
    }
  }

  std::map<std::size_t, OpenedAsset> opened;
  std::set<std::size_t> used;
  for (const Match& match : chosen) {
    result.inputs.push_back(build_vrt(item, match, opened, result.notes));
    for (const auto& s : match.bands) used.insert(s->asset);
  }
  std::vector<std::string> unused;
  for (std::size_t a = 0; a < item.assets.size(); ++a)
    if (item.assets[a].image && !used.count(a)) unused.push_back(item.assets[a].key);
  if (!unused.empty()) result.notes.push_back("image assets not used: " + join(unused, ", "));
  return result;
}

}  // namespace terramind
