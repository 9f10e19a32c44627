// The published TerraMesh layout: per-modality shard tars of zipped Zarr v2 stores, read back
// through GDAL's Zarr driver and compared with the GeoTIFFs they were written from.
#include <cpl_compressor.h>
#include <cpl_conv.h>
#include <cpl_json.h>
#include <cpl_vsi.h>
#include <gdal_priv.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>

#include "terramesh_fixture.h"
#include "terramesh_source.h"
#include "test_paths.h"
#include "tm/shards.h"

namespace terramind::testing {
namespace {

namespace fs = std::filesystem;
using shards::Array;
using shards::FormatError;
using shards::Layout;
using shards::Sample;
using shards::ShardRef;

const std::string kShard1 = "majortom_shard_000001.tar";
const std::string kShard2 = "majortom_shard_000002.tar";

std::vector<Sample> read_all(const ShardRef& ref, const std::vector<std::string>& modalities = {}) {
  std::vector<Sample> out;
  auto source = shards::open_shard(ref, modalities);
  Sample sample;
  while (source->next(sample)) out.push_back(sample);
  return out;
}

std::vector<std::string> keys_of(const std::map<std::string, std::string>& map) {
  std::vector<std::string> out;
  for (const auto& [k, v] : map) out.push_back(k);
  return out;
}

// The datetime tag of the id's S2RGB GeoTIFF without its zero fraction: the sample's date.
std::string expected_date(const std::string& id) {
  std::unique_ptr<GDALDataset> ds(GDALDataset::Open(terramesh_example_tif("S2RGB", id).c_str(),
                                                    GDAL_OF_RASTER, nullptr, nullptr, nullptr));
  std::string text = ds->GetMetadataItem("datetime");
  const auto dot = text.find('.');
  if (dot != std::string::npos && text.find_first_not_of('0', dot + 1) == std::string::npos)
    text = text.substr(0, dot);
  return text;
}

std::vector<std::uint8_t> example_zip(const std::string& modality, const std::string& id,
                                      const TerraMeshZarrOptions& options = {}) {
  return terramesh_zarr_zip(terramesh_example_tif(modality, id), modality,
                            terramesh_example_time_ns(modality, id), options);
}

Sample decode(const std::vector<std::uint8_t>& zip, const std::string& modality,
              const std::string& what = "test/k.zarr.zip") {
  Sample sample;
  shards::decode_terramesh_zarr(zip, modality, what, sample);
  return sample;
}

std::string decode_error(const std::vector<std::uint8_t>& zip, const std::string& modality,
                         const std::string& what = "shard.tar/k.zarr.zip") {
  return error_of<FormatError>([&] { decode(zip, modality, what); });
}

class terramesh_layout : public ::testing::Test {
 protected:
  // Every example in two shards of the val split: ids 0-2 in shard 1, 3-4 in shard 2.
  static void SetUpTestSuite() {
    GDALAllRegister();
    dir_ = new ScratchDir;
    const auto ids = terramesh_example_ids();
    write_terramesh_dataset(
        dir_->path(), "val",
        {{kShard1, {ids[0], ids[1], ids[2]}, {}}, {kShard2, {ids[3], ids[4]}, {}}},
        terramesh_example_modalities());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string root() { return dir_->path(); }
  static ScratchDir* dir_;
};
ScratchDir* terramesh_layout::dir_ = nullptr;

// ---------------------------------------------------------------------------------------------
// (a) round trip

TEST_F(terramesh_layout, round_trip_matches_the_geotiffs) {
  const auto refs = shards::list_shards(root(), "val");
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[0].name, kShard1);
  EXPECT_EQ(refs[1].name, kShard2);
  const auto ids = terramesh_example_ids();
  std::size_t next_id = 0;
  for (const auto& ref : refs) {
    EXPECT_EQ(ref.layout, Layout::kTerraMesh);
    EXPECT_EQ(keys_of(ref.modality_paths), (std::vector<std::string>{"DEM", "LULC", "NDVI", "S1RTC",
                                                                     "S2L1C", "S2L2A", "S2RGB"}));
    for (const auto& sample : read_all(ref)) {
      ASSERT_LT(next_id, ids.size());
      const std::string id = ids[next_id++];
      SCOPED_TRACE(id);
      EXPECT_EQ(sample.shard, ref.name);
      EXPECT_EQ(sample.record.key, terramesh_key(ref.name, "val", id));
      EXPECT_EQ(sample.record.split, "val");
      ASSERT_EQ(sample.arrays.size(), 7u);
      for (const auto& modality : terramesh_example_modalities()) {
        SCOPED_TRACE(modality);
        ASSERT_TRUE(sample.has(modality));
        const Array expected = read_tif_array(terramesh_example_tif(modality, id));
        const Array& got = sample.arrays.at(modality);
        EXPECT_EQ(got.dtype, expected.dtype);
        EXPECT_EQ(got.bands, expected.bands);
        EXPECT_EQ(got.height, expected.height);
        EXPECT_EQ(got.width, expected.width);
        EXPECT_TRUE(got == expected) << "pixels differ from the GeoTIFF";
        EXPECT_EQ(sample.record.sources.at(modality), root() + "/val/" + modality + "/" + ref.name +
                                                          "/" + sample.record.key + ".zarr.zip");
      }
      const TifGeometry g = read_tif_geometry(terramesh_example_tif("S2L2A", id));
      EXPECT_EQ(sample.record.crs, g.crs);
      EXPECT_EQ(sample.record.width, 224);
      EXPECT_EQ(sample.record.height, 224);
      for (int i = 0; i < 6; ++i)
        EXPECT_NEAR(sample.record.geotransform[i], g.geotransform[i], 1e-6);
      EXPECT_EQ(sample.record.date, expected_date(id));
      // The record's geometry comes from the first modality read (DEM): its GeoTIFF's origin
      // differs from S2L2A's in the last digits.
      EXPECT_NEAR(sample.record.center_lon, g.center_lon, 1e-9);
      EXPECT_NEAR(sample.record.center_lat, g.center_lat, 1e-9);
    }
  }
  EXPECT_EQ(next_id, ids.size());
}

TEST_F(terramesh_layout, first_sample_has_the_documented_crs_centre_and_date) {
  // ../shared/data/README.md: 282D_485L_3_3, EPSG:32722, 48.106 W 25.316 S, S2 2021-07-23.
  const auto refs = shards::list_shards(root(), "val");
  auto source = shards::open_shard(refs.at(0));
  Sample sample;
  ASSERT_TRUE(source->next(sample));
  EXPECT_EQ(sample.record.key, "majortom_val_282D_485L_3_3");
  EXPECT_EQ(sample.record.crs, "EPSG:32722");
  EXPECT_NEAR(sample.record.center_lon, -48.106, 1e-3);
  EXPECT_NEAR(sample.record.center_lat, -25.316, 1e-3);
  EXPECT_EQ(sample.record.date, "2021-07-23T13:22:41");
  EXPECT_NEAR(sample.record.geotransform[0], 790236.0404, 1e-4);
  EXPECT_NEAR(sample.record.geotransform[3], 7198039.2523, 1e-4);
  EXPECT_EQ(sample.record.geotransform[1], 10.0);
  EXPECT_EQ(sample.record.geotransform[5], -10.0);
}

TEST_F(terramesh_layout, split_folder_as_root) {
  const auto from_root = shards::list_shards(root(), "val");
  const auto from_split = shards::list_shards(root() + "/val", "");
  ASSERT_EQ(from_split.size(), from_root.size());
  for (std::size_t i = 0; i < from_root.size(); ++i) {
    EXPECT_EQ(from_split[i].name, from_root[i].name);
    EXPECT_EQ(from_split[i].modality_paths, from_root[i].modality_paths);
  }
  // The internal entry point, too.
  EXPECT_EQ(shards::list_terramesh_shards(root() + "/val", "val", {}).size(), 2u);
}

// ---------------------------------------------------------------------------------------------
// (b) pairing

TEST_F(terramesh_layout, modality_subsets_and_aliases) {
  const auto refs = shards::list_shards(root(), "val", {"s2_l2a", "elevation"});
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(keys_of(refs[0].modality_paths), (std::vector<std::string>{"DEM", "S2L2A"}));
  const auto samples = read_all(refs[0]);
  ASSERT_EQ(samples.size(), 3u);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    EXPECT_EQ(samples[i].arrays.size(), 2u);
    EXPECT_TRUE(samples[i].has("S2L2A"));
    EXPECT_TRUE(samples[i].has("DEM"));
    EXPECT_EQ(samples[i].record.date, expected_date(terramesh_example_ids()[i]));
  }
  // open_shard's own selection, from a shard listing every folder.
  const auto all = shards::list_shards(root(), "val");
  const auto ndvi = read_all(all[1], {"NDVI"});
  ASSERT_EQ(ndvi.size(), 2u);
  EXPECT_EQ(ndvi[0].arrays.size(), 1u);
  EXPECT_TRUE(ndvi[0].has("NDVI"));
  EXPECT_EQ(ndvi[1].record.key, terramesh_key(kShard2, "val", terramesh_example_ids()[4]));
}

TEST_F(terramesh_layout, dem_alone_has_no_date) {
  // The published DEM stores have time 0 ("no valid timestamp", terramesh.py).
  const auto refs = shards::list_shards(root(), "val", {"DEM"});
  const auto samples = read_all(refs[0]);
  ASSERT_FALSE(samples.empty());
  EXPECT_EQ(samples[0].record.date, "");
  EXPECT_EQ(samples[0].record.crs, "EPSG:32722");
}

TEST_F(terramesh_layout, skip_advances_without_decoding) {
  const auto refs = shards::list_shards(root(), "val");
  auto source = shards::open_shard(refs[0]);
  const auto ids = terramesh_example_ids();
  Sample sample;
  ASSERT_TRUE(source->skip());
  ASSERT_TRUE(source->next(sample));
  EXPECT_EQ(sample.record.key, terramesh_key(kShard1, "val", ids[1]));
  ASSERT_TRUE(source->skip());
  EXPECT_FALSE(source->next(sample));
  EXPECT_FALSE(source->skip());
}

TEST_F(terramesh_layout, subsets_pair_with_the_folders_that_hold_them) {
  // As published: S1RTC holds only majortom_* shards, S1GRD only ssl4eos12_* shards.
  ScratchDir dir;
  const auto ids = terramesh_example_ids();
  write_terramesh_dataset(dir.path(), "train",
                          {{"majortom_shard_000001.tar", {ids[0]}, {"S2L2A", "S1RTC"}},
                           {"ssl4eos12_shard_000794.tar", {ids[1], ids[2]}, {"S2L2A", "S1GRD"}}},
                          {});
  const auto refs = shards::list_shards(dir.path(), "train");
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(keys_of(refs[0].modality_paths), (std::vector<std::string>{"S1RTC", "S2L2A"}));
  EXPECT_EQ(keys_of(refs[1].modality_paths), (std::vector<std::string>{"S1GRD", "S2L2A"}));
  const auto ssl = read_all(refs[1]);
  ASSERT_EQ(ssl.size(), 2u);
  EXPECT_EQ(ssl[0].record.key, "ssl4eos12_train_" + ids[1]);
  EXPECT_TRUE(ssl[0].has("S1GRD"));
  EXPECT_EQ(ssl[0].record.split, "train");

  // Asking for S1GRD: the majortom shard pairs without it (its samples lack S1GRD).
  const auto asked = shards::list_shards(dir.path(), "train", {"S2L2A", "S1GRD"});
  ASSERT_EQ(asked.size(), 2u);
  EXPECT_EQ(keys_of(asked[0].modality_paths), (std::vector<std::string>{"S2L2A"}));
  const auto mt = read_all(asked[0], {"S2L2A", "S1GRD"});
  ASSERT_EQ(mt.size(), 1u);
  EXPECT_FALSE(mt[0].has("S1GRD"));
  EXPECT_TRUE(mt[0].has("S2L2A"));
}

TEST_F(terramesh_layout, streams_like_tm_shards) {
  shards::StreamOptions options;
  options.shards = shards::list_shards(root(), "val", {"S2L2A", "S1RTC"});
  options.modalities = {"S2L2A", "S1RTC"};
  options.threads = 2;
  options.batch_size = 2;
  options.crop = 128;
  options.seed = 7;
  shards::SampleStream stream(options);
  std::set<std::string> keys;
  while (auto batch = stream.next())
    for (const auto& sample : batch->samples) {
      keys.insert(sample.record.key);
      EXPECT_EQ(sample.arrays.at("S2L2A").width, 128);
      EXPECT_EQ(sample.arrays.at("S1RTC").height, 128);
    }
  EXPECT_EQ(keys.size(), terramesh_example_ids().size());
}

// ---------------------------------------------------------------------------------------------
// (c) errors

TEST_F(terramesh_layout, a_shard_missing_from_one_folder_is_an_error) {
  ScratchDir dir;
  const auto ids = terramesh_example_ids();
  write_terramesh_dataset(dir.path(), "val", {{kShard1, {ids[0]}, {}}, {kShard2, {ids[1]}, {}}},
                          {"S2L2A", "DEM"});
  fs::remove(dir.path() + "/val/DEM/" + kShard2);
  for (const auto& asked : {std::vector<std::string>{}, std::vector<std::string>{"DEM", "S2L2A"}}) {
    const std::string message =
        error_of<FormatError>([&] { shards::list_shards(dir.path(), "val", asked); });
    EXPECT_TRUE(contains(message, dir.path() + "/val/DEM")) << message;
    EXPECT_TRUE(contains(message, kShard2)) << message;
    EXPECT_TRUE(contains(message, "missing")) << message;
  }
  // Without DEM the rest pairs.
  EXPECT_EQ(shards::list_shards(dir.path(), "val", {"S2L2A"}).size(), 2u);
}

TEST_F(terramesh_layout, a_requested_modality_without_a_folder_is_an_error) {
  const std::string message = error_of<FormatError>([&] {
    shards::list_shards(root(), "val", {"S2L2A", "S1GRD"});
  });
  EXPECT_TRUE(contains(message, root() + "/val")) << message;
  EXPECT_TRUE(contains(message, "no S1GRD folder")) << message;
  const std::string none =
      error_of<FormatError>([&] { shards::list_terramesh_shards(root() + "/val/DEM", "", {}); });
  EXPECT_TRUE(contains(none, "no TerraMesh modality folders")) << none;
}

TEST_F(terramesh_layout, misaligned_keys_are_an_error) {
  ScratchDir dir;
  const auto ids = terramesh_example_ids();
  write_terramesh_dataset(dir.path(), "val", {{kShard1, {ids[0], ids[1]}, {"S2L2A"}}}, {});
  write_terramesh_dataset(dir.path(), "val", {{kShard1, {ids[1], ids[0]}, {"DEM"}}}, {});
  const auto refs = shards::list_shards(dir.path(), "val");
  ASSERT_EQ(refs.size(), 1u);
  const std::string message = error_of<FormatError>([&] { read_all(refs[0]); });
  EXPECT_TRUE(contains(message, "misaligned")) << message;
  EXPECT_TRUE(contains(message, dir.path() + "/val/DEM/" + kShard1)) << message;
  EXPECT_TRUE(contains(message, dir.path() + "/val/S2L2A/" + kShard1)) << message;
  EXPECT_TRUE(contains(message, terramesh_key(kShard1, "val", ids[0]))) << message;
  EXPECT_TRUE(contains(message, terramesh_key(kShard1, "val", ids[1]))) << message;
  // skip() checks the alignment too (it reads every tar's next header).
  auto source = shards::open_shard(refs[0]);
  EXPECT_TRUE(contains(error_of<FormatError>([&] { source->skip(); }), "misaligned"));

  // One tar shorter than the other.
  ScratchDir short_dir;
  write_terramesh_dataset(short_dir.path(), "val", {{kShard1, {ids[0], ids[1]}, {"S2L2A"}}}, {});
  write_terramesh_dataset(short_dir.path(), "val", {{kShard1, {ids[0]}, {"DEM"}}}, {});
  const auto short_refs = shards::list_shards(short_dir.path(), "val");
  const std::string ended = error_of<FormatError>([&] { read_all(short_refs[0]); });
  EXPECT_TRUE(contains(ended, "misaligned")) << ended;
  EXPECT_TRUE(contains(ended, short_dir.path() + "/val/DEM/" + kShard1 + " has ended")) << ended;
}

TEST_F(terramesh_layout, a_corrupt_member_names_the_member_and_the_problem) {
  ScratchDir dir;
  const auto ids = terramesh_example_ids();
  const std::string folder = dir.path() + "/val/S2RGB";
  fs::create_directories(folder);
  const auto good = example_zip("S2RGB", ids[0]);
  const std::string text = "this is not a zip archive, but a member claiming to be one";
  std::vector<std::uint8_t> truncated(good.begin(), good.begin() + good.size() / 2);
  {
    shards::TarWriter tar(folder + "/" + kShard1);
    tar.add("a.zarr.zip", good);
    tar.add("b.zarr.zip", std::vector<std::uint8_t>(text.begin(), text.end()));
    tar.add("c.zarr.zip", truncated);
    tar.close();
  }
  const auto refs = shards::list_shards(dir.path(), "val");
  auto source = shards::open_shard(refs.at(0));
  Sample sample;
  ASSERT_TRUE(source->next(sample));
  EXPECT_EQ(sample.record.key, "a");
  const std::string not_zip = error_of<FormatError>([&] { source->next(sample); });
  EXPECT_TRUE(contains(not_zip, folder + "/" + kShard1 + "/b.zarr.zip")) << not_zip;
  EXPECT_TRUE(contains(not_zip, "not a zip archive")) << not_zip;
  const std::string cut = error_of<FormatError>([&] { source->next(sample); });
  EXPECT_TRUE(contains(cut, folder + "/" + kShard1 + "/c.zarr.zip")) << cut;
  EXPECT_TRUE(contains(cut, "zip")) << cut;
}

TEST_F(terramesh_layout, a_truncated_tar_names_the_tar) {
  ScratchDir dir;
  const auto ids = terramesh_example_ids();
  write_terramesh_dataset(dir.path(), "val", {{kShard1, {ids[0], ids[1]}, {"S2L2A"}}}, {});
  const std::string tar = dir.path() + "/val/S2L2A/" + kShard1;
  fs::resize_file(tar, fs::file_size(tar) * 3 / 4);
  const auto refs = shards::list_shards(dir.path(), "val");
  const std::string message = error_of<FormatError>([&] { read_all(refs.at(0)); });
  EXPECT_TRUE(contains(message, tar)) << message;
}

TEST_F(terramesh_layout, decode_errors_name_what_and_the_problem) {
  const std::string id = terramesh_example_ids()[0];
  const std::string what = "shard.tar/k.zarr.zip";

  // A zip, but no Zarr group in it.
  {
    const std::string zip_path = "/vsimem/terramesh_test_plain.zip";
    void* zip = CPLCreateZip(zip_path.c_str(), nullptr);
    CPLCreateFileInZip(zip, "readme.txt", nullptr);
    CPLWriteFileInZip(zip, "hello", 5);
    CPLCloseFileInZip(zip);
    CPLCloseZip(zip);
    vsi_l_offset size = 0;
    GByte* data = VSIGetMemFileBuffer(zip_path.c_str(), &size, TRUE);
    const std::vector<std::uint8_t> bytes(data, data + size);
    VSIFree(data);
    const std::string message = decode_error(bytes, "S2L2A", what);
    EXPECT_TRUE(contains(message, what)) << message;
    EXPECT_TRUE(contains(message, "no Zarr group")) << message;
  }
  // A flipped byte in the middle of the zip: inside the (stored) pixel chunk.
  auto flipped = example_zip("S2L2A", id);
  flipped[flipped.size() / 2] ^= 0x5a;
  const std::string crc = decode_error(flipped, "S2L2A", what);
  EXPECT_TRUE(contains(crc, what + ": zip entry bands/0.0.0.0: CRC-32 mismatch")) << crc;

  TerraMeshZarrOptions rank5;
  rank5.rank = 5;
  EXPECT_TRUE(contains(decode_error(example_zip("DEM", id, rank5), "DEM"), "has 5 dimensions"));

  TerraMeshZarrOptions complex;
  complex.type = GDT_CFloat32;
  const std::string unsupported = decode_error(example_zip("DEM", id, complex), "DEM");
  EXPECT_TRUE(contains(unsupported, what)) << unsupported;
  EXPECT_TRUE(contains(unsupported, "unsupported data type CFloat32")) << unsupported;

  TerraMeshZarrOptions int64;
  int64.type = GDT_Int64;
  EXPECT_TRUE(
      contains(decode_error(example_zip("DEM", id, int64), "DEM"), "unsupported data type Int64"));

  TerraMeshZarrOptions series;
  series.time_steps = 2;
  EXPECT_TRUE(contains(decode_error(example_zip("DEM", id, series), "DEM"), "2 time steps"));

  TerraMeshZarrOptions no_data;
  no_data.variable = "cloud_mask";  // a name the reader takes for metadata
  const std::string none = decode_error(example_zip("DEM", id, no_data), "DEM");
  EXPECT_TRUE(contains(none, what)) << none;
  EXPECT_TRUE(contains(none, "no data variable")) << none;
}

TEST_F(terramesh_layout, damaged_zips_raise_format_errors_only) {
  const auto zip = example_zip("DEM", terramesh_example_ids()[3]);
  // Every truncation loses the end of central directory (or more).
  for (std::size_t length = 0; length < zip.size(); length += 997) {
    const std::vector<std::uint8_t> cut(zip.begin(), zip.begin() + length);
    EXPECT_FALSE(decode_error(cut, "DEM").empty()) << length;
  }
  // Flipped bytes anywhere: a FormatError or, where the flip is harmless, a good decode.
  std::uint32_t state = 12345;
  for (int i = 0; i < 300; ++i) {
    state = state * 1103515245u + 12345u;
    auto damaged = zip;
    damaged[(state >> 8) % damaged.size()] ^= static_cast<std::uint8_t>(1 + (state & 0x7f));
    try {
      decode(damaged, "DEM");
    } catch (const FormatError&) {
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Fallbacks for stores that depart from the published structure

TEST_F(terramesh_layout, decoding_falls_back_robustly) {
  const std::string id = terramesh_example_ids()[1];
  const Array expected = read_tif_array(terramesh_example_tif("S2L2A", id));
  const TifGeometry g = read_tif_geometry(terramesh_example_tif("S2L2A", id));
  const Sample published = decode(example_zip("S2L2A", id), "S2L2A");
  EXPECT_TRUE(published.arrays.at("S2L2A") == expected);
  EXPECT_EQ(published.record.key, "k");

  TerraMeshZarrOptions rank3;
  rank3.rank = 3;
  EXPECT_TRUE(decode(example_zip("S2L2A", id, rank3), "S2L2A").arrays.at("S2L2A") == expected);

  TerraMeshZarrOptions rank2;
  rank2.rank = 2;
  const Sample single = decode(example_zip("DEM", id, rank2), "DEM");
  EXPECT_TRUE(single.arrays.at("DEM") == read_tif_array(terramesh_example_tif("DEM", id)));

  TerraMeshZarrOptions renamed;
  renamed.variable = "reflectance";  // the single non-coordinate variable
  EXPECT_TRUE(decode(example_zip("S2L2A", id, renamed), "S2L2A").arrays.at("S2L2A") == expected);

  TerraMeshZarrOptions cf;
  cf.crs_variable = false;
  cf.spatial_ref = true;  // rioxarray's grid mapping
  cf.center = false;      // centre computed from the footprint
  cf.time_units = "seconds since 2000-01-01 00:00:00";
  const Sample fallback = decode(example_zip("S2L2A", id, cf), "S2L2A");
  EXPECT_EQ(fallback.record.crs, g.crs);
  EXPECT_NEAR(fallback.record.center_lon, g.center_lon, 1e-9);
  EXPECT_NEAR(fallback.record.center_lat, g.center_lat, 1e-9);
  EXPECT_EQ(fallback.record.date, published.record.date);
  EXPECT_EQ(fallback.record.date, expected_date(id));

  TerraMeshZarrOptions deflated;
  deflated.deflate_zip = true;
  const auto deflated_zip = example_zip("S2L2A", id, deflated);
  EXPECT_LT(deflated_zip.size(), example_zip("S2L2A", id).size());
  EXPECT_TRUE(decode(deflated_zip, "S2L2A").arrays.at("S2L2A") == expected);

  TerraMeshZarrOptions bare;
  bare.coordinates = false;
  bare.center = false;
  const Sample ungeoreferenced = decode(example_zip("S2L2A", id, bare), "S2L2A");
  EXPECT_TRUE(ungeoreferenced.arrays.at("S2L2A") == expected);
  EXPECT_EQ(ungeoreferenced.record.geotransform, (std::array<double, 6>{0, 1, 0, 0, 0, 1}));
  EXPECT_TRUE(std::isnan(ungeoreferenced.record.center_lon));

  // Modalities of one sample must agree in size.
  Sample sample;
  shards::decode_terramesh_zarr(example_zip("DEM", id), "DEM", "a/k.zarr.zip", sample);
  sample.record.width = 100;
  const std::string size = error_of<FormatError>([&] {
    shards::decode_terramesh_zarr(example_zip("NDVI", id), "NDVI", "b/k.zarr.zip", sample);
  });
  EXPECT_TRUE(contains(size, "b/k.zarr.zip: 224 x 224 pixels")) << size;
}

// ---------------------------------------------------------------------------------------------
// (d) the members really are BLOSC-compressed Zarr v2 stores

TEST_F(terramesh_layout, members_are_blosc_compressed_zarr_v2) {
  const std::string id = terramesh_example_ids()[0];
  const std::string member = "/vsizip//vsitar/" + root() + "/val/S2L2A/" + kShard1 + "/" +
                             terramesh_key(kShard1, "val", id) + ".zarr.zip";
  auto load = [&](const std::string& name) {
    CPLJSONDocument doc;
    EXPECT_TRUE(doc.Load(member + "/" + name)) << name;
    return doc.GetRoot();
  };
  EXPECT_EQ(load(".zgroup").GetInteger("zarr_format"), 2);
  const auto consolidated = load(".zmetadata");
  EXPECT_EQ(consolidated.GetInteger("zarr_consolidated_format"), 1);
  const auto zarray = load("bands/.zarray");
  EXPECT_EQ(zarray.GetInteger("zarr_format"), 2);
  EXPECT_EQ(zarray.GetString("dtype"), "<i2");
  EXPECT_EQ(zarray.GetObj("compressor").GetString("id"), "blosc");
  EXPECT_EQ(zarray.GetArray("shape").Size(), 4);
  EXPECT_EQ(zarray.GetArray("shape")[1].ToInteger(), 12);
  const auto dims = load("bands/.zattrs").GetArray("_ARRAY_DIMENSIONS");
  ASSERT_EQ(dims.Size(), 4);
  EXPECT_EQ(dims[0].ToString(), "time");
  EXPECT_EQ(dims[1].ToString(), "band");
  EXPECT_EQ(dims[2].ToString(), "y");
  EXPECT_EQ(dims[3].ToString(), "x");
  EXPECT_EQ(load("crs/.zarray").GetString("dtype"), "<i8");
  EXPECT_EQ(load("crs/.zattrs").GetArray("_ARRAY_DIMENSIONS").Size(), 0);
  EXPECT_EQ(load("x/.zarray").GetString("dtype"), "<f8");
  EXPECT_EQ(load("time/.zarray").GetString("dtype"), "<i8");
  EXPECT_EQ(load("band/.zarray").GetString("dtype"), "<U3");

  // The chunk is a BLOSC frame (format version 2, header sizes) of the GeoTIFF's pixels.
  const Array expected = read_tif_array(terramesh_example_tif("S2L2A", id));
  VSILFILE* file = VSIFOpenL((member + "/bands/0.0.0.0").c_str(), "rb");
  ASSERT_NE(file, nullptr);
  std::vector<std::uint8_t> chunk;
  std::uint8_t buffer[65536];
  std::size_t n = 0;
  while ((n = VSIFReadL(buffer, 1, sizeof buffer, file)) > 0)
    chunk.insert(chunk.end(), buffer, buffer + n);
  VSIFCloseL(file);
  ASSERT_GE(chunk.size(), 16u);
  EXPECT_EQ(chunk[0], 2);  // BLOSC_VERSION_FORMAT
  auto u32 = [&](std::size_t at) {
    return static_cast<std::uint32_t>(chunk[at]) | static_cast<std::uint32_t>(chunk[at + 1]) << 8 |
           static_cast<std::uint32_t>(chunk[at + 2]) << 16 |
           static_cast<std::uint32_t>(chunk[at + 3]) << 24;
  };
  EXPECT_EQ(u32(4), expected.byte_size());  // uncompressed bytes
  EXPECT_EQ(u32(12), chunk.size());         // compressed bytes
  EXPECT_LT(chunk.size(), expected.byte_size());
  const CPLCompressor* blosc = CPLGetDecompressor("blosc");
  ASSERT_NE(blosc, nullptr);
  std::vector<std::uint8_t> raw(expected.byte_size());
  void* out = raw.data();
  std::size_t out_size = raw.size();
  ASSERT_TRUE(
      blosc->pfnFunc(chunk.data(), chunk.size(), &out, &out_size, nullptr, blosc->user_data));
  EXPECT_EQ(out_size, expected.byte_size());
  EXPECT_TRUE(raw == expected.data);
}

// ---------------------------------------------------------------------------------------------
// Threads

TEST_F(terramesh_layout, decoding_is_thread_safe_and_leaves_no_vsimem_files) {
  const std::string id = terramesh_example_ids()[2];
  const auto zip = example_zip("S2L1C", id);
  const Array expected = read_tif_array(terramesh_example_tif("S2L1C", id));
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 8; ++i) {
        Sample sample;
        shards::decode_terramesh_zarr(zip, "S2L1C", "t/k.zarr.zip", sample);
        if (sample.arrays.at("S2L1C") == expected) ++good;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 32);
  char** entries = VSIReadDir("/vsimem/");
  for (int i = 0; entries && entries[i]; ++i)
    EXPECT_FALSE(contains(entries[i], "tm_terramesh_")) << entries[i];
  CSLDestroy(entries);
}

}  // namespace
}  // namespace terramind::testing
