// A module's tensors as the trainable classes expose them (internal to tm_model): parameters
// once each (tied weights appear under two keys), their first names, and the state dict.
#pragma once

#include <torch/torch.h>

#include <set>
#include <string>
#include <vector>

#include "tm/checkpoint.h"

namespace terramind::detail {

inline std::vector<at::Tensor> unique_parameters(const torch::nn::Module& module) {
  std::vector<at::Tensor> out;
  std::set<const void*> seen;
  for (const auto& p : module.parameters(/*recurse=*/true))
    if (seen.insert(p.unsafeGetTensorImpl()).second) out.push_back(p);
  return out;
}

inline std::vector<std::string> unique_parameter_names(const torch::nn::Module& module) {
  std::vector<std::string> out;
  std::set<const void*> seen;
  for (const auto& item : module.named_parameters(/*recurse=*/true))
    if (seen.insert(item.value().unsafeGetTensorImpl()).second) out.push_back(item.key());
  return out;
}

// Parameters and buffers by key (detached; shares storage with the module).
inline TensorMap module_state(const torch::nn::Module& module) {
  TensorMap out;
  for (const auto& item : module.named_parameters(/*recurse=*/true))
    out.insert(item.key(), item.value().detach());
  for (const auto& item : module.named_buffers(/*recurse=*/true))
    out.insert(item.key(), item.value().detach());
  return out;
}

inline void make_trainable(torch::nn::Module& module) {
  for (auto& p : module.parameters(/*recurse=*/true)) p.set_requires_grad(true);
  module.train();
}

}  // namespace terramind::detail
