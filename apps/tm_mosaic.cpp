// tm_mosaic: continent-scale mosaics as tile jobs on existing schedulers (tm/mosaic.h).
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "runtime_library.h"
#include "shared_options.h"
#include "tm/ascii_strings.h"
#include "tm/model_cache.h"
#include "tm/mosaic.h"
#include "tm/runtime.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;
using namespace terramind;

namespace {

constexpr const char* kUsage =
    "tm_mosaic: continent-scale mosaics as tile jobs on existing schedulers\n\n"
    "usage: tm_mosaic plan SCENES... --out DIR --to LULC [--t-srs EPSG:3035 --tr 10 10]\n"
    "       tm_mosaic run DIR [--shard I --shards N]   (or the scheduler's array index)\n"
    "       tm_mosaic status DIR [--shards N]\n"
    "       tm_mosaic assemble DIR [--cog]\n\n"
    "plan cuts the target grid into output tiles and names the scenes feeding each; run makes\n"
    "the tiles of one shard (Slurm SLURM_ARRAY_TASK_ID, Kubernetes JOB_COMPLETION_INDEX, AWS\n"
    "AWS_BATCH_JOB_ARRAY_INDEX, or --shard), skipping finished ones, so any number of workers\n"
    "and reruns can share DIR; assemble writes mosaic_<TARGET>.vrt (+ overviews, --cog a COG).\n"
    "`tm_mosaic COMMAND --help` shows one command's options; all of them follow.\n";

int usage_error(const std::string& command, const std::string& message) {
  std::cerr << "tm_mosaic " << command << ": " << message << " (see tm_mosaic " << command
            << " --help)\n";
  return 2;
}

po::variables_map parse(int argc, char** argv, const po::options_description& options,
                        const po::positional_options_description& positional) {
  const int style =
      (po::command_line_style::default_style | po::command_line_style::allow_long_disguise) &
      ~po::command_line_style::allow_guessing;
  po::variables_map vm;
  po::store(po::command_line_parser(argc, argv)
                .options(options)
                .positional(positional)
                .style(style)
                .run(),
            vm);
  po::notify(vm);
  return vm;
}

double parse_number(const std::string& text, const char* option) {
  try {
    std::size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  throw std::invalid_argument(std::string(option) + ": '" + text + "' is not a number");
}

std::string absolute_if_file(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec) ? fs::absolute(path).lexically_normal().string() : path;
}

// ---------------------------------------------------------------------------------------------
int plan_command(int argc, char** argv) {
  std::vector<std::string> sources, tr, runtime_options;
  std::string out, modality = "S2L2A", t_srs, bounds, bounds_crs, aoi, model, targets, runtime,
                   rule = "first", resampling = "bilinear", format = "cog";
  int tile_size = 1024;
  bool greedy = false, overwrite = false;
  po::options_description options(
      "tm_mosaic plan: the job plan of a mosaic (DIR/plan.json)\n\n"
      "usage: tm_mosaic plan SCENES... --out DIR --to LULC [options]\n\n"
      "SCENES: rasters, folders of rasters, @LIST text files (a path per line) or JSON item\n"
      "lists (STAC-like FeatureCollection / ItemCollection: id, properties.datetime, geometry in\n"
      "EPSG:4326, assets keyed by modality). Tiles are squares of the target grid anchored at\n"
      "the CRS origin (names c<col>_r<row>); each is generated over the windows that touch it,\n"
      "so tiles meet without seams.\n\nplan options");
  options.add_options()("help,h", "show this help")("scenes", po::value(&sources)->multitoken(),
                                                    "the scenes (also as positional arguments)")(
      "modality", po::value(&modality)->default_value(modality), "modality of plain raster files")(
      "out,o", po::value(&out), "the mosaic folder (made if missing)")(
      "t-srs", po::value(&t_srs), "target CRS (default: the scenes' one CRS)")(
      "tr", po::value(&tr)->multitoken(),
      "xres [yres]: target pixel size (default: the first "
      "scene's)")("tile-size", po::value(&tile_size)->default_value(tile_size),
                  "output tile side in pixels")(
      "bounds", po::value(&bounds), "minx,miny,maxx,maxy: only tiles touching this box")(
      "bounds-crs", po::value(&bounds_crs), "CRS of --bounds (default: the target CRS)")(
      "aoi", po::value(&aoi), "vector file (OGR): only tiles touching its polygons")(
      "to,t", po::value(&targets), "targets, comma-separated (required)")(
      "model,m", po::value(&model),
      "model card, official model name or demo (default: the built-in demo); with --runtime, "
      "the runtime's model name")("greedy", po::bool_switch(&greedy),
                                  "arg-max tokens (temperature 0)");
  add_shared_options(options);
  options.add_options()("rule", po::value(&rule)->default_value(rule),
                        "overlapping scenes: first (earliest with data), latest, or mean")(
      "resampling", po::value(&resampling)->default_value(resampling),
      "warping inputs into the grid: near, bilinear, cubic ...")(
      "format", po::value(&format)->default_value(format), "tiles: cog or gtiff")(
      "runtime", po::value(&runtime),
      "a model runtime library (gdal_plugin/tm_runtime_api.h) instead of the built-in TerraMind")(
      "runtime-option", po::value(&runtime_options)->composing(),
      "KEY=VALUE passed to the runtime library, repeatable")(
      "overwrite", po::bool_switch(&overwrite), "replace an existing plan in --out");
  po::positional_options_description positional;
  positional.add("scenes", -1);
  po::variables_map vm;
  try {
    vm = parse(argc, argv, options, positional);
  } catch (const po::error& e) {
    return usage_error("plan", e.what());
  }
  if (vm.count("help")) {
    std::cout << options;
    return 0;
  }
  if (sources.empty()) return usage_error("plan", "no scenes given");
  if (out.empty()) return usage_error("plan", "--out (the mosaic folder) is required");
  PlanRequest request;
  try {
    request.settings = given_shared_settings(vm);
    request.settings.erase("threads");  // a worker's own business (tm_mosaic run --threads)
    if (greedy) request.settings["opt.temperature"] = "0";
    TilingOptions tiling;
    RuntimeSettings runtime_settings;
    apply_shared_options(vm, tiling, runtime_settings);  // names a bad option's value
    request.allow_any_resolution = tiling.open.allow_any_resolution;
    request.targets = split(targets, ',');
    if (request.targets.empty()) return usage_error("plan", "--to is required (e.g. --to LULC)");
    if (!tr.empty()) {
      if (tr.size() > 2) return usage_error("plan", "--tr takes xres [yres]");
      request.grid.res_x = std::abs(parse_number(tr[0], "--tr"));
      request.grid.res_y = std::abs(parse_number(tr.size() == 2 ? tr[1] : tr[0], "--tr"));
      if (request.grid.res_x <= 0 || request.grid.res_y <= 0)
        return usage_error("plan", "--tr: pixel sizes must be positive");
    }
    request.grid.crs = t_srs;
    request.grid.tile_size = tile_size;
    if (!bounds.empty()) {
      const auto parts = split(bounds, ',');
      if (parts.size() != 4) return usage_error("plan", "--bounds takes minx,miny,maxx,maxy");
      for (int i = 0; i < 4; ++i) request.bounds[i] = parse_number(parts[i], "--bounds");
      request.has_bounds = true;
    } else if (!bounds_crs.empty()) {
      return usage_error("plan", "--bounds-crs needs --bounds");
    }
    request.bounds_crs = bounds_crs;
    request.aoi = aoi;
    request.rule = composite_rule_from_string(rule);
    request.resampling = resampling;
    format = to_lower(format);
    if (format != "cog" && format != "gtiff") return usage_error("plan", "--format: cog or gtiff");
    request.format = format == "cog" ? "COG" : "GTiff";
    for (const auto& kv : runtime_options) {
      const auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0)
        return usage_error("plan", "--runtime-option takes KEY=VALUE, got '" + kv + "'");
      request.runtime_options[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    if (!runtime.empty()) {
      request.runtime_library = fs::absolute(runtime).string();
      load_runtime_library(request.runtime_library);  // refuse a bad library now, not per worker
      request.model = model;
    } else {
      request.model =
          model.empty() || model == "demo" ? default_model_card() : absolute_if_file(model);
      if (request.model.empty())
        throw std::invalid_argument(
            "no --model given and the built-in demo model is not "
            "installed");
    }
  } catch (const std::exception& e) {
    return usage_error("plan", e.what());
  }
  try {
    const MosaicPaths paths(out);
    if (fs::exists(paths.plan()) && !overwrite)
      throw MosaicError(paths.plan() +
                        " exists: a mosaic folder holds one plan (--overwrite "
                        "replaces it; finished tiles of unchanged settings are kept)");
    request.scenes = read_scene_sources(sources, modality);
    for (auto& scene : request.scenes)
      for (auto& [m, path] : scene.inputs) path = absolute_if_file(path);
    const auto t0 = std::chrono::steady_clock::now();
    const MosaicPlan plan = make_plan(request);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fs::create_directories(out);
    write_plan(plan, paths.plan());
    std::size_t no_input = 0;
    for (const auto& t : plan.tiles) no_input += t.scenes.empty();
    for (const auto& w : plan.warnings) std::cerr << "warning: " << w << "\n";
    std::printf("plan        %s\n", paths.plan().c_str());
    std::printf("grid        %s, %g x %g per pixel, tiles of %d px\n", plan.grid.crs.c_str(),
                plan.grid.res_x, plan.grid.res_y, plan.grid.tile_size);
    std::printf("scenes      %zu (%zu left out)\n", plan.scenes.size(), plan.warnings.size());
    std::printf("tiles       %zu (%zu without input)\n", plan.tiles.size(), no_input);
    std::printf("planned in  %.2f s\n", seconds);
  } catch (const std::exception& e) {
    std::cerr << "tm_mosaic plan: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

// The plan's model: the built-in TerraMind runtime, or the plan's runtime library.
struct OpenedModel {
  std::unique_ptr<WindowModel> builtin;
  RuntimeModelPtr external;
  WindowModel& get() { return builtin ? *builtin : *external; }
};

OpenedModel open_plan_model(const MosaicPlan& plan, int threads) {
  RuntimeSettings settings = plan_runtime_settings(plan);
  if (threads > 0) settings.threads = threads;
  OpenedModel model;
  if (plan.runtime_library.empty()) {
    validate(settings);
    model.builtin = open_terramind_window_model(settings);
    return model;
  }
  nlohmann::json json = {{"model", plan.model}};
  if (plan.settings.count("steps")) json["steps"] = settings.diffusion_steps;
  if (plan.settings.count("seed")) json["seed"] = settings.seed;
  if (plan.settings.count("device")) json["device"] = settings.device;
  if (threads > 0) json["threads"] = threads;
  if (!plan.runtime_options.empty()) json["options"] = plan.runtime_options;
  model.external = open_runtime_model(load_runtime_library(plan.runtime_library), json.dump());
  return model;
}

int run_command(int argc, char** argv) {
  std::string folder, worker;
  int shard = -1, shards = -1, threads = 0;
  bool quiet = false;
  po::options_description options(
      "tm_mosaic run: make the tiles of one shard\n\n"
      "usage: tm_mosaic run DIR [--shard I --shards N]\n\n"
      "The shard comes from --shard, else SLURM_ARRAY_TASK_ID (- SLURM_ARRAY_TASK_MIN, of\n"
      "SLURM_ARRAY_TASK_COUNT), JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or\n"
      "AWS_BATCH_JOB_ARRAY_INDEX, with --shards or TM_SHARD_COUNT for the count; else all tiles.\n"
      "Finished tiles are skipped, tiles another live worker holds are left to it, a killed\n"
      "worker's tile is made again. Exit 1 when a tile failed (the others are done).\n\nrun "
      "options");
  options.add_options()("help,h", "show this help")("folder", po::value(&folder),
                                                    "the mosaic folder (tm_mosaic plan --out)")(
      "shard", po::value(&shard), "this worker's shard index, from 0")("shards", po::value(&shards),
                                                                       "the number of shards")(
      "threads", po::value(&threads)->default_value(0), "threads (0: all cores)")(
      "worker", po::value(&worker), "this worker's name in markers (default host:pid)")(
      "quiet,q", po::bool_switch(&quiet), "no per-tile lines");
  po::positional_options_description positional;
  positional.add("folder", 1);
  po::variables_map vm;
  try {
    vm = parse(argc, argv, options, positional);
  } catch (const po::error& e) {
    return usage_error("run", e.what());
  }
  if (vm.count("help")) {
    std::cout << options;
    return 0;
  }
  if (folder.empty()) return usage_error("run", "the mosaic folder is required");
  if (threads < 0) return usage_error("run", "--threads must be >= 0");
  install_interrupt_handlers();
  try {
    const MosaicPaths paths(folder);
    const MosaicPlan plan = read_plan(paths.plan());
    const Shard s =
        shard_from_environment(vm.count("shard") ? std::optional<int>(shard) : std::nullopt,
                               vm.count("shards") ? std::optional<int>(shards) : std::nullopt);
    OpenedModel model = open_plan_model(plan, threads);
    RunOptions run;
    run.threads = threads;
    run.worker = worker;
    if (!quiet)
      run.progress = [](const TileOutcome& o, std::size_t done, std::size_t total) {
        if (o.state == "skipped" || o.state == "no input") return;
        std::fprintf(stderr, "[%zu/%zu] %s %s", done, total, o.tile.name().c_str(),
                     o.state.c_str());
        if (o.seconds > 0) std::fprintf(stderr, " in %.1f s", o.seconds);
        if (!o.error.empty()) std::fprintf(stderr, ": %s", o.error.c_str());
        std::fprintf(stderr, "\n");
      };
    const RunReport report = run_shard(plan, paths, s, model.get(), run);
    const std::size_t tiles = report.tiles.size();
    std::printf(
        "shard %d of %d (%s): %zu tiles: %zu made, %zu already done, %zu empty, %zu busy "
        "(another worker), %zu without input, %zu failed in %.1f s (%.2f tiles/s)\n",
        s.index, s.count, s.source.c_str(), tiles, report.made, report.skipped, report.empty,
        report.busy, report.no_input, report.failed, report.seconds,
        report.made / std::max(report.seconds, 1e-9));
    return report.failed > 0 ? 1 : 0;
  } catch (const Interrupted&) {
    std::cerr << "\ntm_mosaic run: interrupted; the tile in hand is made again by the next run\n";
    return 130;
  } catch (const std::exception& e) {
    std::cerr << "tm_mosaic run: " << e.what() << "\n";
    return 1;
  }
}

int status_command(int argc, char** argv) {
  std::string folder;
  int shards = 1;
  bool as_json = false;
  po::options_description options(
      "tm_mosaic status: done / failed / pending tiles per shard\n\n"
      "usage: tm_mosaic status DIR [--shards N] [--json]\n\nstatus options");
  options.add_options()("help,h", "show this help")("folder", po::value(&folder),
                                                    "the mosaic folder")(
      "shards", po::value(&shards)->default_value(1), "group the tiles as N shards")(
      "json", po::bool_switch(&as_json), "machine-readable output");
  po::positional_options_description positional;
  positional.add("folder", 1);
  po::variables_map vm;
  try {
    vm = parse(argc, argv, options, positional);
  } catch (const po::error& e) {
    return usage_error("status", e.what());
  }
  if (vm.count("help")) {
    std::cout << options;
    return 0;
  }
  if (folder.empty()) return usage_error("status", "the mosaic folder is required");
  try {
    const MosaicPaths paths(folder);
    const MosaicPlan plan = read_plan(paths.plan());
    const MosaicStatus status = mosaic_status(plan, paths, shards);
    auto row = [](const ShardStatus& s) {
      return nlohmann::json{{"tiles", s.tiles},      {"done", s.done},       {"empty", s.empty},
                            {"failed", s.failed},    {"pending", s.pending}, {"stale", s.stale},
                            {"no_input", s.no_input}};
    };
    if (as_json) {
      nlohmann::json j = {{"complete", status.complete()}, {"total", row(status.total)}};
      for (const auto& s : status.shards) j["shards"].push_back(row(s));
      j["failures"] = nlohmann::json::array();
      for (const auto& f : status.failures)
        j["failures"].push_back({{"tile", f.tile.name()}, {"shard", f.shard}, {"error", f.error}});
      j["plan_warnings"] = plan.warnings;
      std::cout << j.dump(1) << "\n";
      return 0;
    }
    std::printf("%-7s %7s %7s %7s %7s %7s %7s %9s\n", "shard", "tiles", "done", "empty", "failed",
                "pending", "stale", "no input");
    auto print = [](const std::string& name, const ShardStatus& s) {
      std::printf("%-7s %7zu %7zu %7zu %7zu %7zu %7zu %9zu\n", name.c_str(), s.tiles, s.done,
                  s.empty, s.failed, s.pending, s.stale, s.no_input);
    };
    for (const auto& s : status.shards) print(std::to_string(s.shard), s);
    print("all", status.total);
    for (const auto& f : status.failures)
      std::printf("failed  %s (shard %d): %s\n", f.tile.name().c_str(), f.shard, f.error.c_str());
    for (const auto& w : plan.warnings) std::printf("planned without: %s\n", w.c_str());
    std::printf("%s\n", status.complete() ? "complete: ready to assemble"
                                          : "not complete: run the shards with pending, failed "
                                            "or stale tiles (again)");
  } catch (const std::exception& e) {
    std::cerr << "tm_mosaic status: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

int assemble_command(int argc, char** argv) {
  std::string folder;
  AssembleOptions assemble;
  bool no_overviews = false;
  po::options_description options(
      "tm_mosaic assemble: mosaic_<TARGET>.vrt over the finished tiles\n\n"
      "usage: tm_mosaic assemble DIR [--cog]\n\nassemble options");
  options.add_options()("help,h", "show this help")("folder", po::value(&folder),
                                                    "the mosaic folder")(
      "cog", po::bool_switch(&assemble.cog), "also write mosaic_<TARGET>.tif as one COG")(
      "no-overviews", po::bool_switch(&no_overviews), "no overviews (.vrt.ovr)")(
      "allow-incomplete", po::bool_switch(&assemble.allow_incomplete),
      "assemble the finished tiles even when others are missing");
  po::positional_options_description positional;
  positional.add("folder", 1);
  po::variables_map vm;
  try {
    vm = parse(argc, argv, options, positional);
  } catch (const po::error& e) {
    return usage_error("assemble", e.what());
  }
  if (vm.count("help")) {
    std::cout << options;
    return 0;
  }
  if (folder.empty()) return usage_error("assemble", "the mosaic folder is required");
  assemble.overviews = !no_overviews;
  try {
    const MosaicPaths paths(folder);
    const MosaicPlan plan = read_plan(paths.plan());
    const AssembleReport report = assemble_mosaic(plan, paths, assemble);
    std::printf(
        "assembled   %zu tiles%s\n", report.tiles,
        report.missing ? (" (" + std::to_string(report.missing) + " missing)").c_str() : "");
    for (const auto& o : report.outputs) std::printf("wrote       %s\n", o.c_str());
    for (const auto& n : report.notes) std::printf("note        %s\n", n.c_str());
  } catch (const std::exception& e) {
    std::cerr << "tm_mosaic assemble: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    // Every command's options, for one page (and the man page made from it).
    for (auto* run : {plan_command, run_command, status_command, assemble_command}) {
      char name[] = "tm_mosaic", help[] = "--help";
      char* args[] = {name, help, nullptr};
      std::cout << "\n";
      run(2, args);
    }
    return 0;
  }
  if (command == "--version") {
    std::cout << "tm_mosaic (tm) " << tm_version() << "\n";
    return 0;
  }
  if (command == "plan") return plan_command(argc - 1, argv + 1);
  if (command == "run") return run_command(argc - 1, argv + 1);
  if (command == "status") return status_command(argc - 1, argv + 1);
  if (command == "assemble") return assemble_command(argc - 1, argv + 1);
  std::cerr << (command.empty() ? std::string("tm_mosaic: no command given")
                                : "tm_mosaic: unknown command '" + command + "'")
            << "\n\n"
            << kUsage;
  return 2;
}
