// Internal pieces of tm_shards build: sample discovery, loading with validation, statistics.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tm/shards.h"

namespace terramind::shards {

// GDALAllRegister() once per process (the library's entry points call it: callers need not).
void ensure_gdal_registered();

// Where one modality of one sample comes from: a raster (or a window of it).
struct RasterSlice {
  std::string path;   // what GDAL opens (a file, or a /vsimem/ VRT stacking band files)
  std::string label;  // what the record names as the source
  int col = 0, row = 0, width = 0, height = 0;  // width 0: the whole raster
  std::string date;  // acquisition date found beside the raster (metadata JSON), if any
};

// A sample to build: its key, the rasters found per modality, and problems found while
// pairing (a modality without a file).
struct Candidate {
  std::string key;
  std::map<std::string, RasterSlice> rasters;  // canonical modality -> slice
  std::vector<Problem> problems;
};

struct Discovery {
  std::vector<std::string> modalities;       // canonical, registry order
  std::vector<std::string> sources;          // the input folders/files, for the manifest
  std::vector<Candidate> candidates;         // sorted by key
  std::vector<std::string> temporary_files;  // /vsimem/ VRTs to unlink after the build
};

// Finds the samples of options.root / options.inputs (see BuildOptions). Throws
// std::invalid_argument naming the path for an empty or unreadable input, an unknown modality,
// a root with no recognisable layout or keys that collide.
Discovery discover_samples(const BuildOptions& options);

// Open datasets kept across the chips of one scene.
class DatasetCache;
std::shared_ptr<DatasetCache> make_dataset_cache();

struct LoadedSample {
  Sample sample;
  std::vector<Problem> problems;  // empty: valid
  // Per modality, per band: the nodata value declared by the source (NaN always counts).
  std::map<std::string, std::vector<std::optional<double>>> nodata;
};

// Reads every raster of `candidate` and checks it: grid alignment across modalities (CRS,
// geotransform, size), band count and data type per the registry, nodata fraction against
// options.max_nodata_fraction, values within the modality's plausible range.
LoadedSample load_sample(const Candidate& candidate, const BuildOptions& options,
                         DatasetCache& cache);

// Inserts `name` into a registry-ordered modality list (a derived modality, once).
void add_derived_modality(std::vector<std::string>& modalities, const std::string& name);

// Adds NDVI = (B08 - B04) / (B08 + B04) (float32, NaN where a band is nodata or the sum is 0)
// computed from the sample's S2L2A, else S2L1C; false when it has NDVI already or neither.
bool derive_ndvi(LoadedSample& loaded);

// Per-modality, per-band statistics over valid values (not NaN, not the declared nodata).
class StatisticsAccumulator {
 public:
  void add(const std::string& modality, const Array& array,
           const std::vector<std::optional<double>>& nodata);
  std::map<std::string, std::vector<BandStatistics>> result() const;

 private:
  struct Running {
    std::int64_t count = 0;
    std::int64_t total = 0;
    double mean = 0;
    double m2 = 0;
    double min = std::numeric_limits<double>::infinity();
    double max = -std::numeric_limits<double>::infinity();
  };
  std::map<std::string, std::vector<Running>> running_;
};

// A band's nodata test: NaN always, and the declared nodata value when there is one.
struct NodataTest {
  bool declared = false;
  double value = 0;
  explicit NodataTest(const std::optional<double>& nodata)
      : declared(nodata.has_value()), value(nodata.value_or(0)) {}
  bool operator()(double v) const { return v != v || (declared && v == value); }
};

}  // namespace terramind::shards
