// tm_embed: image-level TerraMind embeddings of a labelled folder, for few-shot evaluation
// (tm_eval fewshot) or the user's own clustering and similarity search.
#include <boost/program_options.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "tm/evaluation.h"
#include "tm/registry.h"

namespace po = boost::program_options;
using namespace terramind;

int main(int argc, char** argv) {
  std::string folder, out;
  eval::EmbeddingOptions options;
  bool quiet = false;
  po::options_description visible(
      "tm_embed: TerraMind embeddings of labelled images\n\n"
      "usage: tm_embed FOLDER --model CARD --out EMBEDDINGS.json [options]\n\n"
      "FOLDER holds one sub-folder per class with rasters of the --modality (sides multiples of\n"
      "16). Each image's embedding is the mean over patches of the encoder features of --layer\n"
      "(invalid pixels enter as the modality's mean). Writes JSON: the model, the layer and per\n"
      "image its path, class and vector; tm_eval fewshot reads it.\n\n"
      "options");
  visible.add_options()("help,h", "show this help")("version", "print the tm version")(
      "model,m", po::value(&options.model)->default_value("demo"),
      "model card, checkpoint or official name (default: the built-in demo)")(
      "modality", po::value(&options.modality)->default_value("S2L2A"), "what the images are")(
      "layer", po::value(&options.layer)->default_value(-1),
      "encoder block whose features are averaged (negative: from the end)")(
      "out,o", po::value(&out), "output JSON")("quiet,q", po::bool_switch(&quiet), "no progress");
  po::options_description all;
  all.add(visible).add_options()("folder", po::value(&folder));
  po::positional_options_description positional;
  positional.add("folder", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "tm_embed: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << visible;
    return 0;
  }
  if (vm.count("version")) {
    std::cout << "tm_embed " << tm_version() << "\n";
    return 0;
  }
  if (folder.empty() || out.empty()) {
    std::cerr << "tm_embed: a FOLDER and --out are required (see --help)\n";
    return 2;
  }
  try {
    auto progress = [quiet](int done, int total) {
      if (quiet) return;
      std::cerr << "\r[" << done << "/" << total << "] images" << std::flush;
      if (done == total) std::cerr << "\n";
    };
    const auto items = eval::embed_folder(folder, options, progress);
    nlohmann::json j{{"model", options.model},
                     {"modality", options.modality},
                     {"layer", options.layer},
                     {"items", nlohmann::json::array()}};
    for (const auto& e : items)
      j["items"].push_back({{"path", e.path}, {"class", e.label}, {"embedding", e.vector}});
    const std::string temp = out + ".tm-partial";
    {
      std::ofstream f(temp);
      f << j.dump() << "\n";
      if (!f) throw std::runtime_error("cannot write " + out);
    }
    std::filesystem::rename(temp, out);
    std::cout << "wrote " << out << ": " << items.size() << " embeddings of "
              << (items.empty() ? 0 : items.front().vector.size()) << " values\n";
  } catch (const std::exception& e) {
    std::cerr << "tm_embed: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
