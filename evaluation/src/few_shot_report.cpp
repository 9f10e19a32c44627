// fewshot.json and fewshot.html for prototypical_few_shot results (tm/evaluation.h).
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "eval_internal.h"

namespace terramind::eval {

void write_few_shot_report(const std::vector<FewShotResult>& results,
                           const std::map<std::string, std::string>& meta,
                           const std::string& folder, const std::string& title) {
  std::filesystem::create_directories(folder);
  nlohmann::json j{{"title", title}, {"results", nlohmann::json::array()}};
  for (const auto& [key, value] : meta) j[key] = value;
  std::ostringstream rows;
  for (const auto& r : results) {
    j["results"].push_back({{"ways", r.ways},
                            {"shots", r.shots},
                            {"episodes", r.episodes},
                            {"accuracy", r.accuracy},
                            {"ci95", r.ci95},
                            {"chance", r.chance}});
    rows << "<tr><td>" << r.ways << "</td><td>" << r.shots << "</td><td>" << r.episodes
         << "</td><td>" << fixed_text(r.accuracy, 3) << " &plusmn; " << fixed_text(r.ci95, 3)
         << "</td><td>" << fixed_text(r.chance, 3) << "</td></tr>\n";
  }
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>"
       << html_escape(title) << "</title><style>body{font-family:sans-serif;margin:2em}"
       << "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em}"
       << "</style></head><body>\n<h1>" << html_escape(title) << "</h1>\n<ul>";
  for (const auto& [key, value] : meta)
    html << "<li>" << html_escape(key) << ": " << html_escape(value) << "</li>";
  html << "</ul>\n<p>Prototypical networks on fixed embeddings: per episode the mean of each "
       << "class's support embeddings is its prototype and every query takes the nearest "
       << "(Euclidean). Accuracy: mean over episodes, &plusmn; 1.96 standard errors.</p>\n"
       << "<table id=\"fewshot\"><tr><th>ways</th><th>shots</th><th>episodes</th>"
       << "<th>accuracy</th><th>chance</th></tr>\n"
       << rows.str() << "</table>\n</body></html>\n";
  write_atomically(folder + "/fewshot.html", html.str());
  write_atomically(folder + "/fewshot.json", j.dump(2) + "\n");
}

}  // namespace terramind::eval
