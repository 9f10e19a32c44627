// tm_plugin_soak: a long-running concurrency check of the TM driver, not a timed test.
//
// P worker processes, each with T threads; every thread owns its datasets (one per target, as
// GDAL 3.6 requires), reopens them now and then, and reads random windows of random bands and
// overview levels for --duration seconds. Every read is compared with a single-threaded read of
// the whole raster made by the same process before the threads start; the processes compare their
// references with each other. Small window and block caches (--cache-mb, --gdal-cache-mb) keep
// the plugin generating and evicting throughout. Each worker reports reads, mismatches, errors
// and its resident memory every --report seconds.
//
//   tm_plugin_soak [--duration 180] [--threads 4] [--processes 2] [--report 15] [--cache-mb 64]
//                  [--gdal-cache-mb 32] [--reopen-every 100] [--max-window 300] [--seed 7]
//                  [--corrupt-reference 1]   (self-check: flips the S1GRD VV reference, must fail)
//
// Uses the synthetic runtime and the bundled sample scene (tests/gdal_plugin); exit status 0 when
// every read matched and nothing failed. ctest runs it briefly (gdal_plugin_soak_brief).
#include <gdal_priv.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "plugin_test_support.h"
#include "test_paths.h"

using namespace terramind::testing;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  double duration_s = 180;
  int threads = 4;
  int processes = 2;
  double report_s = 15;
  int cache_mb = 64;
  int gdal_cache_mb = 32;
  int reopen_every = 100;
  int max_window = 300;
  unsigned seed = 7;
  bool corrupt_reference = false;  // self-check: a wrong reference must show as mismatches
  int worker = -1;                 // >= 0: this process is worker number `worker`
};

[[noreturn]] void usage(const char* message) {
  std::fprintf(stderr,
               "tm_plugin_soak: %s\nusage: tm_plugin_soak [--duration S] [--threads N] "
               "[--processes N] [--report S] [--cache-mb N] [--gdal-cache-mb N] "
               "[--reopen-every N] [--max-window N] [--seed N] [--corrupt-reference 1]\n",
               message);
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage(("missing value after " + flag).c_str());
    const char* value = argv[++i];
    char* end = nullptr;
    const double number = std::strtod(value, &end);
    if (end == value || *end != '\0' || number < 0) usage(("bad value for " + flag).c_str());
    if (flag == "--duration")
      o.duration_s = number;
    else if (flag == "--threads")
      o.threads = static_cast<int>(number);
    else if (flag == "--processes")
      o.processes = static_cast<int>(number);
    else if (flag == "--report")
      o.report_s = number;
    else if (flag == "--cache-mb")
      o.cache_mb = static_cast<int>(number);
    else if (flag == "--gdal-cache-mb")
      o.gdal_cache_mb = static_cast<int>(number);
    else if (flag == "--reopen-every")
      o.reopen_every = static_cast<int>(number);
    else if (flag == "--max-window")
      o.max_window = static_cast<int>(number);
    else if (flag == "--seed")
      o.seed = static_cast<unsigned>(number);
    else if (flag == "--worker")
      o.worker = static_cast<int>(number);
    else if (flag == "--corrupt-reference")
      o.corrupt_reference = number != 0;
    else
      usage(("unknown option " + flag).c_str());
  }
  if (o.threads < 1 || o.max_window < 1 || o.report_s <= 0)
    usage("threads, max-window, report > 0");
  return o;
}

double rss_mb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
  return -1;
}

const std::vector<std::string> kTargets = {"S1GRD", "LULC"};

std::string connection(const Options& o, const std::string& target, int cache_mb) {
  return sample_connection(
      target, ":seed=" + std::to_string(o.seed) + ":cache_mb=" + std::to_string(cache_mb));
}

// One level of one target: its size and every band in the band's own type.
struct Level {
  int width = 0, height = 0, pixel_bytes = 0;
  std::vector<std::vector<unsigned char>> bands;
};
using Reference = std::map<std::string, std::vector<Level>>;  // target -> level 0, overviews

