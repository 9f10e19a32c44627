// bench_mosaic: how tm_mosaic scales. Planning time against the number of output tiles (up to
// 100,000, from item footprints: no raster is opened), and tiles/s of run_shard against the
// number of scenes and tiles (synthetic scenes in two UTM zones warped into EPSG:3035, a cheap
// model), so linear growth shows as a constant cost per tile. Prints figures; not a test.
#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "synthetic_scene.h"
#include "tm/mosaic.h"
#include "tm/tiling.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;
using namespace terramind;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// LULC from a band ratio: a few flops per pixel, so the figures are tm_mosaic's own costs.
class CheapModel : public WindowModel {
 public:
  std::vector<std::string> targets() const override { return {"LULC"}; }
  TargetSpec spec(const std::string&) const override {
    TargetSpec spec;
    spec.name = "LULC";
    spec.is_classes = true;
    spec.classes = ModalityRegistry::instance().lulc_classes();
    spec.channels = static_cast<int>(spec.classes.size());
    spec.nodata = 0;
    return spec;
  }
  bool accepts_input(const std::string& m) const override { return m == "S2L2A"; }
  std::optional<StatsVersion> input_standardisation() const override { return StatsVersion::kV1; }
  void infer(const InputBatch& in, OutputBatch& out) override {
    const std::size_t plane = static_cast<std::size_t>(in.window_size) * in.window_size;
    for (auto& t : out.targets) {
      std::fill(t.values.begin(), t.values.end(), 0.0f);
      for (int k = 0; k < in.count; ++k)
        for (std::size_t p = 0; p < plane; ++p) {
          const float nir = in.inputs[0].values[(k * 12 + 7) * plane + p];
          const int cls = 1 + static_cast<int>(std::fabs(nir) * 3) % (t.channels - 1);
          t.values[(static_cast<std::size_t>(k) * t.channels + cls) * plane + p] = 1.0f;
        }
    }
  }
};

std::string square(double lon, double lat, double side) {
  return nlohmann::json{
      {"type", "Polygon"},
      {"coordinates",
       {{{lon, lat}, {lon + side, lat}, {lon + side, lat + side}, {lon, lat + side}, {lon, lat}}}}}
      .dump();
}

void bench_planning(const std::vector<int>& scene_sides) {
  std::printf("planning (item footprints of 0.1 x 0.1 deg, EPSG:3035 at 10 m, 256-px tiles)\n");
  std::printf("%8s %9s %9s %12s\n", "scenes", "tiles", "seconds", "us per tile");
  for (int side : scene_sides) {
    PlanRequest r;
    for (int i = 0; i < side; ++i)
      for (int j = 0; j < side; ++j) {
        MosaicScene s;
        s.id = "s" + std::to_string(i) + "_" + std::to_string(j);
        s.inputs["S2L2A"] = "/data/" + s.id + ".tif";
        s.footprint_source_wkt = square(-5.0 + i * 0.09, 40.0 + j * 0.09, 0.1);
        r.scenes.push_back(std::move(s));
      }
    r.grid.crs = "EPSG:3035";
    r.grid.res_x = r.grid.res_y = 10.0;
    r.grid.tile_size = 256;
    r.targets = {"LULC"};
    r.model = "model.json";
    const auto t0 = std::chrono::steady_clock::now();
    const MosaicPlan plan = make_plan(r);
    const double s = seconds_since(t0);
    std::printf("%8zu %9zu %9.2f %12.1f\n", plan.scenes.size(), plan.tiles.size(), s,
                1e6 * s / plan.tiles.size());
  }
}

