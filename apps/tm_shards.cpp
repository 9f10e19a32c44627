// tm_shards: build, inspect and verify TerraMesh-style training shards (tm/shards.h).
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cmath>
#include <iomanip>
#include <iostream>

#include "tm/ascii_strings.h"
#include "tm/registry.h"
#include "tm/shards.h"

namespace po = boost::program_options;
using namespace terramind;
using namespace terramind::shards;

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr const char* kUsage =
    "tm_shards: build, inspect and verify TerraMesh-style training shards (WebDataset)\n\n"
    "usage: tm_shards build [ROOT] [--input MODALITY=PATH ...] --out DIR [options]\n"
    "       tm_shards inspect PATH [--split S] [--samples N]\n"
    "       tm_shards verify DIR\n\n"
    "build: ROOT holds one folder per modality (S2L2A/, S1RTC/, DEM/ ... with the same file\n"
    "names, as TerraMesh's examples) or BigEarthNet S2/ and S1/ patch folders; --input names a\n"
    "modality's folder or a whole scene explicitly. Rasters larger than --chip are cut into\n"
    "chips. Invalid samples (misaligned, wrong bands or type, too much nodata, implausible\n"
    "values, a missing modality) are listed and the build refuses, unless --skip-invalid.\n"
    "inspect: a dataset folder, its manifest, one shard, or a TerraMesh folder (published\n"
    "layout). verify: checksums against the manifest and every member decoded.\n\noptions";

std::uint64_t parse_size(const std::string& text) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    throw std::invalid_argument("--shard-size: not a size: " + text);
  }
  const std::string unit = to_upper(text.substr(used));
  double scale = 1;
  if (unit == "K" || unit == "KB" || unit == "KIB")
    scale = 1024.0;
  else if (unit == "M" || unit == "MB" || unit == "MIB")
    scale = 1024.0 * 1024;
  else if (unit == "G" || unit == "GB" || unit == "GIB")
    scale = 1024.0 * 1024 * 1024;
  else if (!unit.empty() && unit != "B")
    throw std::invalid_argument("--shard-size: unknown unit " + unit);
  if (!(v > 0)) throw std::invalid_argument("--shard-size must be positive");
  return static_cast<std::uint64_t>(v * scale);
}

