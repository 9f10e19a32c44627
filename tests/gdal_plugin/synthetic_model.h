// A cheap, deterministic stand-in for TerraMind behind the runtime API, for the plugin tests.
// Outputs depend on the inputs, on the absolute position and on the position inside the window,
// so overlapping windows disagree and blending, caching and overviews all show in the pixels.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tm/tiling.h"

namespace terramind::testing {

struct SyntheticSettings {
  double seed = 0.0;  // shifts every output a little: different seeds, different pixels
  bool fail = false;  // infer() throws, for the error-path tests
  int delay_ms = 0;   // per infer() call, to widen race windows in the concurrency tests
};

// Targets: S1GRD (2 channels VV, VH in dB, Float32, nodata -9999) and LULC (probabilities of the
// registry's land-cover classes, nodata 0). Inputs: S2L2A or DEM, standardised with v1 statistics.
class SyntheticModel : public WindowModel {
 public:
  explicit SyntheticModel(SyntheticSettings settings) : settings_(settings) {}

  std::vector<std::string> targets() const override { return {"LULC", "S1GRD"}; }
  TargetSpec spec(const std::string& target) const override;
  bool accepts_input(const std::string& modality) const override;
  std::optional<StatsVersion> input_standardisation() const override { return StatsVersion::kV1; }
  int window_size_multiple() const override { return 16; }
  // MODEL, MODEL_SOURCE and SEED, as a real runtime reports what made its pixels.
  std::map<std::string, std::string> provenance() const override;
  void infer(const InputBatch& inputs, OutputBatch& outputs) override;

 private:
  SyntheticSettings settings_;
};

}  // namespace terramind::testing
