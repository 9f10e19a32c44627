// tm_generate: a scene in, georeferenced generated modalities out (one COG per target).
#include <unistd.h>
#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
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

double parse_number(const std::string& text, const char* option) {
  try {
    std::size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  throw std::invalid_argument(std::string(option) + ": '" + text + "' is not a number");
}

AreaOfInterest area_of_interest(const std::vector<std::string>& projwin, const std::string& bbox,
                                const std::string& crs, const std::string& cutline) {
  AreaOfInterest area;
  area.box_crs = crs;
  area.cutline = cutline;
  if (!projwin.empty() && !bbox.empty())
    throw std::invalid_argument("give -projwin or --bbox, not both");
  if (!projwin.empty()) {
    if (projwin.size() != 4) throw std::invalid_argument("-projwin takes ulx uly lrx lry");
    const double ulx = parse_number(projwin[0], "-projwin"),
                 uly = parse_number(projwin[1], "-projwin"),
                 lrx = parse_number(projwin[2], "-projwin"),
                 lry = parse_number(projwin[3], "-projwin");
    area.box = {ulx, lry, lrx, uly};
    area.has_box = true;
  } else if (!bbox.empty()) {
    const auto parts = split(bbox, ',');
    if (parts.size() != 4) throw std::invalid_argument("--bbox takes minx,miny,maxx,maxy");
    for (int i = 0; i < 4; ++i) area.box[i] = parse_number(parts[i], "--bbox");
    area.has_box = true;
  }
  if (area.has_box && !(area.box[0] < area.box[2] && area.box[1] < area.box[3]))
    throw std::invalid_argument(
        "the box is empty: min x must be below max x and min y below max y");
  if (!area.has_box && !crs.empty())
    throw std::invalid_argument("--bbox-crs needs --bbox or -projwin");
  return area;
}

OutputGrid output_grid(const std::string& crs, const std::vector<std::string>& tr) {
  OutputGrid grid;
  grid.crs = crs;
  if (!tr.empty()) {
    if (tr.size() != 2) throw std::invalid_argument("-tr takes xres yres");
    grid.resolution_x = std::abs(parse_number(tr[0], "-tr"));
    grid.resolution_y = std::abs(parse_number(tr[1], "-tr"));
    if (grid.resolution_x <= 0 || grid.resolution_y <= 0)
      throw std::invalid_argument("-tr: pixel sizes must be positive");
  }
  return grid;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> input_args;
  std::string targets_arg, out_dir = ".", blend = "taper", format = "cog";
  std::vector<std::string> creation_options, config_pairs, projwin_args, tr_args;
  std::string bbox_arg, bbox_crs, cutline, t_srs;
  RuntimeSettings settings;
  TilingOptions tiling;
  bool overwrite = false, quiet = false, greedy = false, probabilities = false, harmonise = false,
       pixel_grid = false;
  bool chain = false, allow_resolution = false;
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
      "token sampling temperature")("top-p", po::value(&settings.top_p)->default_value(0.8, "0.8"),
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
      "allow-resolution", po::bool_switch(&allow_resolution),
      "accept inputs whose pixel size is far from the modality's native 10 m")(
      "format", po::value(&format)->default_value("cog"), "cog or gtiff")(
      "of", po::value<std::string>(), "output format as GDAL spells it: COG or GTiff")(
      "co", po::value(&creation_options)->composing(),
      "KEY=VALUE creation option for GDAL's COG/GTiff driver, repeatable (-co COMPRESS=LZW)")(
      "config", po::value(&config_pairs)->multitoken()->composing(),
      "KEY VALUE: a GDAL configuration option, repeatable (--config GDAL_CACHEMAX 512)")(
      "projwin", po::value(&projwin_args)->multitoken(),
      "ulx uly lrx lry: generate only this box (input CRS, or --bbox-crs), as gdal_translate")(
      "bbox", po::value(&bbox_arg), "minx,miny,maxx,maxy: generate only this box")(
      "bbox-crs", po::value(&bbox_crs),
      "CRS of --bbox / -projwin (EPSG:4326 ...; default: the input's)")(
      "cutline", po::value(&cutline),
      "vector file (OGR): generate only inside its polygons, nodata elsewhere")(
      "t_srs", po::value(&t_srs), "write the outputs in this CRS (GDAL's warper)")(
      "tr", po::value(&tr_args)->multitoken(), "xres yres: output pixel size (GDAL's warper)")(
      "overwrite", po::bool_switch(&overwrite), "replace existing outputs")(
      "quiet,q", po::bool_switch(&quiet), "no progress or summary");
  po::variables_map vm;
  try {
    // GDAL spellings (-co, -of, -projwin, -t_srs, -tr) as long options with one dash; no prefix
    // guessing, so short options (-i, -o ...) stay unambiguous.
    const int style =
        (po::command_line_style::default_style | po::command_line_style::allow_long_disguise) &
        ~po::command_line_style::allow_guessing;
    po::store(po::command_line_parser(argc, argv).options(options).style(style).run(), vm);
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
  if (vm.count("of")) format = vm["of"].as<std::string>();
  for (auto& c : format) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (format != "cog" && format != "gtiff") {
    std::cerr << "tm_generate: --format (-of) must be COG or GTiff\n";
    return 2;
  }
  if (config_pairs.size() % 2 != 0) {
    std::cerr << "tm_generate: --config takes KEY VALUE pairs\n";
    return 2;
  }
  AreaOfInterest area;
  try {
    area = area_of_interest(projwin_args, bbox_arg, bbox_crs, cutline);
    tiling.write.grid = output_grid(t_srs, tr_args);
  } catch (const std::invalid_argument& e) {
    std::cerr << "tm_generate: " << e.what() << "\n";
    return 2;
  }
  tiling.write.creation_options = creation_options;
  if (greedy) settings.temperature = 0.0;
  if (vm.count("no-clamp")) settings.clamp = false;
  settings.targets = split(targets_arg, ',');
  settings.chain_targets = chain;
  tiling.weighting = *weighting;
  tiling.open.allow_ungeoreferenced = pixel_grid;
  tiling.open.allow_any_resolution = allow_resolution;
  tiling.write.overwrite = overwrite;
  tiling.write.format = format == "cog" ? OutputFormat::kCOG : OutputFormat::kGTiff;

  install_interrupt_handlers();
  try {
    // Cheap checks first: settings, outputs and inputs, before the model loads. A missing output
    // folder is made, as users of --out-dir expect.
    validate(settings);
    for (std::size_t i = 0; i + 1 < config_pairs.size(); i += 2)
      set_gdal_config(config_pairs[i], config_pairs[i + 1]);
    for (const auto& option : creation_options) check_creation_option(option, tiling.write.format);
    require_local_output(out_dir);
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
      const std::string mismatch = resolution_mismatch(info, modality);
      if (!allow_resolution && !mismatch.empty())
        throw RasterError(in.path + " cannot be read as " + modality.name + ": " + mismatch +
                          " (--allow-resolution)");
      input_modalities.insert(modality.name);
    }
    const std::string scene_name = stem(inputs.front().path);
    inputs = crop_to_area(inputs, area);
    const auto model = open_terramind_window_model(settings);
    std::vector<TargetRequest> requests;
    const std::string base = out_dir + "/" + scene_name + "_";
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
