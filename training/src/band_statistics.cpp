// Per-band statistics of a dataset (manifest "statistics"): Welford's running mean and variance
// per sample, merged with Chan's formula so that millions of samples keep their precision.
#include <cmath>

#include "build_inputs.h"
#include "tm/registry.h"

namespace terramind::shards {

void StatisticsAccumulator::add(const std::string& modality, const Array& array,
                                const std::vector<std::optional<double>>& nodata) {
  auto& bands = running_[modality];
  if (bands.size() < static_cast<std::size_t>(array.bands)) bands.resize(array.bands);
  const std::size_t plane = static_cast<std::size_t>(array.height) * array.width;
  for (int b = 0; b < array.bands; ++b) {
    const NodataTest is_nodata(b < static_cast<int>(nodata.size()) ? nodata[b]
                                                                   : std::optional<double>{});
    Running s;
    s.total = static_cast<std::int64_t>(plane);
    for (std::size_t i = 0; i < plane; ++i) {
      const double v = array.value(b * plane + i);
      if (is_nodata(v)) continue;
      ++s.count;
      const double d = v - s.mean;
      s.mean += d / static_cast<double>(s.count);
      s.m2 += d * (v - s.mean);
      s.min = std::min(s.min, v);
      s.max = std::max(s.max, v);
    }
    Running& r = bands[b];
    const std::int64_t n = r.count + s.count;
    if (n > 0) {
      const double delta = s.mean - r.mean;
      const double na = static_cast<double>(r.count), nb = static_cast<double>(s.count);
      r.m2 += s.m2 + delta * delta * na * nb / static_cast<double>(n);
      r.mean += delta * nb / static_cast<double>(n);
    }
    r.count = n;
    r.total += s.total;
    r.min = std::min(r.min, s.min);
    r.max = std::max(r.max, s.max);
  }
}

std::map<std::string, std::vector<BandStatistics>> StatisticsAccumulator::result() const {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::map<std::string, std::vector<BandStatistics>> out;
  for (const auto& [modality, bands] : running_) {
    const Modality* m = ModalityRegistry::instance().find(modality);
    for (std::size_t b = 0; b < bands.size(); ++b) {
      const Running& r = bands[b];
      BandStatistics s;
      s.band = m && b < m->bands.size() ? m->bands[b].name : "band " + std::to_string(b + 1);
      s.count = r.count;
      s.mean = r.count ? r.mean : nan;
      s.std = r.count ? std::sqrt(r.m2 / static_cast<double>(r.count)) : nan;
      s.min = r.count ? r.min : nan;
      s.max = r.count ? r.max : nan;
      s.nodata_fraction =
          r.total ? static_cast<double>(r.total - r.count) / static_cast<double>(r.total) : nan;
      out[modality].push_back(s);
    }
  }
  return out;
}

}  // namespace terramind::shards
