// SampleStream: exactly-once splitting over ranks and loader threads, shuffling, augmentation
// that keeps modalities aligned, missing modalities, errors, bounded memory.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "shard_test_support.h"
#include "test_paths.h"
#include "tm/shards.h"

namespace terramind::testing {
namespace {

using shards::Array;
using shards::DType;
using shards::MissingModality;
using shards::Sample;
using shards::SampleStream;
using shards::StreamOptions;

std::vector<shards::ShardRef> make_shards(const ScratchDir& dir, int shards, int per_shard,
                                          SyntheticShards spec = {}) {
  spec.folder = dir.path();
  spec.shards = shards;
  spec.samples_per_shard = per_shard;
  return write_synthetic_shards(spec);
}

// Every sample of the stream's epoch, in delivery order.
std::vector<Sample> drain(SampleStream& stream) {
  std::vector<Sample> out;
  while (auto batch = stream.next())
    for (Sample& s : batch->samples) out.push_back(std::move(s));
  return out;
}

std::vector<std::string> keys_of(SampleStream&& stream) {
  std::vector<std::string> keys;
  for (const Sample& s : drain(stream)) keys.push_back(s.record.key);
  return keys;
}

std::vector<std::string> keys_of(const StreamOptions& options) {
  SampleStream stream(options);
  return keys_of(std::move(stream));
}

std::vector<std::string> all_keys(int count) {
  std::vector<std::string> keys;
  for (int i = 0; i < count; ++i) keys.push_back(synthetic_key(i));
  return keys;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(sample_stream, DeliversEverySampleExactlyOncePerEpochAcrossTheWorld) {
  // 7 shards: at least as many as the workers (up to 3 ranks x 2 threads): shards are dealt.
  // 2 shards: fewer than the workers from 3 up: every worker reads both and keeps every n-th.
  for (const auto& [shard_count, per_shard] : std::vector<std::pair<int, int>>{{7, 5}, {2, 9}}) {
    ScratchDir shard_dir;
    const auto shards = make_shards(shard_dir, shard_count, per_shard);
    const int total = shard_count * per_shard;
    for (int world = 1; world <= 3; ++world)
      for (int threads = 1; threads <= 2; ++threads)
        for (const std::size_t buffer : {std::size_t{0}, std::size_t{3}}) {
          SCOPED_TRACE("shards " + std::to_string(shard_count) + " world " + std::to_string(world) +
                       " threads " + std::to_string(threads) + " buffer " + std::to_string(buffer));
          std::vector<std::string> seen;
          std::int64_t delivered = 0;
          for (int rank = 0; rank < world; ++rank) {
            StreamOptions o;
            o.shards = shards;
            o.seed = 42;
            o.epoch = 3;
            o.rank = rank;
            o.world_size = world;
            o.threads = threads;
            o.shuffle_buffer = buffer;
            o.batch_size = 4;
            SampleStream stream(o);
            std::vector<std::size_t> sizes;
            while (auto batch = stream.next()) {
              sizes.push_back(batch->samples.size());
              for (const Sample& s : batch->samples) seen.push_back(s.record.key);
            }
            for (std::size_t i = 0; i + 1 < sizes.size(); ++i) EXPECT_EQ(sizes[i], 4u);
            EXPECT_FALSE(stream.next());  // stays at the end
            delivered += stream.counters().samples;
          }
          EXPECT_EQ(sorted(seen), all_keys(total));
          EXPECT_EQ(delivered, total);
        }
  }
}

TEST(sample_stream, EpochsReorderTheSameSetAndSeedAndEpochFixEachRanksSet) {
  ScratchDir dir;
  const auto shards = make_shards(dir, 6, 8);
  StreamOptions o;
  o.shards = shards;
  o.seed = 7;
  o.shuffle_buffer = 5;
  o.batch_size = 3;
  o.epoch = 0;
  const auto epoch0 = keys_of(o);
  o.epoch = 1;
  const auto epoch1 = keys_of(o);
  EXPECT_NE(epoch0, epoch1);
  EXPECT_EQ(sorted(epoch0), sorted(epoch1));
  EXPECT_EQ(sorted(epoch0), all_keys(48));
  // One loader thread: the order itself is reproducible.
  o.epoch = 0;
  EXPECT_EQ(keys_of(o), epoch0);
  // Without any shuffling the shards' own order comes out.
  StreamOptions plain;
  plain.shards = shards;
  plain.shuffle_shards = false;
  EXPECT_EQ(keys_of(plain), all_keys(48));

  // Several ranks and threads: the order across threads varies, each rank's set does not, and
  // the ranks' sets are disjoint and cover the epoch.
  for (const int shard_count : {6, 2}) {
    ScratchDir rank_dir;
    const auto rank_shards = make_shards(rank_dir, shard_count, 8);
    std::vector<std::string> world;
    for (int rank = 0; rank < 2; ++rank) {
      StreamOptions r;
      r.shards = rank_shards;
      r.seed = 11;
      r.epoch = 2;
      r.rank = rank;
      r.world_size = 2;
      r.threads = 2;
      r.shuffle_buffer = 4;
      const auto first = sorted(keys_of(r));
      EXPECT_EQ(sorted(keys_of(r)), first);
      EXPECT_FALSE(first.empty());
      world.insert(world.end(), first.begin(), first.end());
    }
    EXPECT_EQ(sorted(world), all_keys(shard_count * 8));
  }
}

TEST(sample_stream, ShardOrderDependsOnEpoch) {
  ScratchDir dir;
  const auto shards = make_shards(dir, 8, 1);
  StreamOptions o;
  o.shards = shards;
  o.seed = 3;
  std::set<std::vector<std::string>> orders;
  for (int epoch = 0; epoch < 4; ++epoch) {
    o.epoch = epoch;
    orders.insert(keys_of(o));
  }
  EXPECT_GE(orders.size(), 3u);  // 8! orders: four epochs repeating one is all but impossible
}

// Where output pixel (row, col) of a crop window at (r0, c0) of `size` came from.
struct Window {
  int row = 0, col = 0, size = 0;
  bool horizontal = false, vertical = false;
  int src_row(int r) const { return vertical ? row + size - 1 - r : row + r; }
  int src_col(int c) const { return horizontal ? col + size - 1 - c : col + c; }
};

// The window of an augmented sample, read back from its S2L2A pixels (int16: row*256 + col).
Window window_of(const Sample& sample, int size) {
  const Array& s2 = sample.arrays.at("S2L2A");
  const auto pos = [&](int r, int c) {
    const int v = static_cast<int>(s2.value(0, r, c));
    return std::pair<int, int>(v >> 8, v & 0xff);
  };
  Window w;
  w.size = size;
  const auto [r00, c00] = pos(0, 0);
  w.horizontal = pos(0, 1).second < c00;
  w.vertical = pos(1, 0).first < r00;
  w.row = w.vertical ? r00 - (size - 1) : r00;
  w.col = w.horizontal ? c00 - (size - 1) : c00;
  return w;
}

void expect_window(const Sample& sample, const Window& w) {
  const int key = synthetic_key_index(sample.record.key);
  for (const auto& [modality, array] : sample.arrays) {
    SCOPED_TRACE(sample.record.key + " " + modality);
    ASSERT_EQ(array.height, w.size);
    ASSERT_EQ(array.width, w.size);
    int mismatches = 0;
    for (int b = 0; b < array.bands; ++b)
      for (int r = 0; r < w.size; ++r)
        for (int c = 0; c < w.size; ++c)
          mismatches += array.value(b, r, c) !=
                        synthetic_value(array.dtype, key, b, w.src_row(r), w.src_col(c));
    EXPECT_EQ(mismatches, 0);
  }
}

TEST(sample_stream, CropAndFlipKeepModalitiesAlignedAndRecordsTrue) {
  ScratchDir dir;
  SyntheticShards spec;
  spec.width = 20;
  spec.height = 16;
  spec.modalities = {{"S2L2A", DType::kInt16, 3},
                     {"S1RTC", DType::kFloat32, 2},
                     {"DEM", DType::kFloat64, 1},
                     {"NDVI", DType::kInt32, 1},
                     {"LULC", DType::kUInt8, 1}};
  const auto shards = make_shards(dir, 3, 12, spec);
  StreamOptions o;
  o.shards = shards;
  o.crop = 9;
  o.horizontal_flip = true;
  o.vertical_flip = true;
  o.threads = 2;
  o.shuffle_buffer = 4;
  o.batch_size = 5;
  SampleStream stream(o);
  const auto samples = drain(stream);
  ASSERT_EQ(samples.size(), 36u);
  std::set<bool> horizontal, vertical;
  std::set<std::pair<int, int>> offsets;
  for (const Sample& s : samples) {
    ASSERT_EQ(s.arrays.size(), 5u);
    const Window w = window_of(s, 9);
    horizontal.insert(w.horizontal);
    vertical.insert(w.vertical);
    offsets.insert({w.row, w.col});
    EXPECT_GE(w.row, 0);
    EXPECT_LE(w.row, 16 - 9);
    EXPECT_GE(w.col, 0);
    EXPECT_LE(w.col, 20 - 9);
    expect_window(s, w);
    EXPECT_EQ(s.record.width, 9);
    EXPECT_EQ(s.record.height, 9);
    // The geotransform maps pixel (0, 0) of the flipped crop to its true ground corner.
    const auto original = synthetic_record(synthetic_key_index(s.record.key), 20, 16);
    const auto& gt = s.record.geotransform;
    const double x0 = original.geotransform[0] + 10.0 * w.col;
    const double y0 = original.geotransform[3] - 10.0 * w.row;
    EXPECT_DOUBLE_EQ(gt[0], w.horizontal ? x0 + 90 : x0);
    EXPECT_DOUBLE_EQ(gt[1], w.horizontal ? -10 : 10);
    EXPECT_DOUBLE_EQ(gt[3], w.vertical ? y0 - 90 : y0);
    EXPECT_DOUBLE_EQ(gt[5], w.vertical ? 10 : -10);
    EXPECT_EQ(s.record.crs, "EPSG:32633");
  }
  EXPECT_EQ(horizontal.size(), 2u);  // 36 fair coins all alike: 2^-35
  EXPECT_EQ(vertical.size(), 2u);
  EXPECT_GT(offsets.size(), 10u);

  // The draw belongs to the sample (seed, epoch, key), not to the loader that read it.
  StreamOptions one = o;
  one.threads = 1;
  one.shuffle_buffer = 0;
  SampleStream single(one);
  std::map<std::string, std::vector<std::uint8_t>> first;
  for (const Sample& s : samples) first[s.record.key] = s.arrays.at("S1RTC").data;
  for (const Sample& s : drain(single)) EXPECT_EQ(s.arrays.at("S1RTC").data, first[s.record.key]);
}

TEST(sample_stream, CropAndFlipWorkForEveryDType) {
  for (const DType dtype : {DType::kUInt8, DType::kInt8, DType::kUInt16, DType::kInt16,
                            DType::kUInt32, DType::kInt32, DType::kFloat32, DType::kFloat64}) {
    SCOPED_TRACE(shards::to_string(dtype));
    Sample sample;
    sample.record = synthetic_record(5, 7, 6);
    sample.arrays["S2L2A"] = synthetic_array({"S2L2A", dtype, 2}, 5, 6, 7);
    for (const bool h : {false, true})
      for (const bool v : {false, true}) {
        Sample s = sample;
        shards::crop_and_flip(s, 2, 3, 4, h, v);
        Window w{2, 3, 4, h, v};
        expect_window(s, w);
      }
    // Flips alone keep the extent.
    Sample s = sample;
    shards::crop_and_flip(s, 0, 0, 0, true, false);
    const Array& a = s.arrays.at("S2L2A");
    ASSERT_EQ(a.width, 7);
    EXPECT_EQ(a.value(1, 2, 0), synthetic_value(dtype, 5, 1, 2, 6));
    EXPECT_EQ(s.record.width, 7);
    EXPECT_DOUBLE_EQ(s.record.geotransform[0], sample.record.geotransform[0] + 70);
  }
  Sample s;
  s.record = synthetic_record(1, 4, 4);
  s.arrays["DEM"] = synthetic_array({"DEM", DType::kFloat32, 1}, 1, 4, 4);
  const std::string error =
      error_of<std::invalid_argument>([&] { shards::crop_and_flip(s, 1, 0, 4, false, false); });
  EXPECT_TRUE(contains(error, "does not fit")) << error;
  EXPECT_TRUE(contains(error, "s000001")) << error;
}

TEST(sample_stream, MissingModalitySkipsOrDeliversWithout) {
  ScratchDir dir;
  SyntheticShards spec;
  spec.holds = [](int key, const std::string& modality) {
    return modality != "S1RTC" || key % 3 != 0;
  };
  const auto shards = make_shards(dir, 2, 6, spec);
  StreamOptions o;
  o.shards = shards;
  o.modalities = {"s2l2a", "S1RTC"};  // any case, aliases: canonical names come back
  o.threads = 2;
  o.batch_size = 2;
  {
    SampleStream stream(o);
    std::vector<std::string> keys;
    for (const Sample& s : drain(stream)) {
      keys.push_back(s.record.key);
      EXPECT_TRUE(s.has("S2L2A"));
      EXPECT_TRUE(s.has("S1RTC"));
      EXPECT_FALSE(s.has("LULC"));  // not asked for
    }
    std::vector<std::string> expected;
    for (int i = 0; i < 12; ++i)
      if (i % 3 != 0) expected.push_back(synthetic_key(i));
    EXPECT_EQ(sorted(keys), expected);
    EXPECT_EQ(stream.counters().skipped_missing, 4);
    EXPECT_EQ(stream.counters().samples, 8);
  }
  o.missing = MissingModality::kAbsent;
  {
    SampleStream stream(o);
    const auto samples = drain(stream);
    ASSERT_EQ(samples.size(), 12u);
    for (const Sample& s : samples)
      EXPECT_EQ(s.has("S1RTC"), synthetic_key_index(s.record.key) % 3 != 0) << s.record.key;
    EXPECT_EQ(stream.counters().skipped_missing, 0);
  }
  o.modalities = {"NotAModality"};
  EXPECT_FALSE(error_of<std::invalid_argument>([&] { SampleStream stream(o); }).empty());
}

TEST(sample_stream, CropLargerThanTheSampleIsAnErrorNamingShardAndKey) {
  ScratchDir dir;
  const auto shards = make_shards(dir, 1, 3);  // 16 x 16
  StreamOptions o;
  o.shards = shards;
  o.crop = 17;
  SampleStream stream(o);
  const std::string error = error_of<std::runtime_error>([&] { drain(stream); });
  EXPECT_TRUE(contains(error, "tm-train-000000.tar")) << error;
  EXPECT_TRUE(contains(error, "s00000")) << error;
  EXPECT_TRUE(contains(error, "17")) << error;
}

TEST(sample_stream, CorruptShardIsRethrownFromNextNamingTheShard) {
  ScratchDir dir;
  SyntheticShards spec;
  spec.corrupt_sample = 13;  // in tm-train-000002.tar
  const auto shards = make_shards(dir, 4, 5, spec);
  for (const int threads : {1, 2}) {
    StreamOptions o;
    o.shards = shards;
    o.threads = threads;
    o.shuffle_buffer = 2;
    o.prefetch_batches = 1;
    SampleStream stream(o);
    const std::string error = error_of<shards::FormatError>([&] { drain(stream); });
    EXPECT_TRUE(contains(error, "tm-train-000002.tar")) << error;
    // The stream stays failed rather than pretending the epoch ended.
    EXPECT_FALSE(error_of<shards::FormatError>([&] { stream.next(); }).empty());
  }
  // A file that is not a tar at all.
  ScratchDir bad;
  {
    FILE* f = std::fopen(bad.file("tm-train-000000.tar").c_str(), "wb");
    ASSERT_TRUE(f);
    std::fputs("this is not a tar archive, far too short and without headers", f);
    std::fclose(f);
  }
  shards::ShardRef ref;
  ref.name = "tm-train-000000.tar";
  ref.path = bad.file("tm-train-000000.tar");
  StreamOptions o;
  o.shards = {ref};
  SampleStream stream(o);
  const std::string error = error_of<shards::FormatError>([&] { drain(stream); });
  EXPECT_TRUE(contains(error, "tm-train-000000.tar")) << error;
}

TEST(sample_stream, StopsCleanlyWhenTheConsumerLeavesEarly) {
  ScratchDir dir;
  const auto shards = make_shards(dir, 6, 10);
  for (const int threads : {1, 3}) {
    StreamOptions o;
    o.shards = shards;
    o.threads = threads;
    o.shuffle_buffer = 4;
    o.prefetch_batches = 1;
    {
      SampleStream stream(o);  // never read
    }
    SampleStream stream(o);
    ASSERT_TRUE(stream.next());
    ASSERT_TRUE(stream.next());
  }  // the destructors join loaders blocked on a full queue
}

TEST(sample_stream, BatchesAndDropLast) {
  ScratchDir dir;
  const auto shards = make_shards(dir, 2, 5);
  StreamOptions o;
  o.shards = shards;
  o.batch_size = 4;
  o.threads = 2;
  std::vector<std::size_t> sizes;
  {
    SampleStream stream(o);
    while (auto b = stream.next()) sizes.push_back(b->samples.size());
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{4, 4, 2}));
  o.drop_last = true;
  sizes.clear();
  SampleStream stream(o);
  while (auto b = stream.next()) sizes.push_back(b->samples.size());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{4, 4}));
  EXPECT_EQ(stream.counters().samples, 8);

