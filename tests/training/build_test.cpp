// tm_shards build on the bundled real samples: round trips exact, manifest, split stability,
// shard rotation, chips, BigEarthNet stacking; and every bad input of the issue.
#include <gdal_priv.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "test_paths.h"
#include "tm/checksum.h"
#include "tm/shards.h"

namespace fs = std::filesystem;
using namespace terramind::shards;
using terramind::testing::contains;
using terramind::testing::data_dir;
using terramind::testing::error_of;
using terramind::testing::ScratchDir;

namespace {

const char* kModalities[] = {"S2L2A", "S2L1C", "S2RGB", "S1RTC", "DEM", "LULC", "NDVI"};

std::string examples() { return data_dir() + "/terramesh_examples"; }

std::vector<std::string> example_ids() {
  std::vector<std::string> ids;
  for (const auto& e : fs::directory_iterator(examples() + "/DEM"))
    ids.push_back(e.path().stem().string());
  std::sort(ids.begin(), ids.end());
  return ids;
}

// <dir>/<MOD>/<id>.tif symlinks to the examples, for the ids given (all when empty).
void mirror_examples(const std::string& dir, const std::vector<std::string>& ids = {}) {
  for (const char* m : kModalities) {
    fs::create_directories(dir + "/" + m);
    for (const auto& id : ids.empty() ? example_ids() : ids)
      fs::create_symlink(examples() + "/" + m + "/" + id + ".tif",
                         dir + "/" + m + "/" + id + ".tif");
  }
}

// Reads a raster window the way a user would, to compare with what the shards hold.
Array read_raster(const std::string& path, int col = 0, int row = 0, int w = 0, int h = 0) {
  GDALAllRegister();
  GDALDatasetUniquePtr ds(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER));
  EXPECT_TRUE(ds) << path;
  Array a;
  if (!ds) return a;
  const GDALDataType type = ds->GetRasterBand(1)->GetRasterDataType();
  a.dtype = *dtype_from_gdal_name(GDALGetDataTypeName(type));
  a.bands = ds->GetRasterCount();
  a.width = w ? w : ds->GetRasterXSize();
  a.height = h ? h : ds->GetRasterYSize();
  a.data.resize(a.byte_size());
  const int size = static_cast<int>(dtype_size(a.dtype));
  EXPECT_EQ(ds->RasterIO(GF_Read, col, row, a.width, a.height, a.data.data(), a.width, a.height,
                         type, a.bands, nullptr, size, GSpacing(size) * a.width,
                         GSpacing(size) * a.width * a.height, nullptr),
            CE_None);
  return a;
}

std::map<std::string, Sample> read_all(const std::string& root, const std::string& split = "") {
  std::map<std::string, Sample> out;
  for (const auto& ref : list_shards(root, split)) {
    auto source = open_shard(ref);
    Sample s;
    while (source->next(s)) {
      EXPECT_FALSE(out.count(s.record.key)) << "sample twice: " << s.record.key;
      out[s.record.key] = s;
    }
  }
  return out;
}

// Every file under `dir` (recursively), relative.
std::vector<std::string> files_under(const std::string& dir) {
  std::vector<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir).string());
  return out;
}

// A copy of `source` at `target` (GeoTIFF) changed by `edit`.
void modified_copy(const std::string& source, const std::string& target,
                   const std::function<void(GDALDataset&)>& edit) {
  GDALAllRegister();
  fs::remove(target);
  GDALDatasetUniquePtr in(GDALDataset::Open(source.c_str(), GDAL_OF_RASTER));
  ASSERT_TRUE(in);
  GDALDriver* gtiff = GetGDALDriverManager()->GetDriverByName("GTiff");
  GDALDatasetUniquePtr out(
      gtiff->CreateCopy(target.c_str(), in.get(), FALSE, nullptr, nullptr, nullptr));
  ASSERT_TRUE(out);
  edit(*out);
}

