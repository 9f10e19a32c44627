#include "standardisation.h"

#include <stdexcept>
#include <utility>

namespace terramind {
namespace {

std::pair<at::Tensor, at::Tensor> stats_tensors(const ChannelStats& stats, const at::Tensor& values,
                                                const std::string& what) {
  const auto channels = static_cast<int64_t>(stats.mean.size());
  if (values.dim() != 4 || values.size(1) != channels)
    throw std::invalid_argument(what + ": expected [B, " + std::to_string(channels) +
                                ", H, W], got " + c10::str(values.sizes()));
  return {at::tensor(stats.mean, at::kFloat).reshape({1, -1, 1, 1}).to(values.device()),
          at::tensor(stats.std, at::kFloat).reshape({1, -1, 1, 1}).to(values.device())};
}

}  // namespace

at::Tensor standardise_channels(const ChannelStats& stats, const at::Tensor& values,
                                const std::string& what) {
  const auto [mean, std_dev] = stats_tensors(stats, values, what);
  return (values.to(at::kFloat) - mean) / std_dev;
}

at::Tensor destandardise_channels(const ChannelStats& stats, const at::Tensor& values,
                                  const std::string& what) {
  const auto [mean, std_dev] = stats_tensors(stats, values, what);
  return values * std_dev + mean;
}

}  // namespace terramind
