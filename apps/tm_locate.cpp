// tm_locate: where a TerraMind model thinks a scene was taken (the paper's geolocation): many
// draws of the coordinates modality, a probability raster on the 0.25 degree grid, a report.
#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "tm/evaluation.h"
#include "tm/registry.h"

namespace po = boost::program_options;
using namespace terramind;

int main(int argc, char** argv) {
  std::string scene, out;
  eval::LocateOptions options;
  if (const char* v = std::getenv("TM_TEXT_VOCABULARY")) options.vocabulary = v;
  bool quiet = false;
  po::options_description visible(
      "tm_locate: where a TerraMind model thinks a scene was taken\n\n"
      "usage: tm_locate SCENE --model MODEL --vocabulary TOKENIZER.json --out DIR [options]\n\n"
      "Draws the coordinates modality --samples times from the centre window of SCENE (the\n"
      "model's image size), counts the draws on TerraMind's 0.25 degree grid and writes\n"
      "DIR/location.tif (probabilities, EPSG:4326, summing to 1), location.png (heat map),\n"
      "location.json and location.html: the most likely cell and, for a georeferenced scene, its\n"
      "distance to the scene's centre and the expected distance over the map. The model needs a\n"
      "coordinates decoder (the official TerraMind v1 models have one; the demo does not);\n"
      "--vocabulary is the v1 WordPiece tokenizer JSON (also TM_TEXT_VOCABULARY).\n\n"
      "options");
  visible.add_options()("help,h", "show this help")("version", "print the tm version")(
      "model,m", po::value(&options.model), "model card, checkpoint or official name")(
      "vocabulary", po::value(&options.vocabulary), "the text tokenizer (WordPiece JSON)")(
      "modality", po::value(&options.modality)->default_value("S2L2A"), "what the scene is")(
      "samples", po::value(&options.samples)->default_value(options.samples), "coordinate draws")(
      "batch", po::value(&options.batch)->default_value(options.batch), "draws per model call")(
      "seed", po::value(&options.seed)->default_value(0), "random seed (same seed, same map)")(
      "temperature", po::value(&options.temperature)->default_value(options.temperature),
      "sampling temperature (0: one greedy guess)")(
      "top-p", po::value(&options.top_p)->default_value(options.top_p), "nucleus sampling mass")(
      "out,o", po::value(&out), "report folder")("quiet,q", po::bool_switch(&quiet), "no progress");
  po::options_description all;
  all.add(visible).add_options()("scene", po::value(&scene));
  po::positional_options_description positional;
  positional.add("scene", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "tm_locate: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << visible;
    return 0;
  }
  if (vm.count("version")) {
    std::cout << "tm_locate " << tm_version() << "\n";
    return 0;
  }
  if (scene.empty() || out.empty() || options.model.empty()) {
    std::cerr << "tm_locate: a SCENE, --model and --out are required (see --help)\n";
    return 2;
  }
  if (options.samples < 1 || options.batch < 1 || !(options.temperature >= 0) ||
      !(options.top_p >= 0 && options.top_p <= 1)) {
    std::cerr << "tm_locate: --samples and --batch must be >= 1, --temperature >= 0, --top-p in "
                 "[0, 1]\n";
    return 2;
  }
  try {
    auto progress = [quiet](int done, int total) {
      if (quiet) return;
      std::fprintf(stderr, "\r[%d/%d] draws", done, total);
      if (done == total) std::fprintf(stderr, "\n");
    };
    const eval::LocateResult result = eval::locate_scene(scene, options, progress);
    eval::write_locate_report(result, options, out);
    const eval::GeoPoint peak = result.map.peak();
    std::printf("located     %zu of %zu draws\n", result.map.located(), result.map.samples());
    std::printf("most likely %.3f N, %.3f E (p = %.3f)\n", peak.lat, peak.lon,
                result.map.peak_probability());
    if (result.truth)
      std::printf("scene       %.3f N, %.3f E: %.0f km away (expected %.0f km)\n",
                  result.truth->lat, result.truth->lon, eval::great_circle_km(peak, *result.truth),
                  result.map.expected_distance_km(*result.truth));
    std::printf("wrote       %s/location.{tif,png,json,html}\n", out.c_str());
  } catch (const std::exception& e) {
    std::cerr << "tm_locate: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