GDALRasterBand* band_at(GDALDataset* ds, int band, int level) {
  GDALRasterBand* full = ds->GetRasterBand(band);
  return level == 0 ? full : full->GetOverview(level - 1);
}

// Made with a window cache that holds the whole scene (each window generated once), then closed,
// so the soak's datasets start a fresh scene with the small cache.
Reference single_threaded_reference(const Options& o) {
  Reference reference;
  for (const std::string& target : kTargets) {
    Dataset ds = open_raster(connection(o, target, 1024));
    if (!ds) throw std::runtime_error("cannot open " + target + ": " + CPLGetLastErrorMsg());
    const int levels = 1 + ds->GetRasterBand(1)->GetOverviewCount();
    for (int level = 0; level < levels; ++level) {
      Level l;
      for (int b = 1; b <= ds->GetRasterCount(); ++b) {
        GDALRasterBand* band = band_at(ds.get(), b, level);
        l.width = band->GetXSize();
        l.height = band->GetYSize();
        l.pixel_bytes = GDALGetDataTypeSizeBytes(band->GetRasterDataType());
        l.bands.push_back(read_raw(band));
      }
      reference[target].push_back(std::move(l));
    }
  }
  return reference;
}

std::uint64_t checksum(const Reference& reference) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (const auto& [target, levels] : reference)
    for (const Level& level : levels)
      for (const auto& band : level.bands)
        for (unsigned char c : band) h = (h ^ c) * 1099511628211ull;
  return h;
}

struct Counters {
  std::atomic<long> reads{0}, pixels{0}, mismatches{0}, errors{0}, reopens{0};
  std::mutex mutex;
  std::vector<std::string> first_problems;  // a few, for the report
  void problem(const std::string& what) {
    std::lock_guard<std::mutex> lock(mutex);
    if (first_problems.size() < 5) first_problems.push_back(what);
  }
};

void read_randomly(const Options& o, const Reference& reference, int thread, Clock::time_point end,
                   Counters& counters) {
  std::mt19937 random(o.seed * 7919u + static_cast<unsigned>(o.worker) * 1000u +
                      static_cast<unsigned>(thread));
  std::map<std::string, Dataset> datasets;
  long reads_since_reopen = 0;
  while (Clock::now() < end) {
    try {
      if (datasets.empty() || (o.reopen_every > 0 && reads_since_reopen >= o.reopen_every)) {
        datasets.clear();
        for (const std::string& target : kTargets) {
          Dataset ds = open_raster(connection(o, target, o.cache_mb));
          if (!ds) throw std::runtime_error("open " + target + ": " + CPLGetLastErrorMsg());
          datasets.emplace(target, std::move(ds));
        }
        reads_since_reopen = 0;
        ++counters.reopens;
      }
      const std::string& target = kTargets[random() % kTargets.size()];
      GDALDataset* ds = datasets.at(target).get();
      const std::vector<Level>& levels = reference.at(target);
      const int level = static_cast<int>(random() % levels.size());
      const Level& ref = levels[level];
      const int band = 1 + static_cast<int>(random() % ref.bands.size());
      const int w = 1 + static_cast<int>(random() % std::min(o.max_window, ref.width));
      const int h = 1 + static_cast<int>(random() % std::min(o.max_window, ref.height));
      const int x = static_cast<int>(random() % (ref.width - w + 1));
      const int y = static_cast<int>(random() % (ref.height - h + 1));
      const std::vector<unsigned char> got = read_raw(band_at(ds, band, level), x, y, w, h);
      const auto& full = ref.bands[band - 1];
      const std::size_t row = static_cast<std::size_t>(w) * ref.pixel_bytes;
      bool same = got.size() == row * h;
      for (int r = 0; same && r < h; ++r)
        same = std::memcmp(got.data() + r * row,
                           full.data() + ((static_cast<std::size_t>(y) + r) * ref.width + x) *
                                             ref.pixel_bytes,
                           row) == 0;
      if (!same) {
        ++counters.mismatches;
        counters.problem("mismatch: " + target + " level " + std::to_string(level) + " band " +
                         std::to_string(band) + " window " + std::to_string(x) + "," +
                         std::to_string(y) + " " + std::to_string(w) + "x" + std::to_string(h));
      }
      ++counters.reads;
      ++reads_since_reopen;
      counters.pixels += static_cast<long>(w) * h;
    } catch (const std::exception& e) {
      ++counters.errors;
      counters.problem(std::string("error: ") + e.what());
      datasets.clear();
    }
  }
}

