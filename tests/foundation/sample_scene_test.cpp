// The bundled sample is what the deterministic generator produces for seed 42.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "synthetic_scene.h"
#include "test_paths.h"
#include "tm/tiling.h"

using namespace terramind;

TEST(SampleScene, FileEqualsGeneratorOutput) {
  const SceneReader scene = SceneReader::open(terramind::testing::sample_scene());
  sample::SceneSpec spec;
  spec.width = scene.info().width;
  spec.height = scene.info().height;
  const sample::SyntheticScene generator(spec);
  for (int y : {0, spec.height / 2, spec.height - 32}) {
    const auto expected = generator.reflectance_rows(y, 32);
    const WindowData read = scene.read({0, y, spec.width, 32});
    ASSERT_EQ(read.values.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i)
      ASSERT_EQ(read.values[i], static_cast<float>(expected[i])) << "row block " << y;
  }
  const auto gt = generator.geotransform();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(scene.info().georef.geotransform[i], gt[i]);
}

TEST(SampleScene, SeedChangesTheSceneAndClassesArePlausible) {
  sample::SceneSpec a, b;
  b.seed = 7;
  a.width = a.height = b.width = b.height = 256;
  const auto rows_a = sample::SyntheticScene(a).reflectance_rows(100, 8);
  EXPECT_EQ(rows_a, sample::SyntheticScene(a).reflectance_rows(100, 8));
  EXPECT_NE(rows_a, sample::SyntheticScene(b).reflectance_rows(100, 8));

  // The 1024 px sample holds several land-cover classes and a nodata region.
  const SceneReader lulc = SceneReader::open(terramind::testing::sample_lulc());
  const WindowData classes = lulc.read({0, 0, lulc.info().width, lulc.info().height});
  std::set<int> seen;
  for (float v : classes.values) seen.insert(static_cast<int>(v));
  EXPECT_TRUE(seen.count(0)) << "nodata wedge";
  EXPECT_GE(seen.size(), 7u);
  // Plausible spectra: per class mean NIR (B08) puts water below trees, and snow is the
  // brightest class in blue (B02).
  const SceneReader s2 = SceneReader::open(terramind::testing::sample_scene());
  const WindowData bands = s2.read({0, 0, s2.info().width, s2.info().height});
  const std::size_t plane = static_cast<std::size_t>(bands.width) * bands.height;
  std::map<int, double> nir, blue;
  std::map<int, std::size_t> count;
  for (std::size_t i = 0; i < plane; ++i) {
    const int cls = static_cast<int>(classes.values[i]);
    if (cls == 0) continue;
    nir[cls] += bands.values[7 * plane + i];
    blue[cls] += bands.values[1 * plane + i];
    ++count[cls];
  }
  ASSERT_TRUE(count[1] && count[2] && count[7]) << "water, trees and snow are present";
  EXPECT_LT(nir[1] / count[1], nir[2] / count[2]);
  for (const auto& [cls, n] : count) {
    if (cls != 7) {
      EXPECT_GT(blue[7] / count[7], blue[cls] / n) << "class " << cls;
    }
  }
}
