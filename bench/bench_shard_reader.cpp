// bench_shard_reader: how fast SampleStream delivers samples from tm shards, against the raw
// sequential read speed of the same files, and what its shuffle buffer costs in memory.
// Prints figures; not a test.
//
// Each stream measurement runs in a forked child process so that its peak RSS (getrusage
// ru_maxrss) is its own and not the high-water mark of an earlier, larger configuration.
#include <cpl_conv.h>
#include <cpl_vsi.h>
#include <gdal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tm/shards.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;
using namespace terramind::shards;
using Clock = std::chrono::steady_clock;

namespace {

constexpr double kMB = 1e6;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
}

long peak_rss_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;  // KiB on Linux
}

template <typename T>
std::vector<T> parse_list(const std::string& text, const char* what) {
  std::vector<T> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::stringstream one(item);
    T value{};
    if (!(one >> value) || value < 0)
      throw std::invalid_argument(std::string("--") + what + ": not a list of numbers: " + text);
    out.push_back(value);
  }
  if (out.empty()) throw std::invalid_argument(std::string("--") + what + ": empty list");
  return out;
}

// ---- synthetic shards with realistic modalities, sizes and (in)compressibility ----

struct Rng {  // xorshift64*
  std::uint64_t s;
  std::uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545f4914f6cdd1dULL;
  }
  double uniform() { return ((next() >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
};

template <typename T>
Array make_array(DType dtype, int bands, int size, const std::function<T(int, int, int)>& f) {
  Array a;
  a.dtype = dtype;
  a.bands = bands;
  a.height = size;
  a.width = size;
  a.data.resize(a.byte_size());
  T* out = reinterpret_cast<T*>(a.data.data());
  for (int b = 0; b < bands; ++b)
    for (int r = 0; r < size; ++r)
      for (int c = 0; c < size; ++c) *out++ = f(b, r, c);
  return a;
}

// Fields of ~28 px with their own land cover and reflectance; texture and sensor noise on top.
Sample synthetic_sample(int index, int size) {
  Sample s;
  char key[32];
  std::snprintf(key, sizeof key, "b%06d", index);
  SampleRecord& rec = s.record;
  rec.key = key;
  rec.split = "train";
  rec.crs = "EPSG:32633";
  rec.geotransform = {500000.0 + 2240.0 * (index % 100),  10, 0,
                      4000000.0 - 2240.0 * (index / 100), 0,  -10};
  rec.width = rec.height = size;
  rec.date = "2021-06-01";
  Rng rng{0x9e3779b97f4a7c15ULL * (index + 1)};
  const auto field = [&](int r, int c) {
    std::uint64_t h = (static_cast<std::uint64_t>(r / 28) * 73856093ULL) ^
                      (static_cast<std::uint64_t>(c / 28) * 19349663ULL) ^
                      (static_cast<std::uint64_t>(index) * 83492791ULL);
    h ^= h >> 13;
    h *= 0x5bd1e995ULL;
    return h ^ (h >> 15);
  };
  s.arrays["S2L2A"] = make_array<std::int16_t>(DType::kInt16, 12, size, [&](int b, int r, int c) {
    const double base = 300 + 250 * b + static_cast<double>(field(r, c) % 1500);
    const double texture = 60 * std::sin(0.21 * c + 0.13 * r + b);
    return static_cast<std::int16_t>(base + texture + static_cast<int>(rng.next() % 97) - 48);
  });
  s.arrays["S1RTC"] = make_array<float>(DType::kFloat32, 2, size, [&](int b, int r, int c) {
    const double mean = (b == 0 ? 0.02 : 0.005) * (1 + static_cast<double>(field(r, c) % 10));
    double speckle = 0;  // 4-look gamma speckle
    for (int i = 0; i < 4; ++i) speckle -= std::log(rng.uniform());
    return static_cast<float>(mean * speckle / 4);
  });
  s.arrays["DEM"] = make_array<std::int16_t>(DType::kInt16, 1, size, [&](int, int r, int c) {
    return static_cast<std::int16_t>(250 + 40 * std::sin(r / 37.0) + 25 * std::cos(c / 53.0) +
                                     static_cast<int>(rng.next() % 3));
  });
  s.arrays["LULC"] = make_array<std::uint8_t>(DType::kUInt8, 1, size, [&](int, int r, int c) {
    return static_cast<std::uint8_t>(1 + field(r, c) % 9);
  });
  s.arrays["NDVI"] = make_array<float>(DType::kFloat32, 1, size, [&](int, int r, int c) {
    const double base = -0.1 + static_cast<double>(field(r, c) % 90) / 100.0;
    return static_cast<float>(base + 0.02 * (rng.uniform() - 0.5));
  });
  for (const auto& entry : s.arrays) rec.sources[entry.first] = "synthetic";
  return s;
}

void write_shard(const std::string& path, int first, int count, int size, int level) {
  TarWriter tar(path);
  for (int i = first; i < first + count; ++i) {
    const Sample s = synthetic_sample(i, size);
    const std::string json = to_json(s.record);
    tar.add(record_member_name(s.record.key), reinterpret_cast<const std::uint8_t*>(json.data()),
            json.size());
    for (const auto& [modality, array] : s.arrays) {
      const auto npy = encode_npy(array);
      tar.add(array_member_name(s.record.key, modality),
              gzip_compress(npy.data(), npy.size(), level));
    }
  }
  tar.close();
}

// Writes `samples` samples into <folder>/train/bench-train-NNNNNN.tar, two writers at a time.
void make_shards(const std::string& folder, int samples, int per_shard, int size, int level) {
  fs::create_directories(folder + "/train");
  const int shards = (samples + per_shard - 1) / per_shard;
  std::vector<std::thread> writers;
  std::exception_ptr error;
  std::mutex error_mutex;
  const unsigned parallel = std::max(1u, std::min(2u, std::thread::hardware_concurrency()));
  for (unsigned w = 0; w < parallel; ++w)
    writers.emplace_back([&, w] {
      try {
        for (int s = static_cast<int>(w); s < shards; s += static_cast<int>(parallel)) {
          char name[64];
          std::snprintf(name, sizeof name, "/train/bench-train-%06d.tar", s);
          const int first = s * per_shard;
          write_shard(folder + name, first, std::min(per_shard, samples - first), size, level);
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    });
  for (auto& t : writers) t.join();
  if (error) std::rethrow_exception(error);
}

// ---- measurements ----

std::vector<std::string> shard_files(const ShardRef& shard) {
  if (shard.layout == Layout::kTmShards) return {shard.path};
  std::vector<std::string> files;
  for (const auto& entry : shard.modality_paths) files.push_back(entry.second);
  return files;
}

std::uint64_t file_size(const std::string& path) {
  VSIStatBufL st;
  return VSIStatL(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

// Reads every file in 4 MiB blocks; the bytes read.
std::uint64_t raw_read(const std::vector<ShardRef>& shards) {
  std::vector<char> block(std::size_t{4} << 20);
  std::uint64_t total = 0;
  for (const ShardRef& shard : shards)
    for (const std::string& path : shard_files(shard)) {
      VSILFILE* f = VSIFOpenL(path.c_str(), "rb");
      if (!f) throw std::runtime_error(path + ": cannot open");
      std::size_t n;
      while ((n = VSIFReadL(block.data(), 1, block.size(), f)) > 0) total += n;
      VSIFCloseL(f);
    }
  return total;
}

// Runs `body` in a child process (its own peak RSS); false when it failed.
bool in_child(const std::function<void()>& body) {
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    int rc = 0;
    try {
      body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench_shard_reader: %s\n", e.what());
      rc = 1;
    }
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(rc);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

struct StreamRun {
  std::int64_t samples = 0;
  double seconds = 0;
  SampleStream::Counters counters;
};

StreamRun stream_epoch(const StreamOptions& options) {
  const auto t0 = Clock::now();
  SampleStream stream(options);
  StreamRun run;
  while (auto batch = stream.next())
    run.samples += static_cast<std::int64_t>(batch->samples.size());
  run.seconds = seconds_since(t0);
  run.counters = stream.counters();
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  std::string shards_dir, split = "train", threads_text = "1,2", buffers_text = "0,64,256,1024";
  int make = 0, per_shard = 64, size = 224, level = 6, batch = 16, crop = 0, sweep_threads = 1;
  bool keep = false;
  po::options_description options("bench_shard_reader: SampleStream throughput and memory");
  options.add_options()("help,h", "show this help")(
      "shards", po::value(&shards_dir), "a tm shards folder (or TerraMesh root), via list_shards")(
      "split", po::value(&split)->default_value("train"), "the split to read with --shards")(
      "make", po::value(&make), "write N synthetic samples into a temporary folder and read those")(
      "per-shard", po::value(&per_shard)->default_value(64), "samples per shard with --make")(
      "size", po::value(&size)->default_value(224), "sample size in pixels with --make")(
      "level", po::value(&level)->default_value(6), "gzip level with --make")(
      "keep", po::bool_switch(&keep), "keep the --make folder")(
      "threads", po::value(&threads_text)->default_value("1,2"),
      "loader thread counts to measure (comma separated), shuffle buffer 0")(
      "buffer", po::value(&buffers_text)->default_value("0,64,256,1024"),
      "shuffle buffer sizes to measure (comma separated)")(
      "sweep-threads", po::value(&sweep_threads)->default_value(1),
      "loader threads for the shuffle buffer sweep")("batch", po::value(&batch)->default_value(16),
                                                     "batch size")(
      "crop", po::value(&crop)->default_value(0), "random crop size (0: none)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, options), vm);
    if (vm.count("help")) {
      std::cout << options;
      return 0;
    }
    po::notify(vm);
    if (shards_dir.empty() == (make == 0)) throw po::error("give either --shards DIR or --make N");
  } catch (const po::error& e) {
    std::cerr << "bench_shard_reader: " << e.what() << "\n" << options;
    return 2;
  }
  std::string made;
  int rc = 0;
  try {
    const auto threads = parse_list<int>(threads_text, "threads");
    const auto buffers = parse_list<std::size_t>(buffers_text, "buffer");
    GDALAllRegister();  // the TerraMesh layout reads Zarr through GDAL's driver
    if (make > 0) {
      char pattern[] = "/tmp/bench_shards_XXXXXX";
      if (!mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
      made = pattern;
      const auto t0 = Clock::now();
      // In a child: the parent's RSS stays small for the children forked below.
      if (!in_child([&] { make_shards(made, make, per_shard, size, level); }))
        throw std::runtime_error("writing the synthetic shards failed");
      std::printf(
          "made %d synthetic %dx%d samples (S2L2A int16 x12, S1RTC float32 x2, DEM int16, "
          "LULC uint8, NDVI float32; gzip level %d, %d per shard) in %.1f s into %s\n",
          make, size, size, level, per_shard, seconds_since(t0), made.c_str());
      shards_dir = made + "/train";
      split.clear();
    }
    const std::vector<ShardRef> shards = list_shards(shards_dir, split);
    std::uint64_t compressed = 0;
    for (const ShardRef& shard : shards)
      for (const std::string& path : shard_files(shard)) compressed += file_size(path);
    std::printf("%zu shards, %.1f MB on disk; %u hardware threads\n", shards.size(),
                compressed / kMB, std::thread::hardware_concurrency());

    for (int pass = 1; pass <= 2; ++pass) {
      const auto t0 = Clock::now();
      const std::uint64_t bytes = raw_read(shards);
      const double s = seconds_since(t0);
      std::printf(
          "raw sequential read (VSIFReadL, 4 MiB blocks), pass %d%s: %.1f MB in %.2f s, "
          "%.0f MB/s\n",
          pass, pass == 2 ? " (page cache warm)" : "", bytes / kMB, s, bytes / kMB / s);
    }

    const auto report = [&](const StreamOptions& o, const char* label) {
      in_child([&] {
        const long start_kb = peak_rss_kb();
        const double cpu0 = cpu_seconds();
        const StreamRun run = stream_epoch(o);
        const double cpu = cpu_seconds() - cpu0;
        const long peak_kb = peak_rss_kb();
        std::printf(
            "%s threads=%d buffer=%zu batch=%d%s: %lld samples in %.2f s: %.1f samples/s, "
            "%.0f MB/s compressed, %.0f MB/s decoded; CPU %.2f s (%.2f cores busy); "
            "peak buffered %.1f MB; peak RSS %.1f MB (%.1f MB at start)\n",
            label, o.threads, o.shuffle_buffer, o.batch_size,
            o.crop > 0 ? (" crop=" + std::to_string(o.crop)).c_str() : "",
            static_cast<long long>(run.samples), run.seconds, run.samples / run.seconds,
            run.counters.bytes_read / kMB / run.seconds,
            run.counters.decoded_bytes / kMB / run.seconds, cpu, cpu / run.seconds,
            run.counters.peak_buffered_bytes / kMB, peak_kb / 1024.0, start_kb / 1024.0);
      });
    };
    StreamOptions base;
    base.shards = shards;
    base.batch_size = batch;
    base.crop = crop;
    base.seed = 1;
    std::printf(
        "(compressed MB/s: shard member bytes read over the epoch's time; decoded: the "
        "array bytes inflated; warm page cache)\n");
    for (const int t : threads) {
      StreamOptions o = base;
      o.threads = t;
      report(o, "stream");
    }
    for (const std::size_t b : buffers) {
      StreamOptions o = base;
      o.threads = sweep_threads;
      o.shuffle_buffer = b;
      report(o, "shuffle");
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_shard_reader: " << e.what() << "\n";
    rc = 1;
  }
  if (!made.empty() && !keep) {
    std::error_code ec;
    fs::remove_all(made, ec);
  }
  return rc;
}
