// tm/token_budgets.h — token budgets and masks of TerraMind pre-training (public header of
// training/'s tm_token_budgets; plain C++, no LibTorch).
//
// Per sample, as 4M (which TerraMind follows; shared/spec/terramind-training.md §4):
//   * a mixture component is picked (by weight); it gives every modality an input and a target
//     Dirichlet concentration α (the "steering wheel"; α <= 0: the modality never gets tokens);
//   * p ~ Dirichlet(α) splits the total input budget: budget_m = floor(p_m · total), and the
//     remainder goes one token at a time to the argmax of further Dirichlet draws;
//   * budgets are clamped to each modality's max tokens (196 for a 224 image at patch 16); for
//     image modalities the target max is reduced by that modality's input budget (a token is never
//     both input and target); tokens cut by clamping are lost, as in 4M, so a sample may use fewer
//     than the totals;
//   * a draw leaving a modality under its min tokens is redrawn, up to max_tries (100) times;
//   * an image modality's tokens are masked by a random permutation: its first input_budget
//     positions are inputs, the next target_budget targets.
// Masks follow the reference's convention (terramind-model.md §10): false = selected (visible
// input / predicted target), true = masked; the encoder sorts tokens by input_mask + i·1e-6 and
// keeps the first num_encoder_tokens.
//
// Random numbers come from TokenRng (xoshiro256**, own gamma and normal samplers): the same seed
// gives the same draws on every platform and standard library.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace terramind::training {

class TokenRng {
 public:
  explicit TokenRng(std::uint64_t seed);
  std::uint64_t next();
  double uniform();                      // [0, 1)
  std::uint64_t below(std::uint64_t n);  // [0, n), n >= 1, unbiased
  double normal();                       // N(0, 1)
  double gamma(double alpha);            // Gamma(alpha, 1), alpha > 0 (Marsaglia-Tsang)
  // Dirichlet(alpha): entries with alpha <= 0 are exactly 0; all <= 0: all 0.
  std::vector<double> dirichlet(const std::vector<double>& alpha);

 private:
  std::uint64_t s_[4];
  bool have_spare_ = false;
  double spare_ = 0;
};

struct ModalityBudgetSpec {
  std::string name;
  int max_tokens = 196;
  int min_input_tokens = 0;
  int min_target_tokens = 0;
  bool is_image = true;  // image: input and target share the positions (target max reduced)
};

struct MixtureComponent {
  std::string name;
  std::vector<double> input_alpha;  // one per modality, in spec order
  std::vector<double> target_alpha;
  double weight = 1;
};

struct Budgets {
  int component = 0;       // which mixture component was drawn
  std::vector<int> input;  // per modality
  std::vector<int> target;
};

class BudgetSampler {
 public:
  // Throws std::invalid_argument for an empty spec list, a component whose alpha lists do not
  // match the modalities, negative or all-zero weights, negative totals or a min above a max.
  BudgetSampler(std::vector<ModalityBudgetSpec> modalities, std::vector<MixtureComponent> mixture,
                int total_input_tokens, int total_target_tokens, int max_tries = 100);

  // Throws std::runtime_error when max_tries draws all leave some modality under its min.
  Budgets sample(TokenRng& rng) const;

  const std::vector<ModalityBudgetSpec>& modalities() const { return modalities_; }

 private:
  std::vector<int> split(const std::vector<double>& alpha, int total, const std::vector<int>& max,
                         TokenRng& rng) const;
  std::vector<ModalityBudgetSpec> modalities_;
  std::vector<MixtureComponent> mixture_;
  int total_input_, total_target_, max_tries_;
};

// 4M's main mixture for `modalities`, with `pixel` the pixel-input modality: "rgb2all" (pixel
// input α 1000, other inputs 0; every target α 0.5 except the pixel modality, 0) and "all2all"
// (every input and target α 0.5; the pixel modality never a target), weight 1 each.
std::vector<MixtureComponent> four_m_mixture(const std::vector<ModalityBudgetSpec>& modalities,
                                             const std::string& pixel);

struct ImageMask {
  std::vector<bool> input_mask;   // false: the token is an encoder input
  std::vector<bool> target_mask;  // false: the token is a decoder target
};

// A random permutation of n tokens: the first input_budget are inputs, the next target_budget
// targets. Throws std::invalid_argument when the budgets exceed n.
ImageMask mask_image(int n_tokens, int input_budget, int target_budget, TokenRng& rng);

}  // namespace terramind::training
