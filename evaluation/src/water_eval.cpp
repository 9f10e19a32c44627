// evaluate_water: zero-shot water mapping from generated land cover, Sen1Floods11 style
// (tm/evaluation.h).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

#include "eval_internal.h"
#include "tm/registry.h"
#include "tm/runtime.h"
#include "tm/tiling.h"

namespace terramind::eval {
namespace fs = std::filesystem;
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// key -> file of a folder; the key drops a trailing "_<folder name>" (S1Hand/X_S1Hand.tif -> X).
std::map<std::string, std::string> files_by_key(const std::string& folder) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw std::invalid_argument(folder + ": not a folder");
  const std::string suffix = "_" + fs::path(folder).lexically_normal().filename().string();
  for (const auto& e : fs::directory_iterator(folder, ec)) {
    const auto ext = e.path().extension().string();
    if (ext != ".tif" && ext != ".tiff") continue;
    std::string key = e.path().stem().string();
    if (key.size() > suffix.size() &&
        key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0)
      key.resize(key.size() - suffix.size());
    out[key] = e.path().string();
  }
  return out;
}

double ratio(std::int64_t a, std::int64_t b) {
  return b == 0 ? kNaN : static_cast<double>(a) / static_cast<double>(b);
}

template <typename Scores>
void finish(Scores& s) {
  s.iou = ratio(s.tp, s.tp + s.fp + s.fn);
  s.precision = ratio(s.tp, s.tp + s.fp);
  s.recall = ratio(s.tp, s.tp + s.fn);
  s.f1 = ratio(2 * s.tp, 2 * s.tp + s.fp + s.fn);
}

}  // namespace

WaterEvalReport evaluate_water(const WaterEvalOptions& options) {
  if (options.inputs.empty()) throw std::invalid_argument("no input folder (--input MODALITY=DIR)");
  if (options.labels.empty()) throw std::invalid_argument("no label folder (--labels DIR)");
  if (options.work_dir.empty()) throw std::invalid_argument("no work folder");
  const auto& registry = ModalityRegistry::instance();
  const int classes = static_cast<int>(registry.lulc_classes().size());
  if (options.water_class < 1 || options.water_class >= classes)
    throw std::invalid_argument("--water-class must be a LULC class in 1.." +
                                std::to_string(classes - 1));
  const auto labels = files_by_key(options.labels);
  if (labels.empty()) throw std::invalid_argument(options.labels + ": no label raster (.tif)");
  std::map<std::string, std::map<std::string, std::string>> inputs;  // modality -> key -> file
  for (const auto& [modality, folder] : options.inputs)
    inputs[registry.get(modality).name] = files_by_key(folder);
  for (const auto& [key, label] : labels)
    for (const auto& [modality, files] : inputs)
      if (!files.count(key))
        throw std::invalid_argument(label + ": no " + modality + " input for chip " + key + " in " +
                                    options.inputs.at(modality));

  RuntimeSettings settings = options.runtime;
  settings.targets = {"LULC"};
  auto model = open_terramind_window_model(settings);
  WaterEvalReport report;
  int done = 0;
  for (const auto& [key, label_path] : labels) {
    WaterChipScore chip;
    chip.key = key;
    std::vector<SceneInput> scene;
    std::vector<std::string> paths;
    for (const auto& [modality, files] : inputs) {
      scene.emplace_back(files.at(key), modality);
      paths.push_back(files.at(key));
    }
    check_aligned(label_path, paths);
    const Image label = read_image(label_path);
    for (const float v : label.values)
      if (!std::isnan(v) && v != -1 && v != 0 && v != 1)
        throw std::invalid_argument(label_path + ": label value " + std::to_string(v) +
                                    " (expected 1 water, 0 not water, -1 ignored)");
    bool any_input = false;  // an all-nodata input (Sen1Floods11 has one) is reported, not run
    for (const auto& path : paths)
      for (const float v : read_image(path).values) {
        if (std::isnan(v)) continue;
        any_input = true;
        break;
      }
    if (!any_input) {
      chip.status = "no valid input";
      chip.iou = chip.precision = chip.recall = chip.f1 = kNaN;
      chip.ignored = static_cast<std::int64_t>(label.values.size());
      report.chips.push_back(chip);
      if (options.progress) options.progress(++done, static_cast<int>(labels.size()));
      continue;
    }
    const fs::path out = fs::path(options.work_dir) / (key + "_LULC.tif");
    fs::create_directories(out.parent_path());
    fs::remove(out);
    const TilingSummary summary =
        generate_scene(scene, *model, {TargetRequest("LULC", out.string())});
    chip.generated = out.string();
    const Image predicted = read_image(out.string());
    std::int64_t valid_label = 0;
    for (std::size_t i = 0; i < label.values.size(); ++i) {
      const float l = label.values[i], p = predicted.values[i];
      if (std::isnan(l) || l == -1) {
        ++chip.ignored;
        continue;
      }
      ++valid_label;
      if (std::isnan(p)) {  // no input there: nothing generated
        ++chip.ignored;
        continue;
      }
      const bool truth = l == 1, water = static_cast<int>(p) == options.water_class;
      (truth ? (water ? chip.tp : chip.fn) : (water ? chip.fp : chip.tn))++;
    }
    if (valid_label == 0) {
      chip.status = "no valid label";
    } else if (summary.inferred == 0 || chip.tp + chip.fp + chip.fn + chip.tn == 0) {
      chip.status = "no valid input";
    } else {
      chip.status = "scored";
      finish(chip);
      report.tp += chip.tp, report.fp += chip.fp, report.fn += chip.fn, report.tn += chip.tn;
      ++report.scored;
    }
    if (chip.status != "scored") chip.iou = chip.precision = chip.recall = chip.f1 = kNaN;
    report.chips.push_back(chip);
    if (options.progress) options.progress(++done, static_cast<int>(labels.size()));
  }
  if (report.scored == 0)
    throw std::invalid_argument("no chip could be scored (every one lacks a valid label or input)");
  finish(report);
  double sum = 0;
  int n = 0;
  for (const auto& c : report.chips)
    if (c.status == "scored" && !std::isnan(c.iou)) sum += c.iou, ++n;
  report.mean_chip_iou = n ? sum / n : kNaN;
  return report;
}

