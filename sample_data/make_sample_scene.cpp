// tm_make_sample: writes the deterministic synthetic S2L2A scene (and optionally its true
// land-cover map) used by the demo, the tests and the benchmarks.
#include <boost/program_options.hpp>
#include <iostream>
#include <vector>

#include "synthetic_scene.h"
#include "tm/tiling.h"

namespace po = boost::program_options;
using namespace terramind;

namespace {

RasterSpec base_spec(const sample::SyntheticScene& scene) {
  RasterSpec spec;
  spec.width = scene.spec().width;
  spec.height = scene.spec().height;
  spec.georef.has_geotransform = true;
  spec.georef.geotransform = scene.geotransform();
  spec.georef.crs_wkt = crs_to_wkt("EPSG:" + std::to_string(scene.spec().epsg));
  spec.metadata["TM_SYNTHETIC_SEED"] = std::to_string(scene.spec().seed);
  spec.metadata["TM_GENERATOR"] = "tm_make_sample";
  return spec;
}

void write_scene(const sample::SyntheticScene& scene, const std::string& path,
                 const WriteOptions& options, bool quiet) {
  const Modality& s2 = ModalityRegistry::instance().get("S2L2A");
  RasterSpec spec = base_spec(scene);
  spec.bands = s2.channels();
  spec.data_type = "UInt16";
  spec.nodata = sample::kNodata;
  for (const auto& band : s2.bands) spec.band_descriptions.push_back(band.name);
  AtomicRasterWriter writer(path, spec, options);
  const int strip = 256;
  for (int y = 0; y < spec.height; y += strip) {
    const int rows = std::min(strip, spec.height - y);
    writer.write(PixelWindow{0, y, spec.width, rows}, scene.reflectance_rows(y, rows).data());
    if (!quiet) std::cerr << "\rS2L2A rows " << y + rows << "/" << spec.height << std::flush;
  }
  writer.commit();
  if (!quiet) std::cerr << "\nwrote " << path << "\n";
}

void write_land_cover(const sample::SyntheticScene& scene, const std::string& path,
                      const WriteOptions& options, bool quiet) {
  RasterSpec spec = base_spec(scene);
  spec.bands = 1;
  spec.data_type = "Byte";
  spec.nodata = 0;
  spec.band_descriptions = {"LULC"};
  spec.classes = ModalityRegistry::instance().lulc_classes();
  AtomicRasterWriter writer(path, spec, options);
  const int strip = 256;
  for (int y = 0; y < spec.height; y += strip) {
    const int rows = std::min(strip, spec.height - y);
    writer.write(PixelWindow{0, y, spec.width, rows}, scene.land_cover_rows(y, rows).data());
  }
  writer.commit();
  if (!quiet) std::cerr << "wrote " << path << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description options("tm_make_sample: write the synthetic S2L2A sample scene");
  std::string out, lulc_out, format;
  sample::SceneSpec spec;
  std::vector<double> origin;
  bool overwrite = false, quiet = false;
  options.add_options()("help,h", "show this help")(
      "out,o", po::value(&out), "output GeoTIFF (12-band UInt16 S2L2A, nodata 0)")(
      "lulc-out", po::value(&lulc_out), "also write the true land-cover map (Byte, colour table)")(
      "size", po::value(&spec.width)->default_value(1024), "width and height in pixels")(
      "seed", po::value(&spec.seed)->default_value(42), "random seed (same seed, same file)")(
      "format", po::value(&format)->default_value("cog"), "cog or gtiff")(
      "epsg", po::value(&spec.epsg)->default_value(spec.epsg), "CRS of the scene (EPSG code)")(
      "origin", po::value(&origin)->multitoken(),
      "X Y: map position of the upper-left corner (default 600000 5300000)")(
      "pixel-size", po::value(&spec.pixel_size)->default_value(spec.pixel_size),
      "pixel size in CRS units")(
      "nodata-fraction", po::value(&spec.nodata_fraction)->default_value(spec.nodata_fraction),
      "share of each side cut by the nodata wedge (0: none)")(
      "overwrite", po::bool_switch(&overwrite), "replace existing outputs")(
      "quiet,q", po::bool_switch(&quiet), "no progress output");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, options), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "tm_make_sample: " << e.what() << "\n" << options;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << options;
    return 0;
  }
  if (out.empty()) {
    std::cerr << "tm_make_sample: --out is required\n" << options;
    return 2;
  }
  if (spec.width < 16 || spec.width > 100000) {
    std::cerr << "tm_make_sample: --size must be between 16 and 100000\n";
    return 2;
  }
  if (format != "cog" && format != "gtiff") {
    std::cerr << "tm_make_sample: --format must be cog or gtiff\n";
    return 2;
  }
  if (!origin.empty()) {
    if (origin.size() != 2) {
      std::cerr << "tm_make_sample: --origin takes X Y\n";
      return 2;
    }
    spec.origin_x = origin[0];
    spec.origin_y = origin[1];
  }
  if (!(spec.pixel_size > 0) || spec.nodata_fraction < 0 || spec.nodata_fraction >= 1) {
    std::cerr << "tm_make_sample: --pixel-size must be positive and --nodata-fraction in [0, 1)\n";
    return 2;
  }
  spec.height = spec.width;
  install_interrupt_handlers();
  try {
    WriteOptions write_options;
    write_options.format = format == "cog" ? OutputFormat::kCOG : OutputFormat::kGTiff;
    write_options.overwrite = overwrite;
    // Check both destinations before writing either.
    check_output_path(out, overwrite);
    if (!lulc_out.empty()) check_output_path(lulc_out, overwrite);
    const sample::SyntheticScene scene(spec);
    write_scene(scene, out, write_options, quiet);
    if (!lulc_out.empty()) write_land_cover(scene, lulc_out, write_options, quiet);
  } catch (const Interrupted&) {
    std::cerr << "\ntm_make_sample: interrupted, nothing written\n";
    return 130;
  } catch (const std::exception& e) {
    std::cerr << "tm_make_sample: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