int run_worker(const Options& o) {
  register_plugin();
  const auto t0 = Clock::now();
  Reference reference = single_threaded_reference(o);
  if (o.corrupt_reference)
    for (unsigned char& c : reference.at("S1GRD").at(0).bands.at(0)) c ^= 1;
  GDALSetCacheMax64(static_cast<GIntBig>(o.gdal_cache_mb) << 20);
  const std::uint64_t sum = checksum(reference);
  const double reference_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const double rss_start = rss_mb();
  std::printf("worker %d: reference %.1f s, checksum %016llx, rss %.1f MB\n", o.worker, reference_s,
              static_cast<unsigned long long>(sum), rss_start);
  std::fflush(stdout);

  Counters counters;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(o.duration_s));
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t)
    threads.emplace_back(read_randomly, std::cref(o), std::cref(reference), t, end,
                         std::ref(counters));
  double rss_max = rss_start;
  auto next = start + std::chrono::duration_cast<Clock::duration>(
                          std::chrono::duration<double>(o.report_s));
  while (Clock::now() < end) {
    std::this_thread::sleep_until(std::min(next, end));
    if (Clock::now() < next && Clock::now() < end) continue;
    const double rss = rss_mb();
    rss_max = std::max(rss_max, rss);
    const double t = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf(
        "worker %d: t=%5.0f s reads %ld (%.1f Mpx) reopens %ld mismatches %ld errors %ld "
        "rss %.1f MB\n",
        o.worker, t, counters.reads.load(), counters.pixels.load() / 1e6, counters.reopens.load(),
        counters.mismatches.load(), counters.errors.load(), rss);
    std::fflush(stdout);
    next += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.report_s));
  }
  for (std::thread& thread : threads) thread.join();
  const double rss_end = rss_mb();
  rss_max = std::max(rss_max, rss_end);
  for (const std::string& p : counters.first_problems)
    std::printf("worker %d: %s\n", o.worker, p.c_str());
  std::printf(
      "FINAL worker=%d reads=%ld pixels=%ld reopens=%ld mismatches=%ld errors=%ld "
      "rss_start_mb=%.1f rss_end_mb=%.1f rss_max_mb=%.1f checksum=%016llx\n",
      o.worker, counters.reads.load(), counters.pixels.load(), counters.reopens.load(),
      counters.mismatches.load(), counters.errors.load(), rss_start, rss_end, rss_max,
      static_cast<unsigned long long>(sum));
  std::fflush(stdout);
  return counters.mismatches == 0 && counters.errors == 0 && counters.reads > 0 ? 0 : 1;
}