std::string fixed(double v, int digits) {
  if (!std::isfinite(v)) return "-";
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

std::string megabytes(std::uint64_t bytes) { return fixed(bytes / 1048576.0, 1) + " MiB"; }

void print_problems(const std::vector<Problem>& problems) {
  constexpr std::size_t kShown = 40;
  std::map<std::string, int> reasons;
  for (std::size_t i = 0; i < problems.size(); ++i) {
    if (i < kShown) std::cerr << "  " << problems[i].detail << "\n";
    ++reasons[problems[i].reason];
  }
  if (problems.size() > kShown) std::cerr << "  ... and " << problems.size() - kShown << " more\n";
  std::cerr << "  by reason:";
  for (const auto& [reason, n] : reasons) std::cerr << " " << reason << " " << n << ";";
  std::cerr << "\n";
}

int run_build(const BuildOptions& options) {
  const BuildReport report = build_shards(options);
  if (report.refused) {
    // The first line says what is wrong (scripts and the bad-input catalogue read it).
    std::cerr << "tm_shards: " << report.problems.front().detail << "; nothing written";
    if (report.problems.size() > 1)
      std::cerr << " (" << report.problems.size() << " problems, all below)";
    std::cerr << " (--skip-invalid skips invalid samples)\n";
    if (report.problems.size() > 1) print_problems(report.problems);
    return kExitFailure;
  }
  if (!report.problems.empty()) {
    std::cerr << "tm_shards: skipped invalid samples:\n";
    print_problems(report.problems);
  }
  const Manifest& m = report.manifest;
  std::int64_t samples = 0;
  for (const auto& [split, s] : m.splits) samples += s.samples;
  std::uint64_t bytes = 0;
  for (const auto& s : m.shards) bytes += s.bytes;
  std::cout << "wrote " << options.out << ": " << samples << " samples in " << m.shards.size()
            << " shard(s), " << megabytes(bytes) << " (";
  bool first = true;
  for (const auto& [split, s] : m.splits) {
    std::cout << (first ? "" : ", ") << split << " " << s.samples;
    first = false;
  }
  std::cout << "); modalities " << join(m.modalities, " ");
  if (!m.skipped.empty()) {
    std::cout << "; skipped:";
    for (const auto& [reason, n] : m.skipped) std::cout << " " << reason << " " << n;
  }
  std::cout << "\n";
  return 0;
}

void print_sample(const Sample& s) {
  std::cout << "  " << s.record.key << "  " << (s.record.split.empty() ? "-" : s.record.split)
            << "  " << s.record.width << "x" << s.record.height << "  "
            << (s.record.crs.size() > 24 ? s.record.crs.substr(0, 21) + "..." : s.record.crs)
            << "  " << (s.record.date.empty() ? "-" : s.record.date) << "  ("
            << fixed(s.record.center_lon, 4) << ", " << fixed(s.record.center_lat, 4) << ")";
  for (const auto& [modality, a] : s.arrays)
    std::cout << "  " << modality << ":" << a.bands << "x" << a.height << "x" << a.width << " "
              << to_string(a.dtype);
  std::cout << "\n";
}

int run_inspect(const std::string& path, const std::string& split, int samples) {
  bool have_manifest = false;
  try {
    const Manifest m = read_manifest(path);
    have_manifest = true;
    std::cout << "dataset " << m.dataset << " (" << m.format << "), created " << m.created
              << " by tm " << m.tm_version << "\n";
    std::cout << "modalities: " << join(m.modalities, " ") << "; val fraction " << m.val_fraction
              << "\n";
    for (const auto& [name, s] : m.splits) {
      std::uint64_t bytes = 0;
      int shards = 0;
      for (const auto& e : m.shards)
        if (e.split == name) {
          bytes += e.bytes;
          ++shards;
        }
      std::cout << "\n"
                << name << ": " << s.samples << " samples in " << shards << " shard(s), "
                << megabytes(bytes) << "\n";
      for (const auto& [modality, n] : s.modality_samples)
        std::cout << "  " << modality << ": " << n << " samples\n";
      std::cout << "  " << std::left << std::setw(10) << "modality" << std::setw(6) << "band"
                << std::right << std::setw(12) << "mean" << std::setw(12) << "std" << std::setw(12)
                << "min" << std::setw(12) << "max" << std::setw(9) << "nodata"
                << "\n";
      for (const auto& [modality, bands] : s.statistics)
        for (const auto& b : bands)
          std::cout << "  " << std::left << std::setw(10) << modality << std::setw(6) << b.band
                    << std::right << std::setw(12) << fixed(b.mean, 3) << std::setw(12)
                    << fixed(b.std, 3) << std::setw(12) << fixed(b.min, 3) << std::setw(12)
                    << fixed(b.max, 3) << std::setw(8) << fixed(b.nodata_fraction * 100, 1)
                    << "%\n";
    }
    if (!m.skipped.empty()) {
      std::cout << "\nskipped while building:";
      for (const auto& [reason, n] : m.skipped) std::cout << " " << reason << " " << n;
      std::cout << "\n";
    }
  } catch (const FormatError&) {
    if (path.size() > 14 && path.substr(path.size() - 13) == "manifest.json") throw;
  }
  if (have_manifest && samples == 0) return 0;
  // Shards without a manifest (one tar, a TerraMesh folder): count and list samples.
  const auto shards = list_shards(path, split);
  std::int64_t count = 0;
  std::map<std::string, std::int64_t> per_modality;
  for (const auto& ref : shards) {
    auto source = open_shard(ref);
    Sample sample;
    while (source->next(sample)) {
      if (count == 0 && samples != 0)
        std::cout << "\nsamples (key split size crs date centre arrays):\n";
      if (count < samples || samples < 0) print_sample(sample);
      for (const auto& [modality, a] : sample.arrays) ++per_modality[modality];
      ++count;
      if (have_manifest && samples >= 0 && count >= samples) return 0;
    }
  }
  std::cout << "\n" << count << " samples in " << shards.size() << " shard(s)";
  for (const auto& [modality, n] : per_modality) std::cout << "; " << modality << " " << n;
  std::cout << "\n";
  return 0;
}

int run_verify(const std::string& path) {
  const VerifyReport r = verify_dataset(path);
  if (!r.ok()) {
    std::cerr << "tm_shards: " << r.problems.front().detail;
    if (r.problems.size() > 1) std::cerr << " (" << r.problems.size() << " problems, all below)";
    std::cerr << "\n";
    if (r.problems.size() > 1) print_problems(r.problems);
    return kExitFailure;
  }
  std::cout << path << ": ok — " << r.shards << " shard(s), checksums match, " << r.samples
            << " samples, " << r.members << " members decoded\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string command, path, split, shard_size = "256M";
  std::vector<std::string> input_specs;
  BuildOptions build;
  int samples = 0;
  bool quiet = false;
  po::options_description options(kUsage);
  options.add_options()("help,h", "show this help")("version", "print the tm version")(
      "out,o", po::value(&build.out), "build: output folder (created)")(
      "input,i", po::value(&input_specs)->composing(),
      "build: MODALITY=PATH, a folder of rasters or one scene (repeatable)")(
      "dataset", po::value(&build.dataset), "build: dataset name (default: the --out folder's)")(
      "chip", po::value(&build.chip)->default_value(0),
      "build: cut rasters larger than this into chips of this size in px (0: whole rasters)")(
      "stride", po::value(&build.stride)->default_value(0),
      "build: chip stride in px (0: the chip size); the last chip is flush with the edge")(
      "val-fraction", po::value(&build.val_fraction)->default_value(build.val_fraction),
      "build: share of samples in the val split (by a hash of the key)")(
      "shard-size", po::value(&shard_size)->default_value("256M"),
      "build: target shard size (bytes, K, M, G)")(
      "max-samples-per-shard",
      po::value(&build.max_samples_per_shard)->default_value(build.max_samples_per_shard),
      "build: at most this many samples per shard")(
      "compression", po::value(&build.compression_level)->default_value(build.compression_level),
      "build: gzip level of the arrays, 0-9")(
      "max-nodata", po::value(&build.max_nodata_fraction)->default_value(build.max_nodata_fraction),
      "build: largest NaN/nodata share of a modality in a valid sample")(
      "skip-invalid", po::bool_switch(&build.skip_invalid),
      "build: skip invalid samples (counted per reason) instead of refusing")(
      "allow-partial", po::bool_switch(&build.allow_partial),
      "build: keep samples that lack some modality")(
      "derive-ndvi", po::bool_switch(&build.derive_ndvi),
      "build: add NDVI = (B08 - B04) / (B08 + B04) to samples with S2L2A/S2L1C and no NDVI")(
      "overwrite", po::bool_switch(&build.overwrite), "build: replace a dataset in --out")(
      "quiet,q", po::bool_switch(&quiet), "build: no progress")("split", po::value(&split),
                                                                "inspect: only this split")(
      "samples", po::value(&samples)->default_value(0),
      "inspect: list this many samples (-1: all)");
  po::options_description all;
  all.add(options).add_options()("command", po::value(&command))("path", po::value(&path));
  po::positional_options_description positional;
  positional.add("command", 1).add("path", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "tm_shards: " << e.what() << "\n\n" << options;
    return kExitUsage;
  }
  if (vm.count("help")) {
    std::cout << options;
    return 0;
  }
  if (vm.count("version")) {
    std::cout << "tm_shards " << tm_version() << "\n";
    return 0;
  }
  auto usage_error = [&options](const std::string& what) {
    std::cerr << "tm_shards: " << what << "\n\n" << options;
    return kExitUsage;
  };
  try {
    if (command == "build") {
      build.root = path;
      for (const auto& spec : input_specs) {
        const auto eq = spec.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
          return usage_error("--input takes MODALITY=PATH, not '" + spec + "'");
        build.inputs.push_back({spec.substr(0, eq), spec.substr(eq + 1)});
      }
      if (build.root.empty() && build.inputs.empty())
        return usage_error("build needs a ROOT folder or --input MODALITY=PATH");
      if (build.out.empty()) return usage_error("build needs --out DIR");
      build.shard_bytes = parse_size(shard_size);
      if (!quiet && isatty(STDERR_FILENO))
        build.progress = [](std::int64_t done, std::int64_t total) {
          std::cerr << "\r  sample " << done << "/" << total << (done == total ? "\n" : "")
                    << std::flush;
        };
      return run_build(build);
    }
    if (command == "inspect") {
      if (path.empty()) return usage_error("inspect needs a PATH");
      return run_inspect(path, split, samples);
    }
    if (command == "verify") {
      if (path.empty()) return usage_error("verify needs a dataset folder");
      return run_verify(path);
    }
    return usage_error(command.empty() ? "say build, inspect or verify"
                                       : "unknown command '" + command + "'");
  } catch (const std::exception& e) {
    std::cerr << "tm_shards: " << e.what() << "\n";
    return kExitFailure;
  }
}
