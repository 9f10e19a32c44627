// tm_generate: a scene in, georeferenced generated modalities out (one COG per target).
#include <unistd.h>
#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>

#include "scene_batch.h"
#include "shared_options.h"
#include "tm/ascii_strings.h"
#include "tm/model.h"
#include "tm/model_cache.h"
#include "tm/runtime.h"
#include "tm/settings.h"
#include "tm/tiling.h"

namespace po = boost::program_options;
using namespace terramind;

namespace {

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

// What the options say about every scene of the run.
struct SceneOptions {
  std::string out_dir;
  AreaOfInterest area;
  TilingOptions tiling;
  std::vector<std::string> targets;  // empty: every target that is not an input
  std::vector<std::string> stac_modalities;
  bool probabilities = false, harmonise = false, pixel_grid = false, allow_resolution = false,
       overwrite = false, quicklook = false, resume = false;
};

struct SceneResult {
  std::string name;
  std::string status;  // ok, skipped, FAILED, interrupted
  std::size_t windows = 0;
  double seconds = 0.0;
  std::vector<std::string> outputs;
  std::string note;  // the error, or why skipped
};

// A STAC item's modalities: those named, or every complete one (without those inside another,
// as S2RGB inside S2L2A: the library decides and notes it).
std::vector<SceneInput> stac_inputs(const SceneJob& job, const SceneOptions& options,
                                    std::vector<std::string>& warnings) {
  StacInputs found = scene_inputs_from_stac(job.stac_item, options.stac_modalities);
  for (const auto& note : found.notes) warnings.push_back(job.stac_item + ": " + note);
  return found.inputs;
}

// The checks that need no model: rasters readable as their modality, on a map, at the native
// resolution. Returns the inputs cropped to the area of interest.
std::vector<SceneInput> checked_inputs(const SceneJob& job, const SceneOptions& options,
                                       std::vector<std::string>& warnings) {
  std::vector<SceneInput> inputs =
      job.stac_item.empty() ? job.inputs : stac_inputs(job, options, warnings);
  for (const auto& in : inputs) {
    const Modality& modality = ModalityRegistry::instance().get(in.modality);
    const std::string shown = in.origin.empty() ? in.path : in.origin;
    const RasterInfo info = inspect_raster(in.path);
    require_modality(info, modality);
    if (!options.pixel_grid && !info.georef.is_georeferenced())
      throw RasterError(shown +
                        " has no georeferencing: outputs could not be placed on a map. Assign "
                        "one (gdal_edit.py -a_srs/-a_ullr) or pass --pixel-grid to write on the "
                        "bare pixel grid");
    const std::string mismatch = resolution_mismatch(info, modality);
    if (!options.allow_resolution && !mismatch.empty())
      throw RasterError(shown + " cannot be read as " + modality.name + ": " + mismatch +
                        " (--allow-resolution)");
  }
  return crop_to_area(inputs, options.area);
}

struct PlannedOutputs {
  std::vector<TargetRequest> requests;
  struct Quicklook {
    std::string raster, png, target;
  };
  std::vector<Quicklook> quicklooks;
  std::vector<std::string> all_paths;
};

PlannedOutputs plan_outputs(const std::string& scene, const std::vector<SceneInput>& inputs,
                            const WindowModel& model, const SceneOptions& options) {
  std::set<std::string> input_modalities;
  for (const auto& in : inputs)
    input_modalities.insert(ModalityRegistry::instance().get(in.modality).name);
  PlannedOutputs plan;
  const std::string base = options.out_dir + "/" + scene + "_";
  for (const auto& target : model.targets()) {
    // By default the inputs are not generated again (a given S1GRD stays the user's own).
    if (options.targets.empty() && input_modalities.count(target)) continue;
    TargetRequest request(target, base + target + ".tif");
    if (options.probabilities && model.spec(target).is_classes)
      request.probabilities_path = base + target + "_probabilities.tif";
    const Modality* generated = ModalityRegistry::instance().find(target);
    request.harmonise_offsets = options.harmonise && generated && generated->has_level_offsets();
    plan.all_paths.push_back(request.path);
    if (!request.probabilities_path.empty()) plan.all_paths.push_back(request.probabilities_path);
    if (options.quicklook) {
      plan.quicklooks.push_back({request.path, base + target + ".png", target});
      plan.all_paths.push_back(base + target + ".png");
    }
    plan.requests.push_back(request);
  }
  if (plan.requests.empty())
    throw std::invalid_argument(
        "every target of the model is also an input; name the targets to generate again with "
        "--to");
  return plan;
}

bool all_exist(const std::vector<std::string>& paths) {
  for (const auto& p : paths)
    if (!std::filesystem::exists(p)) return false;
  return true;
}

// One scene, start to end; throws what went wrong.
SceneResult generate_one(const SceneJob& job, const std::vector<SceneInput>& inputs,
                         WindowModel& model, const SceneOptions& options, bool quiet, bool batch) {
  SceneResult result;
  result.name = job.name;
  const PlannedOutputs plan = plan_outputs(job.name, inputs, model, options);
  // A batch rerun with --resume passes over the scenes that are done.
  if (options.resume && !options.overwrite && all_exist(plan.all_paths)) {
    result.status = "skipped";
    result.note = "outputs exist (done by an earlier run)";
    result.outputs = plan.all_paths;
    return result;
  }
  for (const auto& path : plan.all_paths) check_output_path(path, options.overwrite);
  TilingOptions tiling = options.tiling;
  ProgressBar bar(!quiet && isatty(STDERR_FILENO));
  tiling.progress = [&bar](std::size_t done, std::size_t total) { bar.update(done, total); };
  if (batch && !quiet) std::fprintf(stderr, "== %s\n", job.name.c_str());
  const TilingSummary summary = generate_scene(inputs, model, plan.requests, tiling);
  for (const auto& ql : plan.quicklooks)
    write_quicklook(ql.raster, ModalityRegistry::instance().get(ql.target), ql.png);
  if (!quiet) {
    for (const auto& w : summary.warnings) std::cerr << "warning: " << w << "\n";
    if (summary.resumed_rows > 0)
      std::printf("resumed     rows 0-%d of %d were done by the interrupted run\n",
                  summary.resumed_rows - 1, summary.raster_rows);
    std::printf("windows     %zu (%zu generated, %zu empty skipped)\n", summary.windows,
                summary.inferred, summary.skipped);
    std::printf("time        %.1f s, %.2f windows/s, model busy %.0f%%\n", summary.seconds,
                summary.inferred / std::max(summary.seconds, 1e-9),
                100 * summary.model_busy_share());
    std::printf("peak memory %.0f MB\n", summary.peak_rss_bytes / 1e6);
    for (const auto& path : summary.outputs) std::printf("wrote       %s\n", path.c_str());
    for (const auto& ql : plan.quicklooks) std::printf("wrote       %s\n", ql.png.c_str());
  }
  result.status = "ok";
  result.windows = summary.windows;
  result.seconds = summary.seconds;
  result.outputs = summary.outputs;
  for (const auto& ql : plan.quicklooks) result.outputs.push_back(ql.png);
  return result;
}

void print_summary(const std::vector<SceneResult>& results) {
  std::size_t width = 5;
  for (const auto& r : results) width = std::max(width, r.name.size());
  std::printf("\n%-*s  %-11s %8s %9s  %s\n", static_cast<int>(width), "scene", "status", "windows",
              "seconds", "outputs / error");
  for (const auto& r : results) {
    const std::string detail = r.note.empty() ? join(r.outputs, ", ") : r.note;
    std::printf("%-*s  %-11s %8zu %9.1f  %s\n", static_cast<int>(width), r.name.c_str(),
                r.status.c_str(), r.windows, r.seconds, detail.c_str());
  }
}

// CSV with RFC 4180 quoting, written beside and renamed into place.
void write_summary_csv(const std::string& path, const std::vector<SceneResult>& results) {
  auto quote = [](const std::string& text) {
    std::string out = "\"";
    for (const char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
  };
  const std::string temp = path + ".tm-partial-" + std::to_string(getpid());
  {
    std::ofstream out(temp);
    out << "scene,status,windows,seconds,outputs,error\n";
    for (const auto& r : results)
      out << quote(r.name) << ',' << r.status << ',' << r.windows << ',' << r.seconds << ','
          << quote(join(r.outputs, ";")) << ',' << quote(r.note) << '\n';
    if (!out) throw RasterError("cannot write the summary " + path);
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    std::remove(temp.c_str());
    throw RasterError("cannot write the summary " + path);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> input_args;
  std::string targets_arg, out_dir = ".", format = "cog", stac, stac_modalities, summary_csv;
  std::vector<std::string> creation_options, config_pairs, projwin_args, tr_args;
  std::string bbox_arg, bbox_crs, cutline, t_srs;
  RuntimeSettings settings;
  TilingOptions tiling;
  bool overwrite = false, quiet = false, greedy = false, probabilities = false, harmonise = false,
       pixel_grid = false;
  bool quicklook = false, resume = false;
  po::options_description options(
      "tm_generate: generate TerraMind modalities for a whole scene, georeferenced like the "
      "input\n\n"
      "usage: tm_generate --input S2L2A=scene.tif --to S1GRD,LULC --model MODEL.json --out-dir "
      "out\n\n"
      "       tm_generate --input S2L2A=scenes/ --model MODEL.json --out-dir out   (a batch)\n"
      "       tm_generate --stac item.json --model MODEL.json --out-dir out\n\n"
      "One Cloud-Optimized GeoTIFF per target, named <first input>_<TARGET>.tif. The scene is cut\n"
      "in overlapping windows and blended without seams. Each target of a window is generated\n"
      "from the inputs alone with its own random stream, so a target's pixels do not depend on\n"
      "which other targets are asked for (--chain-targets: the reference's chained order).\n"
      "A folder or an @list of files as input makes a batch: one output set per scene, a summary\n"
      "table at the end; a failing scene is reported and the others are done (exit 1 if any\n"
      "failed).\n\n"
      "options");
  std::vector<std::string> raster_modalities;  // the registry's, for --input's help
  for (const auto& m : ModalityRegistry::instance().modalities())
    if (m.is_image()) raster_modalities.push_back(m.name);
  const std::string input_help =
      "MODALITY=PATH, repeatable (" + join(raster_modalities, ", ") +
      "); all on one grid. PATH: a raster, a folder of rasters or @LIST (a file per line): a "
      "batch, modalities paired by file name (folders) or line (lists)";
  options.add_options()("help,h", "show this help")("version", "print the tm version")(
      "input,i", po::value(&input_args)->multitoken(), input_help.c_str())(
      "stac", po::value(&stac),
      "a STAC item JSON (a folder of them, or "
      "@LIST) as input: its assets are mapped "
      "to modalities by band names")(
      "stac-modalities", po::value(&stac_modalities),
      "modalities to take from STAC items, comma-separated (default: every complete one, "
      "without those inside another, as S2RGB inside S2L2A)")(
      "to,t", po::value(&targets_arg),
      "targets, comma-separated (default: every target of the model that is not an "
      "input)")("model,m", po::value(&settings.model),
                "model card (.json naming checkpoint and tokenizers), or an official model name "
                "(tm_models list: downloaded into the model cache on first use); default: the "
                "built-in demo model (sample_data/demo_model, also --model demo)")(
      "out-dir,o", po::value(&out_dir)->default_value("."), "output folder");
  add_shared_options(options);
  options.add_options()("greedy", po::bool_switch(&greedy),
                        "arg-max tokens (temperature 0): deterministic, seamless")(
      "harmonise-dem", po::bool_switch(&harmonise),
      "align per-window DEM offsets on their overlaps")(
      "probabilities", po::bool_switch(&probabilities), "also write LULC class probabilities")(
      "pixel-grid", po::bool_switch(&pixel_grid), "accept inputs without georeferencing")(
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
      "quicklook", po::bool_switch(&quicklook),
      "also write a PNG quicklook per target (<scene>_<TARGET>.png: S1 dB stretch, DEM "
      "hillshade, LULC palette, NDVI colour ramp)")(
      "resume", po::bool_switch(&resume),
      "keep finished rows in a checkpoint beside the temporary outputs and continue an "
      "interrupted run of the same settings; in a batch, scenes whose outputs exist are passed "
      "over")("summary", po::value(&summary_csv), "write the batch summary table as CSV here")(
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
  if (input_args.empty() && stac.empty()) {
    std::cerr << "tm_generate: --input (or --stac) is required (see --help)\n";
    return 2;
  }
  if (settings.model.empty()) {  // the built-in demo; say so, it is not the official model
    settings.model = default_model_card();
    if (settings.model.empty()) {
      std::cerr << "tm_generate: no --model given and the built-in demo model is not installed "
                   "(sample_data/demo_model); pass --model terramind_v1_base or a card\n";
      return 2;
    }
    std::cerr << "tm_generate: using the built-in demo model (" << settings.model
              << "), trained by tm on a handful of samples; --model terramind_v1_base (or "
                 "_tiny, _small, _large) runs the official TerraMind\n";
  }
  for (const auto& arg : input_args) {
    const auto eq = arg.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size()) {
      std::cerr << "tm_generate: --input takes MODALITY=PATH, got '" << arg << "'\n";
      return 2;
    }
  }
  try {
    apply_shared_options(vm, tiling, settings);
  } catch (const std::invalid_argument& e) {
    std::cerr << "tm_generate: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("of")) format = vm["of"].as<std::string>();
  format = to_lower(format);
  if (format != "cog" && format != "gtiff") {
    std::cerr << "tm_generate: --format (-of) must be COG or GTiff\n";
    return 2;
  }
  if (config_pairs.size() % 2 != 0) {
    std::cerr << "tm_generate: --config takes KEY VALUE pairs\n";
    return 2;
  }
  SceneOptions scene_options;
  try {
    scene_options.area = area_of_interest(projwin_args, bbox_arg, bbox_crs, cutline);
    tiling.write.grid = output_grid(t_srs, tr_args);
  } catch (const std::invalid_argument& e) {
    std::cerr << "tm_generate: " << e.what() << "\n";
    return 2;
  }
  tiling.write.creation_options = creation_options;
  if (greedy) settings.temperature = 0.0;
  settings.targets = split(targets_arg, ',');
  tiling.open.allow_ungeoreferenced = pixel_grid;
  tiling.write.overwrite = overwrite;
  tiling.write.format = format == "cog" ? OutputFormat::kCOG : OutputFormat::kGTiff;
  tiling.resume = resume;
  tiling.write.resumable = resume;
  scene_options.out_dir = out_dir;
  scene_options.tiling = tiling;
  scene_options.targets = settings.targets;
  scene_options.stac_modalities = split(stac_modalities, ',');
  scene_options.probabilities = probabilities;
  scene_options.harmonise = harmonise;
  scene_options.pixel_grid = pixel_grid;
  scene_options.allow_resolution = tiling.open.allow_any_resolution;
  scene_options.overwrite = overwrite;
  scene_options.quicklook = quicklook;
  scene_options.resume = resume;

  install_interrupt_handlers();
  std::vector<SceneJob> jobs;
  bool batch = false;
  std::unique_ptr<WindowModel> model;
  std::vector<SceneResult> results;
  std::vector<std::vector<SceneInput>> inputs_of;  // per job, after the checks
  try {
    // Cheap checks first: settings, outputs and inputs, before the model loads. A missing output
    // folder is made, as users of --out-dir expect.
    validate(settings);
    for (std::size_t i = 0; i + 1 < config_pairs.size(); i += 2)
      set_gdal_config(config_pairs[i], config_pairs[i + 1]);
    for (const auto& option : creation_options) check_creation_option(option, tiling.write.format);
    require_local_output(out_dir);
    if (!summary_csv.empty()) require_local_output(summary_csv);
    jobs = scene_jobs(input_args, stac);
    batch = jobs.size() > 1 || is_batch(input_args, stac);
    std::error_code made;
    std::filesystem::create_directories(out_dir, made);
    if (made) throw RasterError("cannot create output folder " + out_dir + ": " + made.message());
    for (const SceneJob& job : jobs) {
      std::vector<std::string> warnings;
      try {
        inputs_of.push_back(checked_inputs(job, scene_options, warnings));
        results.push_back({job.name, "", 0, 0.0, {}, ""});
      } catch (const std::exception& e) {
        if (!batch) throw;  // one scene: fail before the model loads, as ever
        inputs_of.emplace_back();
        results.push_back({job.name, "FAILED", 0, 0.0, {}, e.what()});
      }
      if (!quiet)
        for (const auto& w : warnings) std::cerr << "warning: " << w << "\n";
    }
    model = open_terramind_window_model(settings);
  } catch (const Interrupted&) {
    std::cerr << "\ntm_generate: interrupted, no output written\n";
    return 130;
  } catch (const std::exception& e) {
    std::cerr << "tm_generate: " << e.what() << "\n";
    return 1;
  }

  bool interrupted = false;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    SceneResult& result = results[i];
    if (!result.status.empty()) continue;  // failed its checks
    if (interrupted) {
      result.status = "not run";
      continue;
    }
    try {
      result = generate_one(jobs[i], inputs_of[i], *model, scene_options, quiet, batch);
      if (!batch && !quiet && result.status == "skipped")
        std::printf("nothing to do: %s (--resume; --overwrite makes them again)\n",
                    result.note.c_str());
    } catch (const Interrupted&) {
      interrupted = true;
      result.status = "interrupted";
      result.note = resume ? "interrupted; rerun with --resume to continue"
                           : "interrupted; no output written";
      if (!batch) {
        std::cerr << "\ntm_generate: interrupted, no output written"
                  << (resume ? " (rerun with --resume to continue)" : "") << "\n";
        return 130;
      }
    } catch (const std::exception& e) {
      if (!batch) {
        std::cerr << "tm_generate: " << e.what() << "\n";
        return 1;
      }
      result.status = "FAILED";
      result.note = e.what();
      std::cerr << "tm_generate: " << jobs[i].name << ": " << e.what() << "\n";
    }
  }
  if (!batch) return 0;
  std::size_t failed = 0, done = 0;
  for (const auto& r : results) {
    failed += r.status == "FAILED";
    done += r.status == "ok" || r.status == "skipped";
  }
  print_summary(results);
  std::printf("%zu of %zu scenes done, %zu failed%s\n", done, results.size(), failed,
              interrupted ? ", interrupted" : "");
  if (!summary_csv.empty()) {
    try {
      write_summary_csv(summary_csv, results);
    } catch (const std::exception& e) {
      std::cerr << "tm_generate: " << e.what() << "\n";
      return 1;
    }
  }
  if (interrupted) return 130;
  return failed > 0 ? 1 : 0;
}
