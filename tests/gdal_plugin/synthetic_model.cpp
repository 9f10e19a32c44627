// The synthetic model's arithmetic: smooth functions of the standardised inputs and position.
#include "synthetic_model.h"

#include <chrono>
#include <cmath>
#include <stdexcept>
#include <thread>

namespace terramind::testing {
namespace {

// Two features per pixel from the first input: its mean over channels and, for multispectral
// inputs, a NIR - red contrast (B08 - B04 in S2 band order).
void features(const InputTensor& in, int window, std::size_t plane, std::size_t pixel, float& mean,
              float& contrast) {
  const float* base = in.values.data() + static_cast<std::size_t>(window) * in.channels * plane;
  double sum = 0.0;
  for (int ch = 0; ch < in.channels; ++ch) sum += base[ch * plane + pixel];
  mean = static_cast<float>(sum / in.channels);
  contrast = in.channels > 7 ? base[7 * plane + pixel] - base[3 * plane + pixel] : 0.0f;
}

}  // namespace

TargetSpec SyntheticModel::spec(const std::string& target) const {
  if (target != "S1GRD" && target != "LULC")
    throw std::invalid_argument("the synthetic model has no target " + target);
  return target_spec_for(target);
}

bool SyntheticModel::accepts_input(const std::string& modality) const {
  return modality == "S2L2A" || modality == "DEM";
}

std::map<std::string, std::string> SyntheticModel::provenance() const {
  return {{"MODEL", "synthetic test model"},
          {"MODEL_SOURCE", "synthetic"},
          {"SEED", std::to_string(static_cast<long long>(settings_.seed))}};
}

void SyntheticModel::infer(const InputBatch& inputs, OutputBatch& outputs) {
  if (settings_.fail) throw std::runtime_error("synthetic model failure (opt.fail=1)");
  if (settings_.delay_ms > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(settings_.delay_ms));
  const int size = inputs.window_size;
  const std::size_t plane = static_cast<std::size_t>(size) * size;
  const InputTensor& in = inputs.inputs.front();
  const float shift = static_cast<float>(settings_.seed * 0.001);
  for (OutputTensor& out : outputs.targets) {
    for (int k = 0; k < inputs.count; ++k) {
      const PixelWindow& w = inputs.windows[k];
      float* values = out.values.data() + static_cast<std::size_t>(k) * out.channels * plane;
      for (int r = 0; r < size; ++r)
        for (int c = 0; c < size; ++c) {
          const std::size_t pixel = static_cast<std::size_t>(r) * size + c;
          float mean = 0.0f, contrast = 0.0f;
          features(in, k, plane, pixel, mean, contrast);
          const float u = (c + 0.5f) / size - 0.5f, v = (r + 0.5f) / size - 0.5f;
          const float x = static_cast<float>(w.x + c), y = static_cast<float>(w.y + r);
          if (out.target == "S1GRD") {
            values[pixel] = -12.0f + 3.0f * mean + 0.8f * std::sin(x / 23.0f) + 1.5f * u + shift;
            values[plane + pixel] =
                -19.0f + 2.0f * contrast + 0.6f * std::cos(y / 31.0f) - 1.2f * v + shift;
          } else {  // LULC: a softmax over smooth class scores
            float scores[32];
            float top = -1e30f;
            for (int ch = 0; ch < out.channels && ch < 32; ++ch) {
              scores[ch] = std::cos(ch * 0.9f * mean + 0.7f * ch * contrast) +
                           0.4f * std::sin(x / (17.0f + ch) + y / (29.0f + ch)) +
                           0.3f * u * (ch % 3) - 0.2f * v * (ch % 2) + (ch == 0 ? -2.0f : 0.0f) +
                           shift;
              top = std::max(top, scores[ch]);
            }
            float total = 0.0f;
            for (int ch = 0; ch < out.channels; ++ch)
              total += scores[ch] = std::exp(scores[ch] - top);
            for (int ch = 0; ch < out.channels; ++ch)
              values[ch * plane + pixel] = scores[ch] / total;
          }
        }
    }
  }
}

}  // namespace terramind::testing