void bench_running(const std::string& dir, const std::vector<int>& per_zone, int scene_px,
                   int tile_px) {
  std::printf(
      "\nrunning (%d-px synthetic scenes in UTM 31N and 32N -> EPSG:3035, %d-px tiles, "
      "224-px windows, a cheap model)\n",
      scene_px, tile_px);
  std::printf("%8s %7s %9s %8s %12s\n", "scenes", "tiles", "seconds", "tiles/s", "ms per tile");
  for (int n : per_zone) {
    const std::string root = dir + "/run" + std::to_string(n);
    fs::remove_all(root);
    fs::create_directories(root + "/scenes");
    std::vector<MosaicScene> scenes;
    int seed = 0;
    for (int zone : {31, 32})
      for (int k = 0; k < n; ++k) {
        sample::SceneSpec spec;
        spec.width = spec.height = scene_px;
        spec.seed = ++seed;
        spec.epsg = 32600 + zone;
        // One row per zone, 32 px of overlap: every size has the same share of shared tiles.
        spec.origin_x = (zone == 31 ? 716000.0 : 277000.0) + k * (scene_px - 32) * 10.0;
        spec.origin_y = 5322000.0;
        spec.nodata_fraction = 0.0;
        const sample::SyntheticScene scene(spec);
        RasterSpec raster;
        raster.width = raster.height = scene_px;
        raster.bands = 12;
        raster.data_type = "UInt16";
        raster.nodata = 0;
        raster.georef.has_geotransform = true;
        raster.georef.geotransform = scene.geotransform();
        raster.georef.crs_wkt = crs_to_wkt("EPSG:" + std::to_string(spec.epsg));
        WriteOptions w;
        w.format = OutputFormat::kGTiff;
        const std::string path = root + "/scenes/s" + std::to_string(seed) + ".tif";
        AtomicRasterWriter writer(path, raster, w);
        writer.write(PixelWindow{0, 0, scene_px, scene_px},
                     scene.reflectance_rows(0, scene_px).data());
        writer.commit();
        MosaicScene s;
        s.id = "s" + std::to_string(seed);
        s.inputs["S2L2A"] = path;
        scenes.push_back(s);
      }
    PlanRequest r;
    r.scenes = scenes;
    r.grid.crs = "EPSG:3035";
    r.grid.res_x = r.grid.res_y = 10.0;
    r.grid.tile_size = tile_px;
    r.targets = {"LULC"};
    r.model = "cheap";
    r.settings = {{"window", "224"}, {"overlap", "32"}, {"batch", "8"}};
    const MosaicPlan plan = make_plan(r);
    CheapModel model;
    const auto t0 = std::chrono::steady_clock::now();
    const RunReport report = run_shard(plan, MosaicPaths(root + "/mosaic"), Shard{}, model);
    const double s = seconds_since(t0);
    std::printf("%8zu %7zu %9.1f %8.2f %12.0f\n", scenes.size(), report.made, s, report.made / s,
                1e3 * s / std::max<std::size_t>(report.made, 1));
    fs::remove_all(root);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp/bench_mosaic";
  std::vector<int> plan_sides{10, 30, 95}, per_zone{4, 8, 16};
  int scene_px = 512, tile_px = 256;
  po::options_description options("bench_mosaic: tm_mosaic planning and running at growing sizes");
  options.add_options()("help,h", "show this help")("dir", po::value(&dir)->default_value(dir),
                                                    "scratch folder")(
      "plan-sides", po::value(&plan_sides)->multitoken(),
      "planning: scene grids of N x N items (default 10 30 95: about 1 K, 10 K, 100 K tiles)")(
      "scenes-per-zone", po::value(&per_zone)->multitoken(),
      "running: scenes per UTM zone (default 4 8 16)")(
      "scene-size", po::value(&scene_px)->default_value(scene_px), "scene side in px")(
      "tile-size", po::value(&tile_px)->default_value(tile_px), "output tile side in px");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, options), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "bench_mosaic: %s\n", e.what());
    return 2;
  }
  if (vm.count("help")) {
    std::cout << options;
    return 0;
  }
  try {
    bench_planning(plan_sides);
    bench_running(dir, per_zone, scene_px, tile_px);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_mosaic: %s\n", e.what());
    return 1;
  }
  return 0;
}
