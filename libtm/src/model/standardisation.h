// Internal: per-channel z-scores with registry statistics, shared by the model and tokenizers.
#pragma once

#include <string>
#include <torch/torch.h>

#include "tm/registry.h"

namespace terramind {

// (values - mean) / std over channel dim 1 of [B, C, H, W]; `what` names the modality in errors.
at::Tensor standardise_channels(const ChannelStats& stats, const at::Tensor& values,
                                const std::string& what);
// values * std + mean, the inverse.
at::Tensor destandardise_channels(const ChannelStats& stats, const at::Tensor& values,
                                  const std::string& what);

}  // namespace terramind
