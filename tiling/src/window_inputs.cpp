// Filling partially empty windows and optional standardisation.
#include "window_inputs.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace terramind {
namespace {

// Registry mean of each band in raw units; 0 when the modality has no statistics.
std::vector<double> registry_means(const Modality& modality, std::optional<StatsVersion> version,
                                   int bands) {
  std::vector<double> means(bands, 0.0);
  const StatsVersion v = version.value_or(StatsVersion::kV1);
  const bool has =
      v == StatsVersion::kV1 ? modality.stats_v1.has_value() : modality.stats_v01.has_value();
  if (has) {
    const ChannelStats& stats = modality.stats(v);
    for (int b = 0; b < bands && b < static_cast<int>(stats.mean.size()); ++b)
      means[b] = stats.mean[b];
  }
  return means;
}

}  // namespace

WindowData read_input_window(const SceneReader& reader, const Modality& modality,
                             const PixelWindow& window, EdgePolicy edge) {
  WindowData data = reader.read(window, edge, 0.0f);
  const ChannelStats* stats = modality.stats_v1    ? &*modality.stats_v1
                              : modality.stats_v01 ? &*modality.stats_v01
                                                   : nullptr;
  if (!stats) return data;
  const std::size_t plane = static_cast<std::size_t>(data.width) * data.height;
  for (int b = 0; b < data.bands && b < static_cast<int>(stats->mean.size()); ++b) {
    const double mean = stats->mean[b], limit = kImplausibleStdDevs * stats->std[b];
    const float* values = data.values.data() + b * plane;
    for (std::size_t i = 0; i < plane; ++i)
      if (data.valid[i] && !(std::abs(values[i] - mean) <= limit)) data.valid[i] = 0;
  }
  return data;
}

void prepare_window(const WindowData& data, const Modality& modality,
                    std::optional<StatsVersion> standardise, float* values_out,
                    std::uint8_t* valid_out) {
  const std::size_t plane = static_cast<std::size_t>(data.width) * data.height;
  std::copy(data.valid.begin(), data.valid.end(), valid_out);
  const std::size_t valid_pixels = data.valid_count();
  const std::vector<double> fallback = valid_pixels == plane
                                           ? std::vector<double>()
                                           : registry_means(modality, standardise, data.bands);
  const ChannelStats* stats = standardise ? &modality.stats(*standardise) : nullptr;

  for (int b = 0; b < data.bands; ++b) {
    const float* in = data.values.data() + b * plane;
    float* out = values_out + b * plane;
    std::copy(in, in + plane, out);
    if (valid_pixels < plane) {
      double fill = fallback[b];
      if (valid_pixels > 0) {
        double sum = 0.0;
        for (std::size_t i = 0; i < plane; ++i)
          if (data.valid[i]) sum += in[i];
        fill = sum / static_cast<double>(valid_pixels);
      }
      for (std::size_t i = 0; i < plane; ++i)
        if (!data.valid[i]) out[i] = static_cast<float>(fill);
    }
    if (stats) {
      const double mean = stats->mean.at(b), std = stats->std.at(b);
      const float scale = static_cast<float>(1.0 / std), shift = static_cast<float>(mean);
      for (std::size_t i = 0; i < plane; ++i) out[i] = (out[i] - shift) * scale;
    }
  }
}

}  // namespace terramind
