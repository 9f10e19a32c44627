// The token-budget sampler and image masks against their specification (terramind-training.md
// §4), statistically: means of many draws with stated tolerances.
#include <gtest/gtest.h>

#include <cmath>

#include "tm/token_budgets.h"

using namespace terramind::training;

namespace {

std::vector<ModalityBudgetSpec> three(int max = 196) {
  return {{"S2L2A", max}, {"S1GRD", max}, {"DEM", max}};
}

}  // namespace

TEST(token_budgets, gamma_and_dirichlet_have_the_right_moments) {
  TokenRng rng(1);
  for (double alpha : {0.3, 1.0, 5.0}) {
    const int n = 60000;
    double sum = 0, sum2 = 0;
    for (int i = 0; i < n; ++i) {
      const double g = rng.gamma(alpha);
      sum += g;
      sum2 += g * g;
    }
    const double mean = sum / n, var = sum2 / n - mean * mean;
    // Gamma(a, 1): mean a, variance a; standard error of the mean sqrt(a / n).
    EXPECT_NEAR(mean, alpha, 5 * std::sqrt(alpha / n)) << alpha;
    EXPECT_NEAR(var, alpha, 0.06 * alpha) << alpha;
  }
  std::vector<double> mean(3, 0.0);
  const std::vector<double> alpha{1, 2, 0, 3};
  for (int i = 0; i < 20000; ++i) {
    const auto p = rng.dirichlet(alpha);
    EXPECT_EQ(p[2], 0.0);
    EXPECT_NEAR(p[0] + p[1] + p[3], 1.0, 1e-12);
    mean[0] += p[0] / 20000;
    mean[1] += p[1] / 20000;
    mean[2] += p[3] / 20000;
  }
  EXPECT_NEAR(mean[0], 1.0 / 6, 0.005);
  EXPECT_NEAR(mean[1], 2.0 / 6, 0.005);
  EXPECT_NEAR(mean[2], 3.0 / 6, 0.005);
}

TEST(token_budgets, input_shares_follow_alpha_and_respect_totals) {
  BudgetSampler sampler(three(), {{"c", {1, 2, 3}, {3, 0, 1}, 1}}, 128, 64);
  TokenRng rng(7);
  std::vector<double> in(3, 0), out(3, 0);
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const Budgets b = sampler.sample(rng);
    EXPECT_EQ(b.input[0] + b.input[1] + b.input[2], 128);  // no clamping here: all used
    EXPECT_EQ(b.target[0] + b.target[1] + b.target[2], 64);
    EXPECT_EQ(b.target[1], 0) << "alpha 0 gets nothing";
    for (int m = 0; m < 3; ++m) {
      in[m] += b.input[m] / double(n);
      out[m] += b.target[m] / double(n);
    }
  }
  // E[budget_m] = total * alpha_m / sum(alpha) (floor plus the remainder's argmax draws).
  EXPECT_NEAR(in[0], 128.0 / 6, 1.0);
  EXPECT_NEAR(in[1], 128.0 * 2 / 6, 1.0);
  EXPECT_NEAR(in[2], 128.0 * 3 / 6, 1.0);
  EXPECT_NEAR(out[0], 64.0 * 3 / 4, 1.0);
  EXPECT_NEAR(out[2], 64.0 / 4, 1.0);
}

TEST(token_budgets, clamping_mins_mixture_and_determinism) {
  // Max 20 tokens per modality: budgets clamp (tokens lost), targets never reuse input tokens.
  BudgetSampler clamped(three(20), {{"c", {1, 1, 1}, {1, 1, 1}, 1}}, 128, 128);
  TokenRng rng(3);
  for (int i = 0; i < 2000; ++i) {
    const Budgets b = clamped.sample(rng);
    for (int m = 0; m < 3; ++m) {
      EXPECT_LE(b.input[m], 20);
      EXPECT_LE(b.input[m] + b.target[m], 20);
    }
  }
  // Mins are met by redrawing.
  auto specs = three();
  specs[0].min_input_tokens = 30;
  BudgetSampler with_min(specs, {{"c", {1, 1, 1}, {1, 1, 1}, 1}}, 128, 64);
  for (int i = 0; i < 2000; ++i) EXPECT_GE(with_min.sample(rng).input[0], 30);
  specs[0].min_input_tokens = 150;  // impossible with alpha 0 for it
  BudgetSampler impossible(specs, {{"c", {0, 1, 1}, {1, 1, 1}, 1}}, 128, 64);
  EXPECT_THROW(impossible.sample(rng), std::runtime_error);
  // Components by weight: 3 : 1.
  BudgetSampler mixed(three(), {{"a", {1, 1, 1}, {1, 1, 1}, 3}, {"b", {1, 1, 1}, {1, 1, 1}, 1}}, 16,
                      16);
  int first = 0;
  for (int i = 0; i < 20000; ++i) first += mixed.sample(rng).component == 0;
  EXPECT_NEAR(first / 20000.0, 0.75, 0.015);
  // The same seed gives the same draws.
  TokenRng a(99), b(99);
  for (int i = 0; i < 50; ++i) {
    const Budgets x = mixed.sample(a), y = mixed.sample(b);
    EXPECT_EQ(x.input, y.input);
    EXPECT_EQ(x.target, y.target);
  }
  EXPECT_THROW(BudgetSampler(three(), {{"bad", {1, 1}, {1, 1, 1}, 1}}, 8, 8),
               std::invalid_argument);
}

TEST(token_budgets, four_m_mixture_rgb2all_and_all2all) {
  const auto specs = three();
  BudgetSampler sampler(specs, four_m_mixture(specs, "S2L2A"), 128, 128);
  TokenRng rng(5);
  int rgb2all = 0;
  for (int i = 0; i < 4000; ++i) {
    const Budgets b = sampler.sample(rng);
    EXPECT_EQ(b.target[0], 0) << "the pixel modality is never a target";
    if (b.component == 0) {
      ++rgb2all;
      EXPECT_EQ(b.input[0], 128);
      EXPECT_EQ(b.input[1] + b.input[2], 0);
    }
  }
  EXPECT_NEAR(rgb2all / 4000.0, 0.5, 0.03);
  EXPECT_THROW(four_m_mixture(specs, "LULC"), std::invalid_argument);
}

TEST(image_masking, permutation_masks_are_exact_disjoint_and_uniform) {
  TokenRng rng(11);
  const int n = 196, in = 40, out = 60, draws = 20000;
  std::vector<int> input_hits(n, 0), target_hits(n, 0);
  for (int d = 0; d < draws; ++d) {
    const ImageMask m = mask_image(n, in, out, rng);
    int inputs = 0, targets = 0;
    for (int i = 0; i < n; ++i) {
      EXPECT_FALSE(!m.input_mask[i] && !m.target_mask[i]) << "both input and target";
      inputs += !m.input_mask[i];
      targets += !m.target_mask[i];
      input_hits[i] += !m.input_mask[i];
      target_hits[i] += !m.target_mask[i];
    }
    ASSERT_EQ(inputs, in);
    ASSERT_EQ(targets, out);
  }
  // Each position is an input with probability 40/196 (binomial sd ~ 0.0029 at 20000 draws).
  for (int i = 0; i < n; ++i) {
    EXPECT_NEAR(input_hits[i] / double(draws), double(in) / n, 0.015) << i;
    EXPECT_NEAR(target_hits[i] / double(draws), double(out) / n, 0.017) << i;
  }
  EXPECT_THROW(mask_image(10, 6, 5, rng), std::invalid_argument);
}
