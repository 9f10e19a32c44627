#include "weights.h"

#include <algorithm>
#include <sstream>
#include <unordered_map>

namespace terramind::net {

std::string WeightAssignment::describe() const {
  std::ostringstream out;
  out << assigned << " tensors assigned";
  auto list = [&out](const char* what, const std::vector<std::string>& keys) {
    if (keys.empty()) return;
    out << "; " << keys.size() << " " << what << ":";
    for (const auto& k : keys) out << "\n  " << k;
  };
  list("missing", missing);
  list("with mismatched shape", mismatched);
  list("unexpected (ignored)", unexpected);
  return out.str();
}

WeightAssignment assign_weights(torch::nn::Module& module, const NamedTensors& source,
                                const std::string& prefix) {
  std::unordered_map<std::string, const torch::Tensor*> by_name;
  for (const auto& [name, tensor] : source)
    if (name.rfind(prefix, 0) == 0) by_name[name.substr(prefix.size())] = &tensor;

  WeightAssignment report;
  std::unordered_map<std::string, bool> used;
  torch::NoGradGuard no_grad;
  auto assign = [&](const std::string& name, torch::Tensor& target) {
    const auto it = by_name.find(name);
    if (it == by_name.end()) {
      report.missing.push_back(name);
      return;
    }
    used[name] = true;
    const torch::Tensor& value = *it->second;
    if (value.sizes() != target.sizes()) {
      report.mismatched.push_back(name + ": checkpoint " + c10::str(value.sizes()) + " vs model " +
                                  c10::str(target.sizes()));
      return;
    }
    target.copy_(value);
    ++report.assigned;
  };
  for (auto& item : module.named_parameters(/*recurse=*/true)) {
    item.value().set_requires_grad(false);
    assign(item.key(), item.value());
  }
  for (auto& item : module.named_buffers(/*recurse=*/true)) assign(item.key(), item.value());
  for (const auto& [name, tensor] : by_name)
    if (!used.count(name)) report.unexpected.push_back(prefix + name);
  std::sort(report.unexpected.begin(), report.unexpected.end());
  return report;
}

}  // namespace terramind::net
