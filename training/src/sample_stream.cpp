// sample_stream.cpp — SampleStream: the epoch's shard order, the split over ranks and loader
// threads, per-thread shuffle buffers, augmentation and a bounded queue feeding batches.
//
// Memory is bounded by threads * (shuffle_buffer + 1) samples plus the queue's
// max(1, prefetch_batches) * batch_size samples: each loader holds its shuffle buffer and at
// most one sample waiting for room in the queue; the consumer takes samples out of the queue
// one batch at a time.
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <initializer_list>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tm/registry.h"
#include "tm/shards.h"

namespace terramind::shards {
namespace {

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// An order-sensitive hash of the values, the seed of every random stream here: the same on
// every platform and every rank (std::hash and the <random> distributions are not portable).
std::uint64_t mix(std::initializer_list<std::uint64_t> values) {
  std::uint64_t h = 0x2545f4914f6cdd1dULL;
  for (const std::uint64_t v : values) h = splitmix64(h ^ splitmix64(v));
  return h;
}

std::uint64_t fnv1a(const std::string& text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const unsigned char c : text) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

// Uniform in [0, n) by rejection (n >= 1); portable, unlike std::uniform_int_distribution.
std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t n) {
  const std::uint64_t limit =
      std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % n;
  std::uint64_t x;
  do x = rng();
  while (x >= limit);
  return x % n;
}

// Salts separating the random streams drawn from the same seed and epoch.
constexpr std::uint64_t kShardOrderSalt = 0x5348415244ULL;  // "SHARD"
constexpr std::uint64_t kShuffleSalt = 0x425546ULL;         // "BUF"
constexpr std::uint64_t kAugmentSalt = 0x415547ULL;         // "AUG"

std::size_t sample_bytes(const Sample& sample) {
  std::size_t bytes = 0;
  for (const auto& entry : sample.arrays) bytes += entry.second.data.size();
  for (const auto& entry : sample.tokens) bytes += entry.second.data.size();
  return bytes;
}

void validate(const StreamOptions& o) {
  const auto fail = [](const std::string& what) {
    throw std::invalid_argument("SampleStream: " + what);
  };
  if (o.world_size < 1) fail("world_size must be at least 1, not " + std::to_string(o.world_size));
  if (o.rank < 0 || o.rank >= o.world_size)
    fail("rank must be in [0, world_size) = [0, " + std::to_string(o.world_size) + "), not " +
         std::to_string(o.rank));
  if (o.threads < 1) fail("threads must be at least 1, not " + std::to_string(o.threads));
  if (o.batch_size < 1) fail("batch_size must be at least 1, not " + std::to_string(o.batch_size));
  if (o.crop < 0) fail("crop must be 0 (none) or positive, not " + std::to_string(o.crop));
  if (!o.token_modalities.empty() && (o.crop > 0 || o.vertical_flip))
    fail(
        "token arrays cannot be cropped or flipped vertically (their grid is the tokenizer's); "
        "only horizontal flips are possible, from shards tokenised with --flips");
  if (o.prefetch_batches < 0)
    fail("prefetch_batches must not be negative, not " + std::to_string(o.prefetch_batches));
}

std::string shard_label(const ShardRef& shard) {
  return shard.name.empty() ? shard.path : shard.name;
}

}  // namespace

struct SampleStream::State {
  StreamOptions options;
  std::vector<ShardRef> order;  // this epoch's shard order (the same on every rank)
  std::size_t queue_capacity = 1;

  mutable std::mutex mutex;
  std::condition_variable not_empty;  // consumer waits: a sample, the end, or an error
  std::condition_variable not_full;   // loaders wait: room in the queue, or stop
  std::deque<std::pair<Sample, std::size_t>> queue;  // samples with their byte size
  int running = 0;                                   // loaders not yet finished
  bool stop = false;
  std::exception_ptr error;
  bool ended = false;  // next() has returned nullopt
  Counters counters;
  std::size_t buffered_bytes = 0;  // decoded samples held by buffers, loaders and queue

  std::vector<std::thread> threads;

