// Copying named tensors (checkpoint keys) into a module's parameters and buffers.
#pragma once

#include <string>
#include <torch/torch.h>
#include <utility>
#include <vector>

namespace terramind::net {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

struct WeightAssignment {
  std::vector<std::string> missing;     // module expects, source lacks
  std::vector<std::string> unexpected;  // source has, module lacks
  std::vector<std::string> mismatched;  // "key: checkpoint [a, b] vs model [c, d]"
  std::size_t assigned = 0;
  bool complete() const { return missing.empty() && mismatched.empty(); }
  std::string describe() const;
};

// Keys in `source` are matched as prefix + module name. Unexpected keys are reported, not fatal:
// official checkpoints carry parts a given build does not use (decoder, other modalities).
WeightAssignment assign_weights(torch::nn::Module& module, const NamedTensors& source,
                                const std::string& prefix = "");

}  // namespace terramind::net
