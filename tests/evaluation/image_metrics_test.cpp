// Image metrics against hand-computed values (tm/evaluation.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "tm/evaluation.h"

using namespace terramind::eval;

namespace {

Image image(int bands, int h, int w, std::vector<float> v) {
  return Image{bands, h, w, std::move(v)};
}

Image filled(int h, int w, float value) {
  return Image{1, h, w, std::vector<float>(static_cast<std::size_t>(h) * w, value)};
}

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

}  // namespace

TEST(image_metrics, mae_rmse_psnr_by_hand) {
  // Errors 0, 0, 0, 2: MAE 0.5, RMSE sqrt(4 / 4) = 1; the truth spans 0..3, so
  // PSNR = 20 log10(3 / 1) = 9.5424 dB.
  const auto m = image_metrics(image(1, 2, 2, {0, 1, 2, 5}), image(1, 2, 2, {0, 1, 2, 3}));
  EXPECT_DOUBLE_EQ(m.mae, 0.5);
  EXPECT_DOUBLE_EQ(m.rmse, 1.0);
  EXPECT_NEAR(m.psnr, 9.5424, 1e-4);
  EXPECT_EQ(m.pixels, 4);
  EXPECT_TRUE(std::isnan(m.ssim));  // 2 x 2 holds no 11 x 11 window
}

TEST(image_metrics, invalid_pixels_are_left_out_and_bands_averaged) {
  // Band 0 errors 1, (NaN), 3; band 1 errors 0, (x), 0: the middle pixel counts in neither.
  const Image truth = image(2, 1, 3, {0, kNaN, 0, 5, 5, 5});
  const Image gen = image(2, 1, 3, {1, 7, 3, 5, 9, 5});
  const auto m = image_metrics(gen, truth);
  EXPECT_EQ(m.pixels, 2);
  EXPECT_DOUBLE_EQ(m.mae, (2.0 + 0.0) / 2);              // band means 2 and 0
  EXPECT_DOUBLE_EQ(m.rmse, (std::sqrt(5.0) + 0.0) / 2);  // sqrt((1 + 9) / 2), 0
  EXPECT_TRUE(std::isinf(m.psnr));                       // band 1 is exact
  EXPECT_THROW(image_metrics(image(1, 1, 2, {kNaN, 1}), image(1, 1, 2, {1, kNaN})),
               std::invalid_argument);
  EXPECT_THROW(image_metrics(image(1, 1, 2, {0, 1}), image(1, 2, 1, {0, 1})),
               std::invalid_argument);
}

TEST(image_metrics, ssim_known_pairs) {
  const int n = 16;
  Image ramp = filled(n, n, 0);
  for (int r = 0; r < n; ++r)
    for (int c = 0; c < n; ++c) ramp.values[r * n + c] = static_cast<float>(r + 2 * c);
  EXPECT_NEAR(ssim(ramp.values.data(), ramp.values.data(), n, n, 45.0), 1.0, 1e-12);
  // Constant images 2 and 1 with L = 1: no variance, so SSIM is the luminance term
  // (2 * 2 * 1 + C1) / (4 + 1 + C1) with C1 = (0.01 * 1)^2 = 1e-4.
  const Image two = filled(n, n, 2), one = filled(n, n, 1);
  EXPECT_NEAR(ssim(two.values.data(), one.values.data(), n, n, 1.0), (4 + 1e-4) / (5 + 1e-4),
              1e-12);
  // An offset leaves the structure: x = y + 10 on the ramp, L = 45. In every window
  // sigma_x = sigma_y = sigma_xy, so SSIM = (2 mx my + C1) / (mx^2 + my^2 + C1) per window.
  Image shifted = ramp;
  for (float& v : shifted.values) v += 10;
  const double s = ssim(shifted.values.data(), ramp.values.data(), n, n, 45.0);
  EXPECT_LT(s, 1.0);
  EXPECT_GT(s, 0.8);
  // The reflected image (100 - y) is anti-correlated at positive means: SSIM below zero.
  Image negated = ramp;
  for (float& v : negated.values) v = 100 - v;
  EXPECT_LT(ssim(negated.values.data(), ramp.values.data(), n, n, 45.0), 0.0);
  // A window with an invalid pixel is skipped; all windows invalid gives NaN.
  Image holed = ramp;
  holed.values[0] = kNaN;
  EXPECT_NEAR(ssim(holed.values.data(), ramp.values.data(), n, n, 45.0), 1.0, 1e-12);
  Image all_nan = filled(n, n, kNaN);
  EXPECT_TRUE(std::isnan(ssim(all_nan.values.data(), ramp.values.data(), n, n, 45.0)));
  EXPECT_THROW(ssim(ramp.values.data(), ramp.values.data(), n, n, 0.0), std::invalid_argument);
}