  void hold(std::size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex);
    buffered_bytes += bytes;
    counters.peak_buffered_bytes = std::max(counters.peak_buffered_bytes, buffered_bytes);
  }

  void fail(std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!error) error = std::move(e);
    stop = true;
    not_full.notify_all();
    not_empty.notify_all();
  }

  // Waits for room; false when stopping.
  bool push(Sample&& sample, std::size_t bytes) {
    std::unique_lock<std::mutex> lock(mutex);
    not_full.wait(lock, [&] { return stop || queue.size() < queue_capacity; });
    if (stop) return false;
    queue.emplace_back(std::move(sample), bytes);
    not_empty.notify_one();
    return true;
  }

  bool stopping() {
    std::lock_guard<std::mutex> lock(mutex);
    return stop;
  }

  void join() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    not_full.notify_all();
    not_empty.notify_all();
    for (std::thread& t : threads)
      if (t.joinable()) t.join();
  }

  void augment(Sample& sample) {
    const StreamOptions& o = options;
    if (o.crop == 0 && !o.horizontal_flip && !o.vertical_flip) return;
    // The sample's extent: that of its arrays, which must agree (the record's when it has none).
    int height = sample.record.height, width = sample.record.width;
    bool first = true;
    for (const auto& [modality, array] : sample.arrays) {
      if (!first && (array.height != height || array.width != width))
        throw FormatError(sample.shard + ": sample " + sample.record.key +
                          " cannot be augmented: its modalities differ in size (" + modality +
                          " is " + std::to_string(array.width) + "x" +
                          std::to_string(array.height) + ", others " + std::to_string(width) + "x" +
                          std::to_string(height) + ")");
      height = array.height;
      width = array.width;
      first = false;
    }
    if (o.crop > 0 && (height < o.crop || width < o.crop))
      throw std::runtime_error(sample.shard + ": sample " + sample.record.key + " is " +
                               std::to_string(width) + "x" + std::to_string(height) +
                               ", smaller than the crop of " + std::to_string(o.crop) + "x" +
                               std::to_string(o.crop));
    // One draw per sample from (seed, epoch, key): the same augmentation whatever the number
    // of ranks and threads, and whichever loader reads the sample.
    std::mt19937_64 rng(
        mix({o.seed, static_cast<std::uint64_t>(o.epoch), kAugmentSalt, fnv1a(sample.record.key)}));
    int row = 0, col = 0;
    if (o.crop > 0) {
      row = static_cast<int>(uniform_below(rng, static_cast<std::uint64_t>(height - o.crop) + 1));
      col = static_cast<int>(uniform_below(rng, static_cast<std::uint64_t>(width - o.crop) + 1));
    }
    const bool horizontal = o.horizontal_flip && (rng() >> 63) != 0;
    const bool vertical = o.vertical_flip && (rng() >> 63) != 0;
    crop_and_flip(sample, row, col, o.crop, horizontal, vertical);
    if (o.horizontal_flip)
      for (auto& [modality, tokens] : sample.tokens) {
        if (tokens.bands < 2)
          throw FormatError(sample.shard + ": sample " + sample.record.key + ": the " + modality +
                            " tokens have no flipped view (tokenise with `tm_tokenize_shards "
                            "--flips` to train with horizontal flips)");
        select_view(tokens, horizontal ? 1 : 0);
      }
  }

  // One view of a token array (views x grid_h x grid_w) as a 1 x grid_h x grid_w array.
  static void select_view(Array& tokens, int view) {
    const std::size_t plane = static_cast<std::size_t>(tokens.height) *
                              static_cast<std::size_t>(tokens.width) * dtype_size(tokens.dtype);
    if (view > 0)
      std::copy(tokens.data.begin() + static_cast<std::ptrdiff_t>(plane * view),
                tokens.data.begin() + static_cast<std::ptrdiff_t>(plane * (view + 1)),
                tokens.data.begin());
    tokens.data.resize(plane);
    tokens.bands = 1;
  }

  // Without flips the stored view is the one delivered.
  void first_views(Sample& sample) const {
    if (options.horizontal_flip) return;
    for (auto& entry : sample.tokens)
      if (entry.second.bands > 1) select_view(entry.second, 0);
  }

  void load(int thread) {
    const StreamOptions& o = options;
    const std::uint64_t workers = static_cast<std::uint64_t>(o.world_size) * o.threads;
    const std::uint64_t id = static_cast<std::uint64_t>(o.rank) * o.threads + thread;
    std::mt19937_64 rng(
        mix({o.seed, static_cast<std::uint64_t>(o.epoch), kShuffleSalt,
             static_cast<std::uint64_t>(o.rank), static_cast<std::uint64_t>(thread)}));
    std::vector<std::pair<Sample, std::size_t>> buffer;
    buffer.reserve(o.shuffle_buffer);

    // Hands a sample to the shuffle buffer (which may evict another to the queue) or, without
    // one, straight to the queue. False when stopping.
    const auto emit = [&](Sample&& sample) {
      const std::size_t bytes = sample_bytes(sample);
      hold(bytes);
      if (o.shuffle_buffer == 0) return push(std::move(sample), bytes);
      if (buffer.size() < o.shuffle_buffer) {
        buffer.emplace_back(std::move(sample), bytes);
        return true;
      }
      auto& slot = buffer[uniform_below(rng, buffer.size())];
      std::pair<Sample, std::size_t> evicted(std::move(sample), bytes);
      std::swap(slot, evicted);
      return push(std::move(evicted.first), evicted.second);
    };

    const bool split_shards = order.size() >= workers;
    std::uint64_t index = 0;  // running sample index over the epoch's shards (shared regime)
    for (std::size_t s = 0; s < order.size(); ++s) {
      if (split_shards && s % workers != id) continue;
      const ShardRef& shard = order[s];
      try {
        std::unique_ptr<SampleSource> source = open_shard(shard, o.modalities, o.token_modalities);
        std::uint64_t read_before = 0;
        for (;;) {
          if (stopping()) return;
          if (!split_shards && index % workers != id) {
            if (!source->skip()) break;
            ++index;
            continue;
          }
          Sample sample;
          if (!source->next(sample)) break;
          ++index;
          if (sample.shard.empty()) sample.shard = shard_label(shard);
          std::uint64_t decoded = 0;
          for (const auto& entry : sample.arrays) decoded += entry.second.data.size();
          for (const auto& entry : sample.tokens) decoded += entry.second.data.size();
          const std::uint64_t read_now = source->bytes_read();
          const std::uint64_t read = read_now - read_before;
          read_before = read_now;
          bool missing = false;
          if (o.missing == MissingModality::kSkip)
            for (const std::string& m : o.modalities) missing = missing || !sample.has(m);
          if (o.missing == MissingModality::kSkip)
            for (const std::string& m : o.token_modalities)
              missing = missing || !sample.has_tokens(m);
          {
            std::lock_guard<std::mutex> lock(mutex);
            counters.bytes_read += read;
            counters.decoded_bytes += decoded;
            if (missing) ++counters.skipped_missing;
          }
          if (missing) continue;
          first_views(sample);
          augment(sample);
          if (!emit(std::move(sample))) return;
        }
      } catch (const FormatError& e) {
        // The header promises messages naming the shard; add it when the source did not.
        const std::string label = shard_label(shard);
        if (std::string(e.what()).find(label) == std::string::npos)
          throw FormatError(label + ": " + e.what());
        throw;
      }
    }
    // Drain the buffer in random order.
    while (!buffer.empty()) {
      const std::size_t pick = uniform_below(rng, buffer.size());
      std::pair<Sample, std::size_t> out = std::move(buffer[pick]);
      if (pick + 1 != buffer.size()) buffer[pick] = std::move(buffer.back());
      buffer.pop_back();
      if (!push(std::move(out.first), out.second)) return;
    }
  }

  void run(int thread) {
    try {
      load(thread);
    } catch (...) {
      fail(std::current_exception());
    }
    std::lock_guard<std::mutex> lock(mutex);
    --running;
    not_empty.notify_all();
  }
};