void write_water_report(const WaterEvalReport& report, const WaterEvalOptions& options,
                        const std::string& folder, const std::string& title,
                        const std::string& note) {
  using json = nlohmann::json;
  auto number = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
  fs::create_directories(folder);
  json j{{"title", title},
         {"note", note},
         {"model", options.runtime.model},
         {"water_class", options.water_class},
         {"labels", options.labels},
         {"inputs", options.inputs},
         {"definitions",
          "water = generated LULC class water_class; labels 1 water, 0 not water, -1/nodata "
          "ignored; pixels without a generation (input nodata) ignored; IoU = TP / (TP + FP + "
          "FN) pooled over scored chips; chips without a valid label or input are reported, "
          "not averaged"},
         {"overall",
          {{"iou", number(report.iou)},
           {"precision", number(report.precision)},
           {"recall", number(report.recall)},
           {"f1", number(report.f1)},
           {"mean_chip_iou", number(report.mean_chip_iou)},
           {"scored_chips", report.scored},
           {"tp", report.tp},
           {"fp", report.fp},
           {"fn", report.fn},
           {"tn", report.tn}}}};
  std::ostringstream rows;
  for (const auto& c : report.chips) {
    j["chips"].push_back({{"chip", c.key},
                          {"status", c.status},
                          {"iou", number(c.iou)},
                          {"precision", number(c.precision)},
                          {"recall", number(c.recall)},
                          {"f1", number(c.f1)},
                          {"tp", c.tp},
                          {"fp", c.fp},
                          {"fn", c.fn},
                          {"tn", c.tn},
                          {"ignored", c.ignored},
                          {"generated", c.generated}});
    rows << "<tr><td>" << html_escape(c.key) << "</td><td>" << html_escape(c.status) << "</td><td>"
         << fixed_text(c.iou, 3) << "</td><td>" << fixed_text(c.precision, 3) << "</td><td>"
         << fixed_text(c.recall, 3) << "</td><td>" << fixed_text(c.f1, 3) << "</td><td>"
         << c.ignored << "</td></tr>\n";
  }
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>"
       << html_escape(title) << "</title><style>body{font-family:sans-serif;margin:2em}"
       << "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em}"
       << "figure{display:inline-block;margin:.3em}img{width:200px}</style></head><body>\n<h1>"
       << html_escape(title) << "</h1>\n<p>" << html_escape(note) << "</p>\n<p>Model "
       << html_escape(options.runtime.model) << "; water = LULC class " << options.water_class
       << ".</p>\n<table id=\"overall\"><tr><th>scored chips</th><th>IoU</th><th>precision</th>"
       << "<th>recall</th><th>F1</th><th>mean chip IoU</th></tr><tr><td>" << report.scored
       << "</td><td>" << fixed_text(report.iou, 3) << "</td><td>" << fixed_text(report.precision, 3)
       << "</td><td>" << fixed_text(report.recall, 3) << "</td><td>" << fixed_text(report.f1, 3)
       << "</td><td>" << fixed_text(report.mean_chip_iou, 3) << "</td></tr></table>\n"
       << "<h2>Chips</h2>\n<table id=\"chips\"><tr><th>chip</th><th>status</th><th>IoU</th>"
       << "<th>precision</th><th>recall</th><th>F1</th><th>ignored px</th></tr>\n"
       << rows.str() << "</table>\n<h2>Generated land cover</h2>\n<div>";
  const std::string pngs = (fs::path(options.work_dir) / "quicklooks").string();
  fs::create_directories(pngs);
  int shown = 0;
  for (const auto& c : report.chips) {
    if (c.status != "scored" || shown++ >= 4) continue;
    html << inline_quicklook(c.generated, "LULC", pngs + "/" + c.key + "_LULC.png", c.key);
  }
  html << "</div></body></html>\n";
  write_atomically(folder + "/water.html", html.str());
  write_atomically(folder + "/water.json", j.dump(2) + "\n");
}

}  // namespace terramind::eval
