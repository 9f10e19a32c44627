// tm_generate: a scene in, georeferenced generated modalities out (one COG per target).
#include <unistd.h>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>

#include "tm/model.h"
#include "tm/runtime.h"
#include "tm/tiling.h"

namespace po = boost::program_options;
using namespace terramind;

namespace {

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, separator);)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string stem(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') + 1);
  const auto dot = name.find_last_of('.');
  return dot == std::string::npos ? name : name.substr(0, dot);
}

// "[=======>      ]  42%  12.3 win/s  ETA 0:41" on a terminal; nothing otherwise.
class ProgressBar {
 public:
  explicit ProgressBar(bool enabled)
      : enabled_(enabled), start_(std::chrono::steady_clock::now()) {}
  void update(std::size_t done, std::size_t total) {
    if (!enabled_ || total == 0) return;
    const double elapsed = seconds();
    const double rate = done / std::max(elapsed, 1e-9);
    const double eta = rate > 0 ? (total - done) / rate : 0;
    const int width = 30, filled = static_cast<int>(width * done / total);
    std::fprintf(stderr, "\r[%s%s] %3d%%  %5.1f win/s  ETA %d:%02d  ",
                 std::string(filled, '=').c_str(), std::string(width - filled, ' ').c_str(),
                 static_cast<int>(100 * done / total), rate, static_cast<int>(eta) / 60,
                 static_cast<int>(eta) % 60);
    if (done == total) std::fprintf(stderr, "\n");
  }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  bool enabled_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> input_args;
  std::string targets_arg, out_dir = ".", blend = "taper", format = "cog";
  RuntimeSettings settings;
  TilingOptions tiling;
  bool overwrite = false, quiet = false, greedy = false, probabilities = false, harmonise = false,
       pixel_grid = false;
  bool chain = false;
  po::options_description options(
      "tm_generate: generate TerraMind modalities for a whole scene, georeferenced like the "
      "input\n\n"
      "usage: tm_generate --input S2L2A=scene.tif --to S1GRD,LULC --model MODEL.json --out-dir "
      "out\n\n"
      "One Cloud-Optimized GeoTIFF per target, named <first input>_<TARGET>.tif. The scene is cut\n"
      "in overlapping windows and blended without seams. Each target of a window is generated\n"
      "from the inputs alone with its own random stream, so a target's pixels do not depend on\n"
      "which other targets are asked for (--chain-targets: the reference's chained order).\n\n"
      "options");
  options.add_options()("help,h", "show this help")("version", "print the tm version")(
      "input,i", po::value(&input_args)->multitoken(),
      "MODALITY=PATH, repeatable (S2L2A, S2L1C, S2RGB, S1GRD, S1RTC, DEM, LULC, NDVI); all on one "
      "grid")("to,t", po::value(&targets_arg),
              "targets, comma-separated (default: every target of the model that is not an "
              "input)")("model,m", po::value(&settings.model),
                        "model card (.json naming checkpoint and tokenizers)")(
      "out-dir,o", po::value(&out_dir)->default_value("."), "output folder")(
      "window", po::value(&tiling.window_size)->default_value(224), "window size in pixels")(
      "overlap", po::value(&tiling.overlap)->default_value(32),
      "overlap between windows in pixels")("batch", po::value(&tiling.batch_size)->default_value(4),
                                           "windows per model call")(
      "steps", po::value(&settings.diffusion_steps)->default_value(10), "diffusion decoder steps")(
      "decoding-steps", po::value(&settings.decoding_steps)->default_value(1),
      "token decoding steps")("seed", po::value(&settings.seed)->default_value(0),
                              "random seed (same seed, same output)")(
      "temperature", po::value(&settings.temperature)->default_value(1.0),
      "token sampling temperature")("top-p", po::value(&settings.top_p)->default_value(0.8),
                                    "nucleus sampling mass")(
      "chain-targets", po::bool_switch(&chain),
      "generate targets in the order given, each conditioned on the earlier ones (the "
      "reference's chained generation; a target then depends on the targets before it)")(
      "greedy", po::bool_switch(&greedy),
      "arg-max tokens (temperature 0): deterministic, seamless")(
      "blend", po::value(&blend)->default_value("taper"),
      "taper (seamless) or mean (as the paper)")("harmonise-dem", po::bool_switch(&harmonise),
                                                 "align per-window DEM offsets on their overlaps")(
      "probabilities", po::bool_switch(&probabilities), "also write LULC class probabilities")(
      "no-clamp", "do not clamp diffusion outputs to mean +- 1 std (the reference clamps)")(
      "device", po::value(&settings.device)->default_value("cpu"), "cpu or cuda")(
      "threads", po::value(&settings.threads)->default_value(0), "LibTorch threads (0: all cores)")(
      "head-dim", po::value(&settings.head_dim)->default_value(64),
      "head width for checkpoints without card")("pixel-grid", po::bool_switch(&pixel_grid),
                                                 "accept inputs without georeferencing")(
      "format", po::value(&format)->default_value("cog"), "cog or gtiff")(
      "overwrite", po::bool_switch(&overwrite), "replace existing outputs")(
      "quiet,q", po::bool_switch(&quiet), "no progress or summary");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, options), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "tm_generate: " << e.what() << "\n\n" << options;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << options;
    return 0;
  }
  if (vm.count("version")) {
    std::cout << "tm_generate (tm) " << tm_version() << "\n";
    return 0;
  }
  if (vm.count("to") && split(targets_arg, ',').empty()) {
    std::cerr << "tm_generate: --to is empty; name targets (e.g. --to S1GRD,LULC) or leave it out "
                 "for every target\n";
    return 2;
  }
  if (input_args.empty() || settings.model.empty()) {
    std::cerr << "tm_generate: --input and --model are required (see --help)\n";
    return 2;
  }
  std::vector<SceneInput> inputs;
  for (const auto& arg : input_args) {
    const auto eq = arg.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size()) {
      std::cerr << "tm_generate: --input takes MODALITY=PATH, got '" << arg << "'\n";
      return 2;
    }
    inputs.push_back({arg.substr(eq + 1), arg.substr(0, eq)});
  }
  const auto weighting = blend_weighting_from(blend);
  if (!weighting) {
    std::cerr << "tm_generate: --blend must be taper or mean\n";
    return 2;
  }
  if (format != "cog" && format != "gtiff") {
    std::cerr << "tm_generate: --format must be cog or gtiff\n";
    return 2;
  }
  if (greedy) settings.temperature = 0.0;
  if (vm.count("no-clamp")) settings.clamp = false;
  settings.targets = split(targets_arg, ',');
  settings.chain_targets = chain;
  tiling.weighting = *weighting;
  tiling.open.allow_ungeoreferenced = pixel_grid;
  tiling.write.overwrite = overwrite;
  tiling.write.format = format == "cog" ? OutputFormat::kCOG : OutputFormat::kGTiff;

  install_interrupt_handlers();
  try {
    // Cheap checks first: settings, outputs and inputs, before the model loads. A missing output
    // folder is made, as users of --out-dir expect.
    validate(settings);
    std::error_code made;
    std::filesystem::create_directories(out_dir, made);
    if (made) throw RasterError("cannot create output folder " + out_dir + ": " + made.message());
    std::set<std::string> input_modalities;
    for (const auto& in : inputs) {
      const Modality& modality = ModalityRegistry::instance().get(in.modality);
      const RasterInfo info = inspect_raster(in.path);
      require_modality(info, modality);
      if (!pixel_grid && !info.georef.is_georeferenced())
        throw RasterError(in.path +
                          " has no georeferencing: outputs could not be placed on a map. Assign "
                          "one (gdal_edit.py -a_srs/-a_ullr) or pass --pixel-grid to write on the "
                          "bare pixel grid");
      input_modalities.insert(modality.name);
    }
    const auto model = open_terramind_window_model(settings);
    std::vector<TargetRequest> requests;
    const std::string base = out_dir + "/" + stem(inputs.front().path) + "_";
    for (const auto& target : model->targets()) {
      // By default the inputs are not generated again (a given S1GRD stays the user's own).
      if (settings.targets.empty() && input_modalities.count(target)) continue;
      TargetRequest request(target, base + target + ".tif");
      if (probabilities && model->spec(target).is_classes)
        request.probabilities_path = base + target + "_probabilities.tif";
      request.harmonise_offsets = harmonise && target == "DEM";
      check_output_path(request.path, overwrite);
      if (!request.probabilities_path.empty())
        check_output_path(request.probabilities_path, overwrite);
      requests.push_back(request);
    }
    if (requests.empty())
      throw std::invalid_argument(
          "every target of the model is also an input; name the targets "
          "to generate again with --to");
    ProgressBar bar(!quiet && isatty(STDERR_FILENO));
    tiling.progress = [&bar](std::size_t done, std::size_t total) { bar.update(done, total); };
    const TilingSummary summary = generate_scene(inputs, *model, requests, tiling);
    if (!quiet) {
      for (const auto& w : summary.warnings) std::cerr << "warning: " << w << "\n";
      std::printf("windows     %zu (%zu generated, %zu empty skipped)\n", summary.windows,
                  summary.inferred, summary.skipped);
      std::printf("time        %.1f s, %.2f windows/s, model busy %.0f%%\n", summary.seconds,
                  summary.inferred / std::max(summary.seconds, 1e-9),
                  100 * summary.model_busy_share());
      std::printf("peak memory %.0f MB\n", summary.peak_rss_bytes / 1e6);
      for (const auto& path : summary.outputs) std::printf("wrote       %s\n", path.c_str());
    }
  } catch (const Interrupted&) {
    std::cerr << "\ntm_generate: interrupted, no output written\n";
    return 130;
  } catch (const std::exception& e) {
    std::cerr << "tm_generate: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