// Runs the workers as child processes of this program, forwards their lines, sums them up.
int run_supervisor(const Options& o, const char* self) {
  register_plugin();  // the environment the workers inherit (GDAL_DRIVER_PATH, TM_RUNTIME)
  std::printf(
      "tm_plugin_soak: %d processes x %d threads, %.0f s, window cache %d MB, GDAL block "
      "cache %d MB, reopen every %d reads\n",
      o.processes, o.threads, o.duration_s, o.cache_mb, o.gdal_cache_mb, o.reopen_every);
  std::fflush(stdout);
  struct Child {
    pid_t pid;
    int fd;
    std::string pending;
  };
  std::vector<Child> children;
  for (int p = 0; p < o.processes; ++p) {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
    const pid_t pid = fork();
    if (pid == 0) {
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      std::vector<std::string> args = {self,
                                       "--worker",
                                       std::to_string(p),
                                       "--duration",
                                       std::to_string(o.duration_s),
                                       "--threads",
                                       std::to_string(o.threads),
                                       "--report",
                                       std::to_string(o.report_s),
                                       "--cache-mb",
                                       std::to_string(o.cache_mb),
                                       "--gdal-cache-mb",
                                       std::to_string(o.gdal_cache_mb),
                                       "--reopen-every",
                                       std::to_string(o.reopen_every),
                                       "--max-window",
                                       std::to_string(o.max_window),
                                       "--seed",
                                       std::to_string(o.seed),
                                       "--corrupt-reference",
                                       o.corrupt_reference ? "1" : "0"};
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv("/proc/self/exe", argv.data());
      _exit(127);
    }
    close(fds[1]);
    children.push_back({pid, fds[0], ""});
  }
  std::vector<std::string> finals;
  std::vector<std::string> checksums;
  std::size_t open_pipes = children.size();
  while (open_pipes > 0) {
    std::vector<pollfd> fds;
    for (const Child& c : children)
      if (c.fd >= 0) fds.push_back({c.fd, POLLIN, 0});
    poll(fds.data(), fds.size(), -1);
    for (Child& c : children) {
      if (c.fd < 0) continue;
      const auto it =
          std::find_if(fds.begin(), fds.end(), [&](const pollfd& p) { return p.fd == c.fd; });
      if (it == fds.end() || !(it->revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buffer[4096];
      const ssize_t n = read(c.fd, buffer, sizeof(buffer));
      if (n <= 0) {
        close(c.fd);
        c.fd = -1;
        --open_pipes;
        continue;
      }
      c.pending.append(buffer, static_cast<std::size_t>(n));
      for (std::size_t nl; (nl = c.pending.find('\n')) != std::string::npos;) {
        const std::string line = c.pending.substr(0, nl);
        c.pending.erase(0, nl + 1);
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
        if (line.rfind("FINAL ", 0) == 0) {
          finals.push_back(line);
          checksums.push_back(line.substr(line.find("checksum=") + 9));
        }
      }
    }
  }
  bool ok = true;
  for (const Child& c : children) {
    int status = 0;
    waitpid(c.pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      ok = false;
      std::printf("worker pid %d failed (%s %d)\n", static_cast<int>(c.pid),
                  WIFEXITED(status) ? "exit" : "signal",
                  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    }
  }
  long reads = 0, mismatches = 0, errors = 0;
  for (const std::string& f : finals) {
    auto field = [&](const char* name) {
      const std::size_t at = f.find(std::string(name) + "=");
      return at == std::string::npos ? 0L : std::atol(f.c_str() + at + std::strlen(name) + 1);
    };
    reads += field("reads");
    mismatches += field("mismatches");
    errors += field("errors");
  }
  const bool same_reference =
      !checksums.empty() && std::all_of(checksums.begin(), checksums.end(),
                                        [&](const std::string& c) { return c == checksums[0]; });
  if (finals.size() != children.size() || !same_reference) ok = false;
  std::printf("SUMMARY processes=%zu reads=%ld mismatches=%ld errors=%ld references_agree=%s %s\n",
              finals.size(), reads, mismatches, errors, same_reference ? "yes" : "no",
              ok && mismatches == 0 && errors == 0 ? "PASS" : "FAIL");
  return ok && mismatches == 0 && errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse_options(argc, argv);
    if (o.worker >= 0) return run_worker(o);
    if (o.processes == 0) {  // threads in this process only
      Options single = o;
      single.worker = 0;
      return run_worker(single);
    }
    return run_supervisor(o, argv[0]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tm_plugin_soak: %s\n", e.what());
    return 1;
  }
}
