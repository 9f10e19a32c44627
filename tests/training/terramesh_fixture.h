// A small dataset in the published TerraMesh layout, for tests: <root>/<split>/<MODALITY>/
// <shard>.tar, one tar per modality, members "<key>.zarr.zip", each a zipped Zarr v2 store
// (consolidated .zmetadata, BLOSC-compressed chunks) written through GDAL's Zarr driver with
// the structure of the published samples (training/README.md, "TerraMesh"):
//
//   bands       (time, band, y, x)  the GeoTIFF's data type; one chunk per time step
//   band        (band)    <U..      band names ("B01".."B12", "vv", "vh", ...)
//   x, y        (x), (y)  float64   pixel-centre coordinates in the CRS
//   time        (time)    int64     nanoseconds since 1970-01-01 (0 for DEM, as published)
//   crs         ()        int64     EPSG code
//   center_lon, center_lat ()  float64  the patch centre, WGS 84
//   cloud_mask  (time, y, x) uint8  S-2 modalities only (zeros: the examples carry none)
//
// The pixels are those of ../shared/data/terramesh_examples/<MOD>/<id>.tif (TerraMind's five
// validation samples), so decoded arrays can be compared with the GeoTIFFs exactly.
#pragma once

#include <gdal.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tm/shards.h"

namespace terramind::testing {

std::string terramesh_examples_dir();                     // <data>/terramesh_examples
std::vector<std::string> terramesh_example_ids();         // the five sample ids, sorted
std::vector<std::string> terramesh_example_modalities();  // the seven modality folders there
std::string terramesh_example_tif(const std::string& modality, const std::string& id);

// How one store departs from the published structure (to test the reader's fallbacks and its
// errors). The defaults write the published structure.
struct TerraMeshZarrOptions {
  std::string variable = "bands";    // name of the data variable
  int rank = 4;                      // 4: (time, band, y, x); 3: (band, y, x); 2: (y, x), band 1
  int time_steps = 1;                // size of the time dimension (rank 4)
  std::optional<GDALDataType> type;  // store the pixels as this type instead (converted)
  bool crs_variable = true;          // the int64 "crs" variable
  bool spatial_ref = false;          // a CF "spatial_ref" variable with crs_wkt instead
  bool center = true;                // center_lon / center_lat variables
  bool coordinates = true;           // x / y coordinate variables
  std::string time_units;            // non-empty: CF time (int64 seconds + "units" attribute)
  std::string compress = "BLOSC";    // GDAL Zarr COMPRESS option
  bool deflate_zip = false;          // deflate the zip's entries (zarr's ZipStore stores them)
};

// The acquisition time of example `id` for `modality` in nanoseconds since the epoch, from the
// "datetime" tag of its GeoTIFF, else of the S2RGB GeoTIFF for the S-2 modalities; 0 for DEM.
std::int64_t terramesh_example_time_ns(const std::string& modality, const std::string& id);

// The "<key>.zarr.zip" bytes of one store holding `tif`'s pixels.
std::vector<std::uint8_t> terramesh_zarr_zip(const std::string& tif, const std::string& modality,
                                             std::int64_t time_ns,
                                             const TerraMeshZarrOptions& options = {});

// The key of example `id` in shard `shard` of `split`: "<subset>_<split>_<id>" with the subset
// the shard name's first part ("majortom_shard_000001.tar" -> "majortom_val_282D_485L_3_3"),
// as the published keys ("ssl4eos12_val_0080385").
std::string terramesh_key(const std::string& shard, const std::string& split,
                          const std::string& id);

struct TerraMeshShardSpec {
  std::string name;              // "majortom_shard_000001.tar"
  std::vector<std::string> ids;  // example ids, in member order
  // Modalities written for this shard; empty: those given to write_terramesh_dataset.
  std::vector<std::string> modalities;
};

// Writes <root>/<split>/<MODALITY>/<shard> for every shard and modality.
void write_terramesh_dataset(const std::string& root, const std::string& split,
                             const std::vector<TerraMeshShardSpec>& shards,
                             const std::vector<std::string>& modalities,
                             const TerraMeshZarrOptions& options = {});

// The GeoTIFF's pixels as the reader returns them (bands x height x width, native type).
shards::Array read_tif_array(const std::string& tif);

// The GeoTIFF's geotransform, CRS ("EPSG:nnnn") and centre (lon, lat via OGR).
struct TifGeometry {
  std::array<double, 6> geotransform{};
  std::string crs;
  int width = 0;
  int height = 0;
  double center_lon = 0;
  double center_lat = 0;
};
TifGeometry read_tif_geometry(const std::string& tif);

}  // namespace terramind::testing
