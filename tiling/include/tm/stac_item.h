// tm/stac_item.h — scene inputs from a STAC Item (part of tm_tiling's public API).
//
// A STAC Item (https://stacspec.org: a GeoJSON "Feature" with "stac_version" and "assets") lists
// a scene's files, usually one per band. scene_inputs_from_stac() maps its image assets onto
// registry modalities by band names and returns, per modality found, one virtual raster (a
// /vsimem/ VRT) that stacks the assets' bands in the modality's band order on the finest grid of
// those assets: the 20 m and 60 m Sentinel-2 bands are resampled onto the 10 m grid by nearest
// neighbour, so 10 m pixels stay bit for bit and coarser pixels are repeated. The VRTs open like
// any input (SceneReader, generate_scene). GDAL reads the assets' hrefs: local files, http(s)
// (/vsicurl/), s3:// (/vsis3/), gs:// (/vsigs/); hrefs that need signing (Planetary Computer)
// must be signed in the item first.
//
// Image assets: media type image/tiff (GeoTIFF, COG), image/jp2 or image/vnd.stac.geotiff, or,
// without a type, an href ending in .tif, .tiff or .jp2; never roles thumbnail, overview or
// metadata. Other assets (thumbnails, XML metadata, tile JSON ...) are ignored.
//
// Matching, for each band of a modality (registry short or long name, case-insensitive,
// "B2" == "B02"; STAC EO common names too: coastal, blue, green, red, rededge1..3, nir, nir08,
// nir09, cirrus, swir16, swir22, vv, vh ...; the bare common name "rededge" is ambiguous and
// ignored):
//   1. one multi-band asset holding every band of the modality (eo:bands / STAC 1.1 bands by
//      "name", else "common_name" / "eo:common_name") is taken whole: Sentinel-2's 8-bit
//      "visual" asset for S2RGB, a stacked GeoTIFF for S2L2A;
//   2. otherwise each band comes from a single-band asset: its band's name, else its common
//      name, else the asset key ("B02" on Planetary Computer, "blue" on Earth Search), or for
//      single-band modalities also the modality's name or alias as key ("dem", "elevation");
//   3. otherwise from a band of a multi-band asset, by name;
//   4. a single-band modality (DEM, LULC, NDVI) the item's "collection" names (e.g.
//      "cop-dem-glo-30" names DEM: a name or alias equal to a run of its words) may take the
//      item's only image asset with role "data" (or its only image asset).
// Among several candidates GeoTIFF beats JPEG 2000, an asset key naming the band beats one that
// does not, then the first asset in the document wins ("blue" before "blue-jp2").
//
// Which modalities: those asked for (names or aliases, in that order; an incomplete one throws
// RasterError listing the missing bands and the item's image assets), or, when none are asked,
// every image modality the item holds completely, in registry order, except one whose bands (by
// long name) are all in another complete one: S2RGB and S2L2A both complete -> S2L2A; S2L2A
// within an S2L1C item -> S2L1C. Between modalities with the same bands (S1GRD, S1RTC) the one
// the item's collection names wins ("sentinel-1-rtc"), else the first in registry order; a note
// says so. No complete modality: RasterError.
//
// Nodata: each band keeps its file's nodata value; a band without one takes the value the item
// declares for it (raster:bands[].nodata, STAC 1.1 bands[].nodata or the asset's "nodata").
// Values are passed as stored: declared scale/offset (raster:bands) are reported in the notes,
// not applied. The VRT bands are described with the registry band names.
#pragma once

#include <string>
#include <vector>

#include "tm/pipeline.h"  // SceneInput

namespace terramind {

struct StacInputs {
  // One per modality found, in the order asked (or registry order). `path` is a /vsimem/ VRT,
  // `modality` the registry name, `origin` "<absolute item path>#<asset keys, comma-separated>"
  // (what outputs name as their input).
  std::vector<SceneInput> inputs;
  // Observations for the user, one line each: modalities left out and why, resampled bands,
  // declared scale/offset, image assets not used.
  std::vector<std::string> notes;
};

// Reads the STAC Item at `item_path` (a local file, an http(s)/s3 URL or a GDAL /vsi path) and
// builds the inputs described above. Throws RasterError naming the item (and the asset) for an
// unreadable file, invalid JSON, a document that is not a STAC Item, an incomplete modality, an
// asset GDAL cannot open or assets that do not fit together (different CRS or data types);
// UnknownModality (std::invalid_argument) for an unknown name in `modalities`, and
// std::invalid_argument for a modality that is not an image (coords, caption).
StacInputs scene_inputs_from_stac(const std::string& item_path,
                                  const std::vector<std::string>& modalities = {});

// The GDAL path of an asset href: relative hrefs against the folder of `item_path` (a local
// path, URL or /vsi path; local results are absolute and normalised), http(s):// ->
// /vsicurl/http(s)://, s3://bucket/key -> /vsis3/bucket/key, gs:// -> /vsigs/, file:// stripped;
// /vsi... and absolute local paths are kept.
std::string resolve_stac_href(const std::string& href, const std::string& item_path);

}  // namespace terramind