BuildOptions options_for(const std::string& root, const std::string& out) {
  BuildOptions o;
  o.root = root;
  o.out = out;
  return o;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

TEST(shard_build, terramesh_examples_round_trip_exactly) {
  ScratchDir scratch;
  BuildOptions o = options_for(examples(), scratch.file("ds"));
  o.val_fraction = 0.4;
  const BuildReport report = build_shards(o);
  ASSERT_FALSE(report.refused);
  EXPECT_TRUE(report.problems.empty());
  const auto samples = read_all(o.out);
  ASSERT_EQ(samples.size(), 5u);
  for (const auto& id : example_ids()) {
    ASSERT_TRUE(samples.count(id)) << id;
    const Sample& s = samples.at(id);
    EXPECT_EQ(s.arrays.size(), 7u);
    for (const char* m : kModalities) {
      ASSERT_TRUE(s.has(m)) << id << " " << m;
      const Array expected = read_raster(examples() + "/" + m + "/" + id + ".tif");
      EXPECT_TRUE(s.arrays.at(m) == expected) << id << " " << m << ": pixels or type differ";
      EXPECT_EQ(s.record.sources.at(m), examples() + "/" + m + "/" + id + ".tif");
    }
    GDALDatasetUniquePtr ds(
        GDALDataset::Open((examples() + "/DEM/" + id + ".tif").c_str(), GDAL_OF_RASTER));
    double gt[6];
    ds->GetGeoTransform(gt);
    for (int i = 0; i < 6; ++i) EXPECT_DOUBLE_EQ(s.record.geotransform[i], gt[i]);
    EXPECT_EQ(s.record.width, 224);
    EXPECT_EQ(s.record.height, 224);
    EXPECT_EQ(s.record.crs.rfind("EPSG:32", 0), 0u) << s.record.crs;
    EXPECT_EQ(s.record.split, split_for_key(id, 0.4));
  }
  // README facts about the examples: centre, CRS and date of the Brazilian sample.
  const SampleRecord& brazil = samples.at("282D_485L_3_3").record;
  EXPECT_EQ(brazil.crs, "EPSG:32722");
  EXPECT_NEAR(brazil.center_lon, -48.106, 0.001);
  EXPECT_NEAR(brazil.center_lat, -25.316, 0.001);
  EXPECT_EQ(brazil.date.substr(0, 10), "2021-07-23");
}

TEST(shard_build, manifest_counts_statistics_and_checksums) {
  ScratchDir scratch;
  BuildOptions o = options_for(examples(), scratch.file("ds"));
  o.val_fraction = 0;  // everything in train: statistics over all five samples
  build_shards(o);
  const Manifest m = read_manifest(o.out);
  EXPECT_EQ(m.format, "tm-shards/1");
  EXPECT_EQ(m.dataset, "ds");
  EXPECT_EQ(m.modalities.size(), 7u);
  ASSERT_TRUE(m.splits.count("train"));
  EXPECT_FALSE(m.splits.count("val"));
  const SplitSummary& train = m.splits.at("train");
  EXPECT_EQ(train.samples, 5);
  for (const char* mod : kModalities) EXPECT_EQ(train.modality_samples.at(mod), 5) << mod;
  // DEM statistics against a direct computation over the five files.
  double sum = 0, sum2 = 0, lo = 1e300, hi = -1e300;
  std::int64_t n = 0;
  for (const auto& id : example_ids()) {
    const Array a = read_raster(examples() + "/DEM/" + id + ".tif");
    for (std::size_t i = 0; i < a.count(); ++i) {
      const double v = a.value(i);
      sum += v;
      sum2 += v * v;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      ++n;
    }
  }
  const auto& dem = train.statistics.at("DEM").at(0);
  EXPECT_EQ(dem.band, "DEM");
  EXPECT_EQ(dem.count, n);
  EXPECT_NEAR(dem.mean, sum / n, 1e-9 * std::abs(sum / n));
  EXPECT_NEAR(dem.std, std::sqrt(sum2 / n - (sum / n) * (sum / n)), 1e-6 * dem.std);
  EXPECT_EQ(dem.min, lo);
  EXPECT_EQ(dem.max, hi);
  EXPECT_EQ(dem.nodata_fraction, 0);
  EXPECT_EQ(train.statistics.at("S2L2A").size(), 12u);
  EXPECT_EQ(train.statistics.at("S2L2A")[8].band, "B8A");
  ASSERT_FALSE(m.shards.empty());
  for (const auto& e : m.shards) {
    EXPECT_EQ(terramind::sha256_file(o.out + "/" + e.file), e.sha256) << e.file;
    EXPECT_EQ(fs::file_size(o.out + "/" + e.file), e.bytes);
  }
  // Nothing left besides the manifest and the shards.
  std::vector<std::string> expected{"manifest.json"};
  for (const auto& e : m.shards) expected.push_back(e.file);
  auto files = files_under(o.out);
  std::sort(files.begin(), files.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(files, expected);
  EXPECT_TRUE(verify_dataset(o.out).ok());
}

TEST(shard_build, builds_are_reproducible_byte_for_byte) {
  ScratchDir scratch;
  build_shards(options_for(examples(), scratch.file("a")));
  build_shards(options_for(examples(), scratch.file("b")));
  const Manifest a = read_manifest(scratch.file("a")), b = read_manifest(scratch.file("b"));
  ASSERT_EQ(a.shards.size(), b.shards.size());
  for (std::size_t i = 0; i < a.shards.size(); ++i) {
    EXPECT_EQ(a.shards[i].sha256, b.shards[i].sha256);
    // shard names carry the dataset name, so compare by position
  }
}

TEST(shard_build, split_is_stable_when_samples_are_added) {
  ScratchDir scratch;
  const auto ids = example_ids();
  mirror_examples(scratch.file("four"), {ids.begin(), ids.begin() + 4});
  BuildOptions o = options_for(scratch.file("four"), scratch.file("ds4"));
  o.val_fraction = 0.5;
  build_shards(o);
  BuildOptions o5 = options_for(examples(), scratch.file("ds5"));
  o5.val_fraction = 0.5;
  build_shards(o5);
  const auto four = read_all(o.out), five = read_all(o5.out);
  ASSERT_EQ(four.size(), 4u);
  ASSERT_EQ(five.size(), 5u);
  for (const auto& [key, s] : four) EXPECT_EQ(s.record.split, five.at(key).record.split) << key;
  // And the hash split itself: about the asked share, from the key alone.
  int val = 0;
  for (int i = 0; i < 20000; ++i) val += split_for_key("k" + std::to_string(i), 0.1) == "val";
  EXPECT_NEAR(val / 20000.0, 0.1, 0.01);
  EXPECT_EQ(split_for_key("anything", 0.0), "train");
  EXPECT_EQ(split_for_key("anything", 1.0), "val");
}

TEST(shard_build, shards_rotate_at_the_target_size_and_sample_count) {
  ScratchDir scratch;
  BuildOptions o = options_for(examples(), scratch.file("ds"));
  o.val_fraction = 0;
  o.max_samples_per_shard = 2;
  build_shards(o);
  const Manifest m = read_manifest(o.out);
  ASSERT_EQ(m.shards.size(), 3u);  // 2 + 2 + 1
  EXPECT_EQ(m.shards[0].samples + m.shards[1].samples + m.shards[2].samples, 5);
  EXPECT_EQ(m.shards[0].file, "train/ds-train-000000.tar");
  EXPECT_EQ(m.shards[2].file, "train/ds-train-000002.tar");

  BuildOptions small = options_for(examples(), scratch.file("small"));
  small.val_fraction = 0;
  small.shard_bytes = 1;  // every sample exceeds it: one sample per shard, never an empty shard
  build_shards(small);
  const Manifest ms = read_manifest(small.out);
  EXPECT_EQ(ms.shards.size(), 5u);
  for (const auto& e : ms.shards) EXPECT_EQ(e.samples, 1);
  EXPECT_EQ(read_all(small.out).size(), 5u);
}

TEST(shard_build, a_whole_tile_is_cut_into_chips) {
  ScratchDir scratch;
  const std::string tile = data_dir() + "/s2l2a_tile_T29RKH/S2L2A_T29RKH_20200219_100m_12band.tif";
  BuildOptions o;
  o.inputs = {{"S2L2A", tile}};
  o.out = scratch.file("ds");
  o.chip = 224;
  build_shards(o);
  const auto samples = read_all(o.out);
  // 1098 px: offsets 0, 224, 448, 672 and 874 (flush with the edge) per axis.
  ASSERT_EQ(samples.size(), 25u);
  const std::string key = "S2L2A_T29RKH_20200219_100m_12band_r00448_c00874";
  ASSERT_TRUE(samples.count(key));
  const Sample& s = samples.at(key);
  EXPECT_TRUE(s.arrays.at("S2L2A") == read_raster(tile, 874, 448, 224, 224));
  EXPECT_EQ(s.record.sources.at("S2L2A"), tile + "#874,448");
  EXPECT_DOUBLE_EQ(s.record.geotransform[0], 199980 + 874 * 100.0);
  EXPECT_DOUBLE_EQ(s.record.geotransform[3], 2800020 - 448 * 100.0);
  EXPECT_EQ(s.record.crs, "EPSG:32629");
  EXPECT_NEAR(s.record.center_lat, 24.8, 0.6);
}

TEST(shard_build, sen1floods11_chips_with_partial_samples_and_skipped_nodata) {
  ScratchDir scratch;
  BuildOptions o;
  o.inputs = {{"S1GRD", data_dir() + "/sen1floods11/S1Hand"},
              {"S2L1C", data_dir() + "/sen1floods11/S2Hand"}};
  o.out = scratch.file("ds");
  o.chip = 256;
  o.allow_partial = true;
  o.skip_invalid = true;
  const BuildReport report = build_shards(o);
  ASSERT_FALSE(report.refused);
  const Manifest m = read_manifest(o.out);
  // Paraguay_34417's S1 image is entirely NaN: its four chips are skipped, by reason.
  EXPECT_GE(m.skipped.at("all nodata"), 4);
  bool named = false;
  for (const auto& p : report.problems) named |= contains(p.detail, "Paraguay_34417_S1Hand.tif");
  EXPECT_TRUE(named);
  const auto samples = read_all(o.out);
  ASSERT_TRUE(samples.count("Spain_7370579_r00000_c00000"));
  const Sample& spain = samples.at("Spain_7370579_r00000_c00000");
  EXPECT_TRUE(spain.has("S1GRD") && spain.has("S2L1C"));
  EXPECT_TRUE(
      spain.arrays.at("S1GRD") ==
      read_raster(data_dir() + "/sen1floods11/S1Hand/Spain_7370579_S1Hand.tif", 0, 0, 256, 256));
  const Sample& usa = samples.at("USA_430764_r00256_c00256");
  EXPECT_TRUE(usa.has("S2L1C"));
  EXPECT_FALSE(usa.has("S1GRD"));
  EXPECT_FALSE(samples.count("Paraguay_34417_r00000_c00000"));
}

TEST(shard_build, bigearthnet_patches_are_stacked_on_the_10m_grid) {
  ScratchDir scratch;
  BuildOptions o = options_for(data_dir() + "/bigearthnet_examples", scratch.file("ds"));
  build_shards(o);
  const auto samples = read_all(o.out);
  ASSERT_EQ(samples.size(), 4u);
  const std::string patch = "S2A_MSIL2A_20170613T101031_87_48";
  ASSERT_TRUE(samples.count(patch));
  const Sample& s = samples.at(patch);
  ASSERT_TRUE(s.has("S2L2A") && s.has("S1GRD"));
  const Array& s2 = s.arrays.at("S2L2A");
  EXPECT_EQ(s2.bands, 12);
  EXPECT_EQ(s2.width, 120);
  const std::string dir = data_dir() + "/bigearthnet_examples/S2/" + patch + "/" + patch;
  const Array b02 = read_raster(dir + "_B02.tif"), b01 = read_raster(dir + "_B01.tif");
  for (int r = 0; r < 120; r += 7)
    for (int c = 0; c < 120; c += 5) {
      EXPECT_EQ(s2.value(1, r, c), b02.value(0, r, c));
      EXPECT_EQ(s2.value(0, r, c), b01.value(0, r / 6, c / 6)) << "60 m band repeated 6x6";
    }
  EXPECT_EQ(s.record.date.substr(0, 10), "2017-06-13");
  EXPECT_EQ(s.record.crs, "EPSG:32633");
}

// ---------------------------------------------------------------------------------------------

namespace {

// A build that must refuse: the problem's reason, the file named, nothing left behind.
void expect_refused(const BuildOptions& o, const std::string& reason, const std::string& path) {
  const BuildReport report = build_shards(o);
  EXPECT_TRUE(report.refused);
  bool found = false;
  for (const auto& p : report.problems)
    if (p.reason == reason && contains(p.detail, path)) found = true;
  EXPECT_TRUE(found) << "no \"" << reason << "\" problem naming " << path;
  for (const auto& f : files_under(o.out)) ADD_FAILURE() << "left behind: " << f;
}

}  // namespace

TEST(shard_build_errors, misaligned_sample) {
  ScratchDir scratch;
  mirror_examples(scratch.file("in"));
  const std::string bad = scratch.file("in/DEM/38D_378R_2_3.tif");
  modified_copy(examples() + "/DEM/38D_378R_2_3.tif", bad, [](GDALDataset& ds) {
    double gt[6];
    ds.GetGeoTransform(gt);
    gt[0] += 10;  // one pixel east
    ds.SetGeoTransform(gt);
  });
  BuildOptions o = options_for(scratch.file("in"), scratch.file("out"));
  expect_refused(o, "misaligned", bad);
  // Skipped when asked, counted by reason; the other four samples are written.
  o.skip_invalid = true;
  build_shards(o);
  const Manifest m = read_manifest(o.out);
  EXPECT_EQ(m.skipped.at("misaligned"), 1);
  EXPECT_EQ(read_all(o.out).size(), 4u);
}

TEST(shard_build_errors, missing_modality_file) {
  ScratchDir scratch;
  mirror_examples(scratch.file("in"));
  fs::remove(scratch.file("in/NDVI/609U_541L_3_0.tif"));
  BuildOptions o = options_for(scratch.file("in"), scratch.file("out"));
  expect_refused(o, "missing modality", scratch.file("in/NDVI"));
  o.allow_partial = true;  // kept without NDVI
  build_shards(o);
  const auto samples = read_all(o.out);
  EXPECT_FALSE(samples.at("609U_541L_3_0").has("NDVI"));
  EXPECT_TRUE(samples.at("609U_541L_3_0").has("DEM"));
  std::int64_t with_ndvi = 0;
  for (const auto& [split, summary] : read_manifest(o.out).splits)
    with_ndvi += summary.modality_samples.count("NDVI") ? summary.modality_samples.at("NDVI") : 0;
  EXPECT_EQ(with_ndvi, 4);
}

TEST(shard_build_errors, wrong_band_count_and_data_type) {
  ScratchDir scratch;
  mirror_examples(scratch.file("in"));
  fs::remove(scratch.file("in/S2L2A/433D_629L_3_1.tif"));
  fs::create_symlink(examples() + "/DEM/433D_629L_3_1.tif",
                     scratch.file("in/S2L2A/433D_629L_3_1.tif"));
  expect_refused(options_for(scratch.file("in"), scratch.file("out")), "band count",
                 scratch.file("in/S2L2A/433D_629L_3_1.tif"));
  ScratchDir scratch2;
  mirror_examples(scratch2.file("in"));
  fs::remove(scratch2.file("in/NDVI/433D_629L_3_1.tif"));  // Int16 elevation as NDVI
  fs::create_symlink(examples() + "/DEM/433D_629L_3_1.tif",
                     scratch2.file("in/NDVI/433D_629L_3_1.tif"));
  expect_refused(options_for(scratch2.file("in"), scratch2.file("out")), "data type",
                 scratch2.file("in/NDVI/433D_629L_3_1.tif"));
}

TEST(shard_build_errors, all_nan_and_implausible_values) {
  ScratchDir scratch;
  mirror_examples(scratch.file("in"));
  const std::string nan = scratch.file("in/NDVI/637U_59R_1_3.tif");
  modified_copy(examples() + "/NDVI/637U_59R_1_3.tif", nan,
                [](GDALDataset& ds) { ds.GetRasterBand(1)->Fill(std::nan("")); });
  expect_refused(options_for(scratch.file("in"), scratch.file("out")), "all nodata", nan);
  ScratchDir scratch2;
  mirror_examples(scratch2.file("in"));
  const std::string high = scratch2.file("in/DEM/637U_59R_1_3.tif");
  modified_copy(examples() + "/DEM/637U_59R_1_3.tif", high, [](GDALDataset& ds) {
    std::int16_t v = 12000;  // metres: above Everest
    ASSERT_EQ(
        ds.GetRasterBand(1)->RasterIO(GF_Write, 5, 5, 1, 1, &v, 1, 1, GDT_Int16, 0, 0, nullptr),
        CE_None);
  });
  expect_refused(options_for(scratch2.file("in"), scratch2.file("out")), "implausible values",
                 high);
  ScratchDir scratch3;
  mirror_examples(scratch3.file("in"));
  const std::string holes = scratch3.file("in/S1RTC/637U_59R_1_3.tif");
  modified_copy(examples() + "/S1RTC/637U_59R_1_3.tif", holes, [](GDALDataset& ds) {
    std::vector<double> nans(224 * 150, std::nan(""));  // 67 % of each band
    for (int b = 1; b <= 2; ++b)
      ASSERT_EQ(ds.GetRasterBand(b)->RasterIO(GF_Write, 0, 0, 224, 150, nans.data(), 224, 150,
                                              GDT_Float64, 0, 0, nullptr),
                CE_None);
  });
  expect_refused(options_for(scratch3.file("in"), scratch3.file("out")), "too much nodata", holes);
}

TEST(shard_build_errors, empty_folder_unknown_layout_and_existing_dataset) {
  ScratchDir scratch;
  fs::create_directories(scratch.file("in/DEM"));
  std::string e = error_of<std::invalid_argument>(
      [&] { build_shards(options_for(scratch.file("in"), scratch.file("out"))); });
  EXPECT_TRUE(contains(e, scratch.file("in/DEM")) && contains(e, "no rasters")) << e;
  fs::create_directories(scratch.file("other/stuff"));
  e = error_of<std::invalid_argument>(
      [&] { build_shards(options_for(scratch.file("other"), scratch.file("out"))); });
  EXPECT_TRUE(contains(e, "no modality folders")) << e;
  EXPECT_TRUE(files_under(scratch.file("out")).empty());

  BuildOptions o = options_for(examples(), scratch.file("ds"));
  build_shards(o);
  e = error_of<std::invalid_argument>([&] { build_shards(o); });
  EXPECT_TRUE(contains(e, "already holds a dataset")) << e;
  o.overwrite = true;
  o.max_samples_per_shard = 1;
  build_shards(o);
  EXPECT_TRUE(verify_dataset(o.out).ok());
}

TEST(shard_build_errors, truncated_corrupt_and_tampered_shards) {
  ScratchDir scratch;
  BuildOptions o = options_for(examples(), scratch.file("ds"));
  o.val_fraction = 0;
  o.max_samples_per_shard = 2;
  build_shards(o);
  const Manifest m = read_manifest(o.out);
  const std::string first = o.out + "/" + m.shards[0].file;
  const std::string second = o.out + "/" + m.shards[1].file;
  // One flipped byte inside a member: checksum mismatch, and the member no longer decodes.
  {
    std::fstream f(first, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(5000);
    char c;
    f.seekg(5000);
    f.get(c);
    f.seekp(5000);
    f.put(static_cast<char>(c ^ 0x5a));
  }
  // The second shard cut in half: truncated.
  fs::resize_file(second, fs::file_size(second) / 2);
  const VerifyReport r = verify_dataset(o.out);
  EXPECT_FALSE(r.ok());
  std::set<std::string> reasons;
  for (const auto& p : r.problems)
    reasons.insert(p.reason + " @ " + fs::path(p.path).filename().string());
  EXPECT_TRUE(reasons.count("checksum mismatch @ " + fs::path(first).filename().string()));
  EXPECT_TRUE(reasons.count("checksum mismatch @ " + fs::path(second).filename().string()));
  bool truncated = false;
  for (const auto& p : r.problems)
    truncated |= contains(p.detail, second) && contains(p.detail, "truncated");
  EXPECT_TRUE(truncated);
  // Reading a truncated shard fails with the shard named, not silently short.
  ShardRef ref;
  ref.path = second;
  const std::string e = error_of<FormatError>([&] {
    auto source = open_shard(ref);
    Sample s;
    while (source->next(s)) {
    }
  });
  EXPECT_TRUE(contains(e, second) && contains(e, "truncated")) << e;
  // Not a tar at all.
  std::ofstream(scratch.file("junk.tar")) << "this is not a tar archive, just some text";
  ShardRef junk;
  junk.path = scratch.file("junk.tar");
  const std::string e2 = error_of<FormatError>([&] {
    auto source = open_shard(junk);
    Sample s;
    source->next(s);
  });
  EXPECT_TRUE(contains(e2, "junk.tar")) << e2;
}

// Done-when of the issue: every bundled real dataset builds into shards the reader streams, each
// sample exactly once, with its arrays intact.
TEST(shard_build, the_reader_streams_every_bundled_dataset) {
  ScratchDir scratch;
  std::vector<BuildOptions> builds;
  builds.push_back(options_for(examples(), scratch.file("terramesh")));
  BuildOptions floods;
  floods.inputs = {{"S1GRD", data_dir() + "/sen1floods11/S1Hand"},
                   {"S2L1C", data_dir() + "/sen1floods11/S2Hand"}};
  floods.out = scratch.file("floods");
  floods.chip = 224;
  floods.stride = 144;
  floods.allow_partial = floods.skip_invalid = true;
  builds.push_back(floods);
  builds.push_back(options_for(data_dir() + "/bigearthnet_examples", scratch.file("bigearthnet")));
  BuildOptions tile;
  tile.inputs = {
      {"S2L2A", data_dir() + "/s2l2a_tile_T29RKH/S2L2A_T29RKH_20200219_100m_12band.tif"}};
  tile.out = scratch.file("t29rkh");
  tile.chip = 224;
  builds.push_back(tile);
  for (auto& o : builds) {
    o.compression_level = 1;
    build_shards(o);
    const Manifest m = read_manifest(o.out);
    std::int64_t expected = 0;
    for (const auto& [split, s] : m.splits) expected += s.samples;
    StreamOptions so;
    so.shards = list_shards(o.out, "");
    so.threads = 2;
    so.batch_size = 8;
    so.shuffle_buffer = 16;
    so.missing = MissingModality::kAbsent;
    SampleStream stream(so);
    std::set<std::string> keys;
    std::int64_t arrays = 0;
    while (auto batch = stream.next())
      for (const auto& s : batch->samples) {
        EXPECT_TRUE(keys.insert(s.record.key).second) << s.record.key << " twice";
        for (const auto& [modality, a] : s.arrays) {
          EXPECT_EQ(a.width, s.record.width);
          ++arrays;
        }
      }
    EXPECT_EQ(static_cast<std::int64_t>(keys.size()), expected) << o.out;
    std::int64_t held = 0;
    for (const auto& [split, s] : m.splits)
      for (const auto& [modality, n] : s.modality_samples) held += n;
    EXPECT_EQ(arrays, held) << o.out;
  }
}

// GDAL's virtual file systems are the reader's only path to shards: a dataset inside a tar
// archive (/vsitar/) streams like the local one (the same code serves /vsicurl/ and /vsis3/).
TEST(shard_build, shards_inside_an_archive_stream_through_vsitar) {
  ScratchDir scratch;
  BuildOptions o = options_for(examples(), scratch.file("ds"));
  o.compression_level = 1;
  build_shards(o);
  const std::string archive = scratch.file("dataset.tar");
  ASSERT_EQ(std::system(("tar -C " + scratch.path() + " -cf " + archive + " ds").c_str()), 0);
  const auto local = read_all(o.out);
  const auto packed = read_all("/vsitar/" + archive + "/ds");
  ASSERT_EQ(packed.size(), local.size());
  for (const auto& [key, s] : local) {
    ASSERT_TRUE(packed.count(key)) << key;
    EXPECT_EQ(packed.at(key).arrays.size(), s.arrays.size());
    for (const auto& [modality, a] : s.arrays)
      EXPECT_TRUE(packed.at(key).arrays.at(modality) == a) << key << " " << modality;
  }
  EXPECT_TRUE(verify_dataset("/vsitar/" + archive + "/ds").ok());
}