  StreamOptions none;
  SampleStream empty(none);  // no shards: an empty epoch
  EXPECT_FALSE(empty.next());
}

TEST(sample_stream, PeakBufferedBytesGrowWithTheShuffleBuffer) {
  ScratchDir dir;
  const auto shards = make_shards(dir, 4, 16);
  // 16 x 16: S2L2A 3 x int16, S1RTC 2 x float32, LULC uint8.
  const std::size_t sample_bytes = 16 * 16 * (3 * 2 + 2 * 4 + 1);
  std::vector<std::size_t> peaks;
  for (const std::size_t buffer : {std::size_t{0}, std::size_t{8}, std::size_t{32}}) {
    StreamOptions o;
    o.shards = shards;
    o.shuffle_buffer = buffer;
    o.batch_size = 2;
    o.prefetch_batches = 1;
    SampleStream stream(o);
    EXPECT_EQ(drain(stream).size(), 64u);
    const auto c = stream.counters();
    // The bound: the shuffle buffer, one sample waiting in the loader, the queue.
    EXPECT_LE(c.peak_buffered_bytes, (buffer + 1 + 2) * sample_bytes);
    EXPECT_GE(c.peak_buffered_bytes, std::max<std::size_t>(buffer, 1) * sample_bytes);
    EXPECT_EQ(c.decoded_bytes, 64 * sample_bytes);
    // Compressed member bytes: every record and array read, less than decoded (gzip).
    EXPECT_GT(c.bytes_read, 0u);
    EXPECT_LT(c.bytes_read, c.decoded_bytes + 64 * 1024);
    peaks.push_back(c.peak_buffered_bytes);
  }
  EXPECT_LT(peaks[0], peaks[1]);
  EXPECT_LT(peaks[1], peaks[2]);
}

TEST(sample_stream, RejectsInvalidOptions) {
  const auto error = [](const std::function<void(StreamOptions&)>& change) {
    StreamOptions o;
    change(o);
    return error_of<std::invalid_argument>([&] { SampleStream stream(o); });
  };
  EXPECT_TRUE(contains(error([](StreamOptions& o) { o.world_size = 0; }), "world_size"));
  EXPECT_TRUE(contains(error([](StreamOptions& o) { o.rank = -1; }), "rank"));
  EXPECT_TRUE(contains(error([](StreamOptions& o) {
                         o.world_size = 2;
                         o.rank = 2;
                       }),
                       "rank"));
  EXPECT_TRUE(contains(error([](StreamOptions& o) { o.threads = 0; }), "threads"));
  EXPECT_TRUE(contains(error([](StreamOptions& o) { o.batch_size = 0; }), "batch_size"));
  EXPECT_TRUE(contains(error([](StreamOptions& o) { o.crop = -1; }), "crop"));
}

}  // namespace
}  // namespace terramind::testing