SampleStream::SampleStream(StreamOptions options) : state_(std::make_unique<State>()) {
  validate(options);
  State& s = *state_;
  s.options = std::move(options);
  // Canonical names (aliases and any case accepted; an unknown name is an invalid_argument),
  // so that the missing-modality check matches the sources' array names.
  for (std::string& m : s.options.modalities) m = ModalityRegistry::instance().get(m).name;
  for (std::string& m : s.options.token_modalities) m = ModalityRegistry::instance().get(m).name;
  const StreamOptions& o = s.options;
  s.order = o.shards;
  if (o.shuffle_shards && s.order.size() > 1) {
    // Fisher-Yates from (seed, epoch) alone: every rank computes the same order.
    std::mt19937_64 rng(mix({o.seed, static_cast<std::uint64_t>(o.epoch), kShardOrderSalt}));
    for (std::size_t i = s.order.size() - 1; i > 0; --i)
      std::swap(s.order[i], s.order[uniform_below(rng, i + 1)]);
  }
  s.queue_capacity = static_cast<std::size_t>(std::max(1, o.prefetch_batches)) *
                     static_cast<std::size_t>(o.batch_size);
  s.running = o.threads;
  s.threads.reserve(static_cast<std::size_t>(o.threads));
  try {
    for (int t = 0; t < o.threads; ++t) s.threads.emplace_back([&s, t] { s.run(t); });
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(s.mutex);
      s.running -= o.threads - static_cast<int>(s.threads.size());
    }
    s.join();
    throw;
  }
}

SampleStream::~SampleStream() { state_->join(); }

std::optional<Batch> SampleStream::next() {
  State& s = *state_;
  const StreamOptions& o = s.options;
  if (s.ended) return std::nullopt;
  Batch batch;
  batch.samples.reserve(static_cast<std::size_t>(o.batch_size));
  std::exception_ptr error;
  {
    std::unique_lock<std::mutex> lock(s.mutex);
    while (static_cast<int>(batch.samples.size()) < o.batch_size) {
      s.not_empty.wait(lock, [&] { return s.error || !s.queue.empty() || s.running == 0; });
      if (s.error) break;
      if (s.queue.empty()) break;  // every loader finished
      batch.samples.push_back(std::move(s.queue.front().first));
      s.buffered_bytes -= s.queue.front().second;
      s.queue.pop_front();
      s.not_full.notify_one();
    }
    error = s.error;
    if (!error) {
      const bool short_batch = static_cast<int>(batch.samples.size()) < o.batch_size;
      if (batch.samples.empty() || (short_batch && o.drop_last)) {
        s.ended = true;
      } else {
        s.counters.samples += static_cast<std::int64_t>(batch.samples.size());
        return batch;
      }
    }
  }
  // The end of the epoch or an error: the loaders have finished or are told to stop.
  s.join();
  if (error) std::rethrow_exception(error);
  return std::nullopt;
}

SampleStream::Counters SampleStream::counters() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->counters;
}

}  // namespace terramind::shards
