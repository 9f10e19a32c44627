// Prototypical-network few-shot accuracy on fixed embeddings (tm/evaluation.h).
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <stdexcept>

#include "tm/evaluation.h"

namespace terramind::eval {

FewShotResult prototypical_few_shot(const std::vector<std::vector<float>>& embeddings,
                                    const std::vector<std::string>& labels,
                                    const FewShotOptions& o) {
  if (embeddings.size() != labels.size())
    throw std::invalid_argument("embeddings and labels differ in number");
  if (o.ways < 2 || o.shots < 1 || o.queries < 1 || o.episodes < 1)
    throw std::invalid_argument("ways >= 2, shots >= 1, queries >= 1 and episodes >= 1 needed");
  std::map<std::string, std::vector<std::size_t>> by_class;
  for (std::size_t i = 0; i < labels.size(); ++i) by_class[labels[i]].push_back(i);
  for (const auto& [label, items] : by_class)
    if (static_cast<int>(items.size()) <= o.shots)
      throw std::invalid_argument("class '" + label + "' has " + std::to_string(items.size()) +
                                  " sample(s): " + std::to_string(o.shots) +
                                  "-shot episodes need at least " + std::to_string(o.shots + 1));
  if (static_cast<int>(by_class.size()) < o.ways)
    throw std::invalid_argument(std::to_string(by_class.size()) + " classes: " +
                                std::to_string(o.ways) + "-way episodes need that many");
  const std::size_t dim = embeddings.empty() ? 0 : embeddings.front().size();
  for (const auto& e : embeddings)
    if (e.size() != dim) throw std::invalid_argument("embeddings differ in length");
  std::vector<std::string> classes;
  for (const auto& [label, items] : by_class) classes.push_back(label);

  std::mt19937_64 rng(o.seed);
  std::vector<double> accuracies;
  for (int episode = 0; episode < o.episodes; ++episode) {
    std::vector<std::string> chosen = classes;
    std::shuffle(chosen.begin(), chosen.end(), rng);
    chosen.resize(static_cast<std::size_t>(o.ways));
    std::vector<std::vector<double>> prototypes;
    std::vector<std::pair<std::size_t, int>> queries;  // item, true way
    for (int w = 0; w < o.ways; ++w) {
      std::vector<std::size_t> items = by_class[chosen[w]];
      std::shuffle(items.begin(), items.end(), rng);
      std::vector<double> p(dim, 0.0);
      for (int s = 0; s < o.shots; ++s)
        for (std::size_t d = 0; d < dim; ++d) p[d] += embeddings[items[s]][d] / o.shots;
      prototypes.push_back(p);
      const std::size_t end = std::min(items.size(), static_cast<std::size_t>(o.shots + o.queries));
      for (std::size_t q = static_cast<std::size_t>(o.shots); q < end; ++q)
        queries.emplace_back(items[q], w);
    }
    int correct = 0;
    for (const auto& [item, truth] : queries) {
      int best = 0;
      double best_distance = std::numeric_limits<double>::infinity();
      for (int w = 0; w < o.ways; ++w) {
        double d2 = 0;
        for (std::size_t d = 0; d < dim; ++d) {
          const double diff = embeddings[item][d] - prototypes[w][d];
          d2 += diff * diff;
        }
        if (d2 < best_distance) best_distance = d2, best = w;
      }
      correct += best == truth;
    }
    accuracies.push_back(static_cast<double>(correct) / static_cast<double>(queries.size()));
  }
  FewShotResult r;
  r.ways = o.ways, r.shots = o.shots, r.episodes = o.episodes, r.chance = 1.0 / o.ways;
  r.accuracy = std::accumulate(accuracies.begin(), accuracies.end(), 0.0) / accuracies.size();
  double var = 0;
  for (const double a : accuracies) var += (a - r.accuracy) * (a - r.accuracy);
  var = accuracies.size() > 1 ? var / (accuracies.size() - 1) : 0.0;
  r.ci95 = 1.96 * std::sqrt(var / accuracies.size());
  return r;
}

}  // namespace terramind::eval
