// tm_eval: measurements users run on their own data. `generation`: every input -> target pair of
// a folder of aligned samples, scored against the truth (tm/evaluation.h), with baselines.
#include <boost/program_options.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tm/evaluation.h"
#include "tm/registry.h"
#include "tm/shards.h"

namespace po = boost::program_options;
using namespace terramind;

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

const char* const kUsage =
    "tm_eval: measure a model on your own data\n\n"
    "usage: tm_eval generation --data FOLDER --pair INPUT->TARGET... --model [LABEL=]CARD...\n"
    "                          [--baseline-mean SHARDS] --out DIR [options]\n"
    "       tm_eval water --input MODALITY=DIR... --labels DIR --model CARD --out DIR\n"
    "       tm_eval fewshot --embeddings EMBEDDINGS.json --out DIR [--ways N --shots 1,5]\n\n"
    "generation: for every sample of FOLDER (TerraMesh layout, FOLDER/<MODALITY>/<id>.tif,\n"
    "aligned across modalities) and every pair, generates the target from the inputs with each\n"
    "--model (the tiling engine of tm_generate) and scores it against the truth: MAE, RMSE,\n"
    "PSNR, SSIM in physical units (class maps: pixel accuracy, mean IoU). --baseline-mean adds a\n"
    "constant prediction: the per-band mean (class maps: the most frequent class) of the train\n"
    "split of a tm shards dataset. Writes DIR/report.json and a self-contained DIR/report.html\n"
    "(tables, quicklooks of input, generations and truth); the generated rasters are kept in\n"
    "DIR/generated/. PSNR uses the truth's per-band range (max - min); SSIM a Gaussian 11x11\n"
    "window (sigma 1.5, K1 0.01, K2 0.03). Sampling defaults to greedy (--temperature 0).\n\n"
    "water: zero-shot water mapping. Generates LULC for every chip of the --input folders\n"
    "(Sen1Floods11 layout: S1Hand/<chip>_S1Hand.tif pairs with LabelHand/<chip>_LabelHand.tif)\n"
    "and scores its water class (--water-class, default 1) against the labels (1 water, 0 not\n"
    "water, -1 ignored): IoU, precision, recall, F1 per chip and pooled. Chips without a valid\n"
    "label or input are reported and left out of the averages. Writes DIR/water.json and\n"
    "DIR/water.html.\n\n"
    "fewshot: prototypical networks on the embeddings of tm_embed: per seeded episode --ways\n"
    "classes, --shots support images each (their mean is the prototype), queries labelled by\n"
    "the nearest prototype; mean accuracy over --episodes with a 95 % interval, per shot\n"
    "count. Writes DIR/fewshot.json and DIR/fewshot.html.\n\n"
    "options";

int usage_error(const std::string& message) {
  std::cerr << "tm_eval: " << message << "\n(tm_eval --help lists the options)\n";
  return kExitUsage;
}

// Per-band means of the train split (the manifest's statistics); class maps: the most frequent
// class but "no data", counted by streaming those samples (the manifest keeps no histogram).
std::map<std::string, std::vector<double>> training_constants(
    const std::string& dataset, const std::vector<std::string>& targets) {
  const auto& registry = ModalityRegistry::instance();
  const shards::Manifest manifest = shards::read_manifest(dataset);
  const auto train = manifest.splits.find("train");
  std::map<std::string, std::vector<double>> out;
  std::vector<std::string> class_maps;
  for (const auto& t : targets) {
    const auto stats = train == manifest.splits.end() ? nullptr : &train->second.statistics;
    if (!stats || !stats->count(t))
      throw std::invalid_argument(dataset + ": the train split has no " + t + " samples");
    if (registry.get(t).is_class_map()) {
      class_maps.push_back(t);
      continue;
    }
    for (const auto& band : stats->at(t)) out[t].push_back(band.mean);
  }
  if (class_maps.empty()) return out;
  shards::StreamOptions o;
  o.shards = shards::list_shards(dataset, "train");
  o.modalities = class_maps;
  o.missing = shards::MissingModality::kSkip;
  o.shuffle_shards = false;
  shards::SampleStream stream(o);
  const std::size_t classes = registry.lulc_classes().size();
  std::map<std::string, std::vector<std::int64_t>> counts;
  while (auto batch = stream.next())
    for (const auto& sample : batch->samples)
      for (const auto& t : class_maps) {
        const shards::Array& a = sample.arrays.at(t);
        auto& c = counts[t];
        c.resize(classes, 0);
        for (std::size_t i = 0; i < a.count(); ++i) {
          const double v = a.value(i);
          if (std::isnan(v)) continue;
          const auto k = static_cast<std::size_t>(v);
          if (k > 0 && k < classes) ++c[k];  // class 0 is "no data"
        }
      }
  for (const auto& t : class_maps) {
    const auto& c = counts[t];
    if (c.empty())
      throw std::invalid_argument(dataset + ": the train split has no " + t + " samples");
    out[t] = {static_cast<double>(std::max_element(c.begin(), c.end()) - c.begin())};
  }
  return out;
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream s(text);
  for (std::string part; std::getline(s, part, ',');)
    if (!part.empty()) out.push_back(part);
  return out;
}

