// Token budgets and image masks of TerraMind pre-training (tm/token_budgets.h).
#include "tm/token_budgets.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace terramind::training {
namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

TokenRng::TokenRng(std::uint64_t seed) {
  for (auto& s : s_) s = splitmix64(seed);
}

std::uint64_t TokenRng::next() {  // xoshiro256**
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double TokenRng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

std::uint64_t TokenRng::below(std::uint64_t n) {
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  std::uint64_t x;
  do x = next();
  while (x >= limit);
  return x % n;
}

double TokenRng::normal() {  // Marsaglia's polar method
  if (have_spare_) {
    have_spare_ = false;
    return spare_;
  }
  double u, v, s;
  do {
    u = 2 * uniform() - 1;
    v = 2 * uniform() - 1;
    s = u * u + v * v;
  } while (s >= 1 || s == 0);
  const double f = std::sqrt(-2 * std::log(s) / s);
  spare_ = v * f;
  have_spare_ = true;
  return u * f;
}

double TokenRng::gamma(double alpha) {
  if (!(alpha > 0)) throw std::invalid_argument("gamma: alpha must be > 0");
  if (alpha < 1) {  // boost: Gamma(a) = Gamma(a + 1) * U^(1/a)
    double u;
    do u = uniform();
    while (u == 0);
    return gamma(alpha + 1) * std::pow(u, 1 / alpha);
  }
  const double d = alpha - 1.0 / 3, c = 1 / std::sqrt(9 * d);
  for (;;) {  // Marsaglia and Tsang (2000)
    double x, v;
    do {
      x = normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const double u = uniform();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (u > 0 && std::log(u) < 0.5 * x * x + d * (1 - v + std::log(v))) return d * v;
  }
}

std::vector<double> TokenRng::dirichlet(const std::vector<double>& alpha) {
  std::vector<double> p(alpha.size(), 0.0);
  double sum = 0;
  for (std::size_t i = 0; i < alpha.size(); ++i)
    if (alpha[i] > 0) sum += (p[i] = gamma(alpha[i]));
  if (sum > 0)
    for (double& v : p) v /= sum;
  return p;
}

// ---------------------------------------------------------------------------------------------

BudgetSampler::BudgetSampler(std::vector<ModalityBudgetSpec> modalities,
                             std::vector<MixtureComponent> mixture, int total_input_tokens,
                             int total_target_tokens, int max_tries)
    : modalities_(std::move(modalities)),
      mixture_(std::move(mixture)),
      total_input_(total_input_tokens),
      total_target_(total_target_tokens),
      max_tries_(max_tries) {
  if (modalities_.empty()) throw std::invalid_argument("token budgets: no modalities");
  if (mixture_.empty()) throw std::invalid_argument("token budgets: no mixture component");
  if (total_input_ < 0 || total_target_ < 0)
    throw std::invalid_argument("token budgets: totals must be >= 0");
  if (max_tries_ < 1) throw std::invalid_argument("token budgets: max_tries must be >= 1");
  double weights = 0;
  for (const auto& c : mixture_) {
    if (c.input_alpha.size() != modalities_.size() || c.target_alpha.size() != modalities_.size())
      throw std::invalid_argument("token budgets: mixture component \"" + c.name + "\" has " +
                                  std::to_string(c.input_alpha.size()) + "/" +
                                  std::to_string(c.target_alpha.size()) + " alphas for " +
                                  std::to_string(modalities_.size()) + " modalities");
    if (!(c.weight >= 0)) throw std::invalid_argument("token budgets: negative component weight");
    weights += c.weight;
  }
  if (!(weights > 0)) throw std::invalid_argument("token budgets: component weights sum to 0");
  for (const auto& m : modalities_)
    if (m.max_tokens < 0 || m.min_input_tokens > m.max_tokens || m.min_target_tokens > m.max_tokens)
      throw std::invalid_argument("token budgets: " + m.name + ": min tokens above max tokens");
}

std::vector<int> BudgetSampler::split(const std::vector<double>& alpha, int total,
                                      const std::vector<int>& max, TokenRng& rng) const {
  const std::vector<double> p = rng.dirichlet(alpha);
  std::vector<int> budget(p.size());
  int given = 0;
  for (std::size_t i = 0; i < p.size(); ++i) given += (budget[i] = static_cast<int>(p[i] * total));
  const bool any = std::any_of(alpha.begin(), alpha.end(), [](double a) { return a > 0; });
  for (; any && given < total; ++given) {  // the remainder, one token per further draw
    const std::vector<double> q = rng.dirichlet(alpha);
    budget[std::max_element(q.begin(), q.end()) - q.begin()] += 1;
  }
  for (std::size_t i = 0; i < budget.size(); ++i) budget[i] = std::min(budget[i], max[i]);
  return budget;
}

Budgets BudgetSampler::sample(TokenRng& rng) const {
  // The component, by weight.
  double total_weight = 0;
  for (const auto& c : mixture_) total_weight += c.weight;
  double pick = rng.uniform() * total_weight;
  std::size_t component = 0;
  while (component + 1 < mixture_.size() && pick >= mixture_[component].weight)
    pick -= mixture_[component++].weight;
  const MixtureComponent& c = mixture_[component];
  const std::size_t n = modalities_.size();
  for (int attempt = 0; attempt < max_tries_; ++attempt) {
    std::vector<int> max(n);
    for (std::size_t i = 0; i < n; ++i) max[i] = modalities_[i].max_tokens;
    Budgets b;
    b.component = static_cast<int>(component);
    b.input = split(c.input_alpha, total_input_, max, rng);
    for (std::size_t i = 0; i < n; ++i)
      if (modalities_[i].is_image) max[i] -= b.input[i];  // never both input and target
    b.target = split(c.target_alpha, total_target_, max, rng);
    bool ok = true;
    for (std::size_t i = 0; i < n; ++i)
      ok = ok && b.input[i] >= modalities_[i].min_input_tokens &&
           b.target[i] >= modalities_[i].min_target_tokens;
    if (ok) return b;
  }
  throw std::runtime_error("token budgets: " + std::to_string(max_tries_) +
                           " draws of mixture component \"" + c.name +
                           "\" all left a modality under its min tokens (alphas or mins too "
                           "tight for the totals)");
}

std::vector<MixtureComponent> four_m_mixture(const std::vector<ModalityBudgetSpec>& modalities,
                                             const std::string& pixel) {
  MixtureComponent rgb2all{"rgb2all", {}, {}, 1}, all2all{"all2all", {}, {}, 1};
  bool found = false;
  for (const auto& m : modalities) {
    const bool is_pixel = m.name == pixel;
    found = found || is_pixel;
    rgb2all.input_alpha.push_back(is_pixel ? 1000 : 0);
    rgb2all.target_alpha.push_back(is_pixel ? 0 : 0.5);
    all2all.input_alpha.push_back(0.5);
    all2all.target_alpha.push_back(is_pixel ? 0 : 0.5);
  }
  if (!found) throw std::invalid_argument("4M mixture: " + pixel + " is not among the modalities");
  return {rgb2all, all2all};
}

ImageMask mask_image(int n_tokens, int input_budget, int target_budget, TokenRng& rng) {
  if (n_tokens < 0 || input_budget < 0 || target_budget < 0 ||
      input_budget + target_budget > n_tokens)
    throw std::invalid_argument("mask_image: budgets " + std::to_string(input_budget) + " + " +
                                std::to_string(target_budget) + " exceed " +
                                std::to_string(n_tokens) + " tokens");
  std::vector<int> order(n_tokens);
  std::iota(order.begin(), order.end(), 0);
  for (int i = n_tokens - 1; i > 0; --i)  // Fisher-Yates
    std::swap(order[i], order[rng.below(static_cast<std::uint64_t>(i) + 1)]);
  ImageMask m{std::vector<bool>(n_tokens, true), std::vector<bool>(n_tokens, true)};
  for (int i = 0; i < input_budget; ++i) m.input_mask[order[i]] = false;
  for (int i = input_budget; i < input_budget + target_budget; ++i) m.target_mask[order[i]] = false;
  return m;
}

}  // namespace terramind::training