TEST(image_metrics, ssim_of_the_shift_by_hand) {
  // One 11 x 11 window on an 11 x 11 image: constant truth 1, generation 3, L = 2 (passed).
  const Image y = filled(11, 11, 1), x = filled(11, 11, 3);
  const double c1 = (0.01 * 2) * (0.01 * 2);
  EXPECT_NEAR(ssim(x.values.data(), y.values.data(), 11, 11, 2.0), (2 * 3 * 1 + c1) / (9 + 1 + c1),
              1e-12);
}

TEST(confusion_matrix, iou_precision_recall_with_ignored_labels) {
  // Truth 1 1 0 2 2 (0 ignored), generation 1 2 1 2 2: pairs (1,1) (1,2) (2,2) (2,2).
  ConfusionMatrix m(3);
  m.add(image(1, 1, 5, {1, 2, 1, 2, 2}), image(1, 1, 5, {1, 1, 0, 2, 2}), /*ignore=*/0);
  EXPECT_EQ(m.total(), 4);
  EXPECT_DOUBLE_EQ(m.accuracy(), 0.75);
  EXPECT_DOUBLE_EQ(m.iou(1), 0.5);        // 1 / (1 + 0 + 1)
  EXPECT_DOUBLE_EQ(m.iou(2), 2.0 / 3.0);  // 2 / (2 + 1 + 0)
  EXPECT_TRUE(std::isnan(m.iou(0)));      // never occurs
  EXPECT_DOUBLE_EQ(m.mean_iou(), (0.5 + 2.0 / 3.0) / 2);
  EXPECT_DOUBLE_EQ(m.precision(2), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.recall(1), 0.5);
  EXPECT_DOUBLE_EQ(m.f1(1), 2.0 / 3.0);  // 2 / (2 + 0 + 1)
  EXPECT_THROW(m.add(3, 0), std::out_of_range);
  EXPECT_TRUE(std::isnan(ConfusionMatrix(2).accuracy()));
}

TEST(generation_pairs, parse_and_label) {
  const auto p = parse_pair("s2l2a+S1GRD->lulc");
  ASSERT_EQ(p.inputs.size(), 2u);
  EXPECT_EQ(p.inputs[0], "S2L2A");
  EXPECT_EQ(p.target, "LULC");
  EXPECT_EQ(p.label(), "S2L2A+S1GRD->LULC");
  EXPECT_THROW(parse_pair("S2L2A"), std::invalid_argument);
  EXPECT_THROW(parse_pair("S2L2A->S2L2A"), std::invalid_argument);
  EXPECT_ANY_THROW(parse_pair("S2L2A->NOPE"));
}

TEST(few_shot, separable_clusters_are_found_and_random_labels_are_chance) {
  // Five classes far apart in 8 dimensions, 20 samples each with small noise: ~100 %.
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0.0f, 0.1f);
  std::vector<std::vector<float>> vectors;
  std::vector<std::string> labels;
  for (int c = 0; c < 5; ++c)
    for (int i = 0; i < 20; ++i) {
      std::vector<float> v(8, 0.0f);
      for (auto& x : v) x = noise(rng);
      v[c] += 10.0f;
      vectors.push_back(v);
      labels.push_back("class" + std::to_string(c));
    }
  FewShotOptions o;
  o.ways = 5;
  o.shots = 1;
  o.episodes = 100;
  const auto separable = prototypical_few_shot(vectors, labels, o);
  EXPECT_GT(separable.accuracy, 0.99);
  EXPECT_DOUBLE_EQ(separable.chance, 0.2);
  // The same points under shuffled labels: chance, within a few points.
  std::shuffle(labels.begin(), labels.end(), rng);
  o.episodes = 400;
  const auto random = prototypical_few_shot(vectors, labels, o);
  EXPECT_NEAR(random.accuracy, 0.2, 0.05) << "+- " << random.ci95;
  EXPECT_GT(random.ci95, 0.0);
  // Same seed, same episodes.
  EXPECT_DOUBLE_EQ(prototypical_few_shot(vectors, labels, o).accuracy, random.accuracy);
}

TEST(few_shot, too_few_samples_or_classes_are_named) {
  const std::vector<std::vector<float>> v{{0}, {1}, {2}, {3}, {4}};
  const std::vector<std::string> l{"a", "a", "a", "b", "b"};
  FewShotOptions o;
  o.ways = 2;
  o.shots = 2;
  try {
    prototypical_few_shot(v, l, o);
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("class 'b' has 2 sample(s)"), std::string::npos)
        << e.what();
  }
  o.shots = 1;
  o.ways = 3;
  EXPECT_THROW(prototypical_few_shot(v, l, o), std::invalid_argument);  // 2 classes only
  o.ways = 2;
  EXPECT_NO_THROW(prototypical_few_shot(v, l, o));
}