std::string shown(double v, int digits) {
  if (std::isnan(v)) return "-";
  if (std::isinf(v)) return "inf";
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  std::string command, data, out, baseline, title = "tm_eval generation", note;
  std::vector<std::string> pairs, models, samples, water_inputs;
  std::string labels;
  int water_class = 1, ways = 5, episodes = 200, queries = 15;
  std::string embeddings, shots_arg = "1,5";
  RuntimeSettings runtime;
  runtime.temperature = 0.0;
  int mc = 1, quicklooks = 2;
  bool quiet = false, tokenizer_bound = false;
  po::options_description visible(kUsage);
  visible.add_options()("help,h", "show this help")("version", "print the tm version")(
      "data,d", po::value(&data), "folder of aligned samples: <MODALITY>/<id>.tif")(
      "pair,p", po::value(&pairs)->composing(), "INPUT->TARGET, e.g. S2L2A->NDVI (repeatable)")(
      "model,m", po::value(&models)->composing(),
      "[LABEL=]model card, checkpoint or official name (repeatable)")(
      "baseline-mean", po::value(&baseline),
      "tm shards dataset whose train split gives the constant baseline")(
      "sample", po::value(&samples)->composing(), "evaluate only these sample ids (repeatable)")(
      "out,o", po::value(&out), "report folder")("input,i", po::value(&water_inputs)->composing(),
                                                 "water: MODALITY=FOLDER (repeatable)")(
      "labels", po::value(&labels), "water: folder of label rasters (1, 0, -1)")(
      "water-class", po::value(&water_class)->default_value(1), "water: the LULC water class")(
      "embeddings", po::value(&embeddings), "fewshot: the JSON of tm_embed")(
      "ways", po::value(&ways)->default_value(5), "fewshot: classes per episode")(
      "shots", po::value(&shots_arg)->default_value("1,5"),
      "fewshot: shot counts, comma-separated")("episodes", po::value(&episodes)->default_value(200),
                                               "fewshot: episodes per shot count")(
      "queries", po::value(&queries)->default_value(15), "fewshot: queries per class")(
      "seed", po::value(&runtime.seed)->default_value(0), "generation seed")(
      "temperature", po::value(&runtime.temperature)->default_value(0.0),
      "token sampling temperature (0: greedy)")(
      "top-p", po::value(&runtime.top_p)->default_value(0.8), "nucleus sampling mass")(
      "steps", po::value(&runtime.diffusion_steps)->default_value(10),
      "DDIM steps of diffusion tokenizers")(
      "mc", po::value(&mc)->default_value(1),
      "generations averaged per sample (seeds seed, seed+1, ...; class maps: the mode)")(
      "quicklooks", po::value(&quicklooks)->default_value(2), "samples shown as quicklooks")(
      "tokenizer-bound", po::bool_switch(&tokenizer_bound),
      "also score the truth encoded and decoded by each model's target tokenizer (the bound "
      "its generations cannot beat), as '<label> tokenizer'")(
      "title", po::value(&title), "report title")("note", po::value(&note), "report note")(
      "quiet,q", po::bool_switch(&quiet), "no progress");
  po::options_description all;
  all.add(visible).add_options()("command", po::value(&command));
  po::positional_options_description positional;
  positional.add("command", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what());
  }
  if (vm.count("help")) {
    std::cout << visible;
    return 0;
  }
  if (vm.count("version")) {
    std::cout << "tm_eval " << tm_version() << "\n";
    return 0;
  }
  if (command == "fewshot") {
    if (embeddings.empty()) return usage_error("fewshot needs --embeddings FILE (tm_embed)");
    if (out.empty()) return usage_error("fewshot needs --out DIR");
    try {
      std::ifstream in(embeddings);
      if (!in) throw std::invalid_argument(embeddings + ": cannot read");
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(in);
      } catch (const std::exception& e) {
        throw std::invalid_argument(embeddings + ": not JSON (" + e.what() + ")");
      }
      std::vector<std::vector<float>> vectors;
      std::vector<std::string> labels;
      for (const auto& item : j.at("items")) {
        vectors.push_back(item.at("embedding").get<std::vector<float>>());
        labels.push_back(item.at("class").get<std::string>());
      }
      const std::map<std::string, std::string> meta{{"embeddings", embeddings},
                                                    {"model", j.value("model", "")},
                                                    {"episodes", std::to_string(episodes)},
                                                    {"queries", std::to_string(queries)},
                                                    {"seed", std::to_string(runtime.seed)}};
      std::vector<int> shot_counts;
      for (const auto& part : split_commas(shots_arg)) {
        if (part.find_first_not_of("0123456789") != std::string::npos)
          return usage_error("--shots takes comma-separated counts (1,5), not '" + shots_arg + "'");
        shot_counts.push_back(std::stoi(part));
      }
      if (shot_counts.empty()) return usage_error("--shots is empty");
      std::vector<eval::FewShotResult> results;
      for (const int shots : shot_counts) {
        eval::FewShotOptions o;
        o.ways = ways, o.shots = shots, o.episodes = episodes, o.queries = queries;
        o.seed = static_cast<std::uint64_t>(runtime.seed);
        const auto r = eval::prototypical_few_shot(vectors, labels, o);
        std::cout << ways << "-way " << shots << "-shot: accuracy " << shown(r.accuracy, 3)
                  << " +- " << shown(r.ci95, 3) << " (95 %, " << r.episodes << " episodes; chance "
                  << shown(r.chance, 3) << ")\n";
        results.push_back(r);
      }
      eval::write_few_shot_report(results, meta, out,
                                  title == "tm_eval generation" ? "tm_eval fewshot" : title);
      const std::string path = out + "/fewshot.json";
      std::cout << "wrote " << path << "\n";
    } catch (const std::exception& e) {
      std::cerr << "tm_eval: " << e.what() << "\n";
      return kExitFailure;
    }
    return 0;
  }
  if (command == "water") {
    if (water_inputs.empty()) return usage_error("water needs --input MODALITY=FOLDER");
    if (labels.empty()) return usage_error("water needs --labels FOLDER");
    if (models.size() != 1) return usage_error("water needs exactly one --model");
    if (out.empty()) return usage_error("water needs --out DIR");
    try {
      eval::WaterEvalOptions options;
      for (const auto& spec : water_inputs) {
        const auto eq = spec.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
          return usage_error("--input takes MODALITY=FOLDER, not '" + spec + "'");
        options.inputs[spec.substr(0, eq)] = spec.substr(eq + 1);
      }
      options.labels = labels;
      options.runtime = runtime;
      options.runtime.model = models.front().substr(models.front().find('=') + 1);
      options.water_class = water_class;
      options.work_dir = out + "/generated";
      if (!quiet)
        options.progress = [](int done, int total) {
          std::cerr << "\r[" << done << "/" << total << "] chips" << std::flush;
          if (done == total) std::cerr << "\n";
        };
      const auto report = eval::evaluate_water(options);
      eval::write_water_report(report, options, out,
                               title == "tm_eval generation" ? "tm_eval water" : title, note);
      for (const auto& c : report.chips)
        std::cout << std::left << std::setw(20) << c.key << std::setw(16) << c.status << std::right
                  << " IoU " << shown(c.iou, 3) << "  precision " << shown(c.precision, 3)
                  << "  recall " << shown(c.recall, 3) << "  F1 " << shown(c.f1, 3) << "\n";
      std::cout << "overall (" << report.scored << " chips): IoU " << shown(report.iou, 3)
                << "  precision " << shown(report.precision, 3) << "  recall "
                << shown(report.recall, 3) << "  F1 " << shown(report.f1, 3) << "  mean chip IoU "
                << shown(report.mean_chip_iou, 3) << "\nwrote " << out << "/water.json and " << out
                << "/water.html\n";
    } catch (const std::exception& e) {
      std::cerr << "tm_eval: " << e.what() << "\n";
      return kExitFailure;
    }
    return 0;
  }
  if (command != "generation")
    return usage_error(command.empty()
                           ? "no command given (generation, water, fewshot)"
                           : "unknown command '" + command + "' (generation, water, fewshot)");
  if (data.empty()) return usage_error("generation needs --data FOLDER");
  if (pairs.empty()) return usage_error("generation needs at least one --pair INPUT->TARGET");
  if (models.empty() && baseline.empty())
    return usage_error("generation needs a --model (or --baseline-mean)");
  if (out.empty()) return usage_error("generation needs --out DIR");
  try {
    eval::GenerationEvalOptions options;
    options.data = data;
    for (const auto& p : pairs) options.pairs.push_back(eval::parse_pair(p));
    options.samples = samples;
    options.mc_samples = mc;
    options.work_dir = out + "/generated";
    for (const auto& m : models) {
      eval::Predictor p;
      const auto eq = m.find('=');
      p.runtime = runtime;
      p.runtime.model = eq == std::string::npos ? m : m.substr(eq + 1);
      p.label = eq == std::string::npos ? m.substr(m.find_last_of('/') + 1) : m.substr(0, eq);
      options.predictors.push_back(p);
      if (tokenizer_bound) {
        p.label += " tokenizer";
        p.tokenizer_bound = true;
        options.predictors.push_back(p);
      }
    }
    if (!baseline.empty()) {
      std::vector<std::string> targets;
      for (const auto& p : options.pairs) targets.push_back(p.target);
      eval::Predictor p;
      p.label = "per-band mean";
      p.constants = training_constants(baseline, targets);
      options.predictors.push_back(p);
    }
    if (!quiet)
      options.progress = [](int done, int total) {
        std::cerr << "\r[" << done << "/" << total << "] generations scored" << std::flush;
        if (done == total) std::cerr << "\n";
      };
    const auto report = eval::evaluate_generation(options);
    eval::write_generation_report(report, options, out, title, note, quicklooks);
    std::cout << std::left << std::setw(22) << "pair" << std::setw(26) << "model" << std::right
              << std::setw(4) << "n" << std::setw(10) << "MAE" << std::setw(10) << "RMSE"
              << std::setw(9) << "PSNR" << std::setw(8) << "SSIM" << std::setw(8) << "acc"
              << std::setw(8) << "mIoU"
              << "\n";
    for (const auto& s : report.summary) {
      std::cout << std::left << std::setw(22) << s.pair << std::setw(26) << s.predictor
                << std::right << std::setw(4) << s.samples;
      if (s.classes)
        std::cout << std::setw(10) << "-" << std::setw(10) << "-" << std::setw(9) << "-"
                  << std::setw(8) << "-" << std::setw(8) << shown(s.accuracy, 3) << std::setw(8)
                  << shown(s.miou, 3) << "\n";
      else
        std::cout << std::setw(10) << shown(s.mean.mae, 4) << std::setw(10) << shown(s.mean.rmse, 4)
                  << std::setw(9) << shown(s.mean.psnr, 2) << std::setw(8) << shown(s.mean.ssim, 3)
                  << std::setw(8) << "-" << std::setw(8) << "-"
                  << "\n";
    }
    std::cout << "wrote " << out << "/report.json and " << out << "/report.html\n";
  } catch (const std::exception& e) {
    std::cerr << "tm_eval: " << e.what() << "\n";
    return kExitFailure;
  }
  return 0;
}
