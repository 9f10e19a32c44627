// Modalities computed from others while building shards (BuildOptions::derive_ndvi).
#include <algorithm>
#include <cmath>
#include <limits>

#include "build_inputs.h"
#include "tm/registry.h"

namespace terramind::shards {

void add_derived_modality(std::vector<std::string>& modalities, const std::string& name) {
  if (std::find(modalities.begin(), modalities.end(), name) != modalities.end()) return;
  modalities.push_back(name);
  // Registry order, as discovery lists them.
  std::vector<std::string> ordered;
  for (const auto& m : ModalityRegistry::instance().modalities())
    if (std::find(modalities.begin(), modalities.end(), m.name) != modalities.end())
      ordered.push_back(m.name);
  modalities = ordered;
}

bool derive_ndvi(LoadedSample& loaded) {
  Sample& sample = loaded.sample;
  if (sample.arrays.count("NDVI")) return false;
  for (const char* source : {"S2L2A", "S2L1C"}) {
    const auto it = sample.arrays.find(source);
    if (it == sample.arrays.end()) continue;
    const Modality& m = ModalityRegistry::instance().get(source);
    const int red = m.band_index("B04"), nir = m.band_index("B08");
    const Array& s2 = it->second;
    const auto& nodata = loaded.nodata[source];
    auto is_nodata = [&](int band, double v) {
      return std::isnan(v) ||
             (band < static_cast<int>(nodata.size()) && nodata[band] && v == *nodata[band]);
    };
    Array ndvi;
    ndvi.dtype = DType::kFloat32;
    ndvi.bands = 1;
    ndvi.height = s2.height;
    ndvi.width = s2.width;
    ndvi.data.resize(ndvi.byte_size());
    float* out = reinterpret_cast<float*>(ndvi.data.data());
    for (int y = 0; y < s2.height; ++y)
      for (int x = 0; x < s2.width; ++x) {
        const double r = s2.value(red, y, x), n = s2.value(nir, y, x);
        float v = std::numeric_limits<float>::quiet_NaN();
        if (!is_nodata(red, r) && !is_nodata(nir, n) && r + n != 0)
          v = static_cast<float>((n - r) / (n + r));
        out[static_cast<std::size_t>(y) * s2.width + x] = v;
      }
    sample.arrays["NDVI"] = std::move(ndvi);
    loaded.nodata["NDVI"] = {std::nullopt};
    const auto src = sample.record.sources.find(source);
    sample.record.sources["NDVI"] =
        "derived: (B08 - B04) / (B08 + B04) of " +
        (src == sample.record.sources.end() ? std::string(source) : src->second);
    return true;
  }
  return false;
}

}  // namespace terramind::shards
