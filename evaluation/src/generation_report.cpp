// report.json and a self-contained report.html for evaluate_generation (tm/evaluation.h).
#include <cpl_conv.h>
#include <cpl_string.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "eval_internal.h"
#include "tm/evaluation.h"
#include "tm/registry.h"
#include "tm/tiling.h"

namespace terramind::eval {
namespace fs = std::filesystem;
using json = nlohmann::json;
namespace {

json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// The metrics of one row, summary or per sample: class maps accuracy and mIoU, else the four.
void add_metrics(json& e, bool classes, const ImageMetrics& m, double accuracy, double miou) {
  if (classes) {
    e["accuracy"] = number(accuracy);
    e["miou"] = number(miou);
  } else {
    e["mae"] = number(m.mae);
    e["rmse"] = number(m.rmse);
    e["psnr"] = number(m.psnr);
    e["ssim"] = number(m.ssim);
  }
}

}  // namespace

std::string fixed_text(double v, int digits) {
  if (std::isinf(v)) return "inf";
  if (std::isnan(v)) return "-";
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

// HTML text and attribute values: GDAL's XML escaping (& < > " ').
std::string html_escape(const std::string& text) {
  char* escaped = CPLEscapeString(text.c_str(), -1, CPLES_XML);
  std::string out(escaped);
  CPLFree(escaped);
  return out;
}

namespace {

std::string base64(const std::string& bytes) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += table[(v >> s) & 63];
  }
  if (i < bytes.size()) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? table[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

void write_atomically(const std::string& path, const std::string& text) {
  const std::string temp = path + ".tm-partial-" + std::to_string(getpid());
  {
    std::ofstream out(temp, std::ios::binary);
    out << text;
    if (!out) {
      std::remove(temp.c_str());
      throw std::runtime_error("cannot write " + path);
    }
  }
  fs::rename(temp, path);
}

std::string inline_png(const std::string& png, const std::string& caption) {
  return "<figure><img alt=\"" + html_escape(caption) + "\" src=\"data:image/png;base64," +
         base64(read_bytes(png)) + "\"><figcaption>" + html_escape(caption) +
         "</figcaption></figure>";
}

std::string inline_quicklook(const std::string& raster, const std::string& modality,
                             const std::string& png, const std::string& caption) {
  write_quicklook(raster, ModalityRegistry::instance().get(modality), png, 256);
  return inline_png(png, caption);
}

namespace {
// Table cells of one row: MAE, RMSE, PSNR, SSIM, accuracy, mIoU ("-" where they do not apply).
std::string metric_cells(bool classes, const ImageMetrics& m, double accuracy, double miou) {
  const auto cell = [](const std::string& text) { return "<td>" + text + "</td>"; };
  if (classes)
    return cell("-") + cell("-") + cell("-") + cell("-") + cell(fixed_text(accuracy, 3)) +
           cell(fixed_text(miou, 3));
  return cell(fixed_text(m.mae, 4)) + cell(fixed_text(m.rmse, 4)) + cell(fixed_text(m.psnr, 2)) +
         cell(fixed_text(m.ssim, 3)) + cell("-") + cell("-");
}
}  // namespace

void write_generation_report(const GenerationEvalReport& report,
                             const GenerationEvalOptions& options, const std::string& folder,
                             const std::string& title, const std::string& note,
                             int quicklook_samples) {
  fs::create_directories(folder);
  json j;
  j["title"] = title;
  j["note"] = note;
  j["data"] = options.data;
  j["samples"] = report.sample_ids;
  j["mc_samples"] = options.mc_samples;
  j["definitions"] = {
      {"mae_rmse", "over pixels valid in truth and generation, physical units, mean over bands"},
      {"psnr", "20 log10(L / RMSE), L = the truth's max - min per band (1 when constant)"},
      {"ssim",
       "Gaussian 11x11 window, sigma 1.5, K1 0.01, K2 0.03, data range L; windows fully "
       "inside the image with no invalid pixel; mean over bands"},
      {"classes",
       "pixel accuracy and mean IoU over classes present in truth or generation "
       "(class 0, no data, ignored), pooled over samples"},
      {"aggregate", "continuous: mean over samples of the per-sample metrics"}};
  json predictors = json::array();
  for (const auto& p : options.predictors) {
    json e{{"label", p.label}};
    if (p.is_constant()) {
      e["constants"] = p.constants;
    } else {
      e["model"] = p.runtime.model;
      e["seed"] = p.runtime.seed;
      e["temperature"] = p.runtime.temperature;
      e["top_p"] = p.runtime.top_p;
      e["diffusion_steps"] = p.runtime.diffusion_steps;
    }
    predictors.push_back(e);
  }
  j["predictors"] = predictors;
  for (const auto& s : report.summary) {
    json e{
        {"pair", s.pair}, {"predictor", s.predictor}, {"target", s.target}, {"samples", s.samples}};
    add_metrics(e, s.classes, s.mean, s.accuracy, s.miou);
    j["summary"].push_back(e);
  }
  for (const auto& s : report.samples) {
    json e{{"sample", s.sample}, {"pair", s.pair}, {"predictor", s.predictor}};
    add_metrics(e, s.classes, s.metrics, s.accuracy, s.miou);
    if (!s.classes) e["pixels"] = s.metrics.pixels;
    if (!s.generated.empty()) e["generated"] = s.generated;
    j["per_sample"].push_back(e);
  }

  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>"
       << html_escape(title) << "</title><style>"
       << "body{font-family:sans-serif;margin:2em;max-width:70em}"
       << "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
       << "padding:.3em .6em;text-align:right}th{background:#eee}td:first-child,"
       << "td:nth-child(2){text-align:left}figure{display:inline-block;margin:.3em}"
       << "img{width:200px;height:200px;image-rendering:pixelated}.note{color:#444}"
       << "</style></head><body>\n<h1>" << html_escape(title) << "</h1>\n<p class=\"note\">"
       << html_escape(note) << "</p>\n<p>Data: " << html_escape(options.data) << " ("
       << report.sample_ids.size() << " samples: ";
  for (std::size_t i = 0; i < report.sample_ids.size(); ++i)
    html << (i ? ", " : "") << html_escape(report.sample_ids[i]);
  html << ").</p>\n<h2>Summary</h2>\n<table id=\"summary\"><tr><th>pair</th><th>model</th>"
       << "<th>samples</th><th>MAE</th><th>RMSE</th><th>PSNR (dB)</th><th>SSIM</th>"
       << "<th>accuracy</th><th>mIoU</th></tr>\n";
  for (const auto& s : report.summary) {
    html << "<tr><td>" << html_escape(s.pair) << "</td><td>" << html_escape(s.predictor)
         << "</td><td>" << s.samples << "</td>";
    html << metric_cells(s.classes, s.mean, s.accuracy, s.miou) << "</tr>\n";
  }
  html << "</table>\n<p>MAE and RMSE in the target's physical units (NDVI, dB, classes). "
       << "PSNR: 20 log10(L / RMSE), L the truth's per-band max - min. SSIM: Gaussian 11x11 "
       << "window, sigma 1.5, K1 0.01, K2 0.03. Class maps: pixel accuracy and mean IoU.</p>\n"
       << "<h2>Per sample</h2>\n<table id=\"per-sample\"><tr><th>sample</th><th>pair</th>"
       << "<th>model</th><th>MAE</th><th>RMSE</th><th>PSNR</th><th>SSIM</th><th>accuracy</th>"
       << "<th>mIoU</th></tr>\n";
  for (const auto& s : report.samples) {
    html << "<tr><td>" << html_escape(s.sample) << "</td><td>" << html_escape(s.pair) << "</td><td>"
         << html_escape(s.predictor) << "</td>";
    html << metric_cells(s.classes, s.metrics, s.accuracy, s.miou) << "</tr>\n";
  }
  html << "</table>\n<h2>Quicklooks</h2>\n";
  const std::string pngs = (fs::path(options.work_dir) / "quicklooks").string();
  fs::create_directories(pngs);
  int shown = 0;
  for (const auto& id : report.sample_ids) {
    if (shown++ >= quicklook_samples) break;
    for (const auto& pair : options.pairs) {
      const std::string truth = sample_path(options.data, pair.target, id);
      if (truth.empty()) continue;
      html << "<h3>" << html_escape(id) << ": " << html_escape(pair.label()) << "</h3>\n<div>";
      const std::string stem = pngs + "/" + id + "_" + pair.target;
      html << inline_quicklook(sample_path(options.data, pair.inputs.front(), id),
                               pair.inputs.front(), stem + "_input.png",
                               "input " + pair.inputs.front());
      for (const auto& s : report.samples)
        if (s.sample == id && s.pair == pair.label() && !s.generated.empty())
          html << inline_quicklook(s.generated, pair.target,
                                   stem + "_" + std::to_string(&s - report.samples.data()) + ".png",
                                   s.predictor);
      html << inline_quicklook(truth, pair.target, stem + "_truth.png", "truth") << "</div>\n";
    }
  }
  html << "</body></html>\n";
  // The JSON last: its presence marks a complete report.
  write_atomically(folder + "/report.html", html.str());
  write_atomically(folder + "/report.json", j.dump(2) + "\n");
}

}  // namespace terramind::eval
