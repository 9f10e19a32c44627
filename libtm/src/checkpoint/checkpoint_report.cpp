// Strict key/shape matching of a loaded checkpoint against what a model expects.
#include <sstream>
#include <unordered_set>

#include "tm/model.h"

namespace terramind {

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

}  // namespace

ExpectedShapes expected_shapes(const torch::nn::Module& module) {
  ExpectedShapes result;
  for (const auto& item : module.named_parameters(/*recurse=*/true))
    result.emplace_back(item.key(), item.value().sizes().vec());
  for (const auto& item : module.named_buffers(/*recurse=*/true))
    result.emplace_back(item.key(), item.value().sizes().vec());
  return result;
}

std::string CheckpointReport::describe() const {
  if (clean()) return "checkpoint matches";
  std::ostringstream out;
  out << "checkpoint does not match the model (" << missing.size() << " missing, "
      << unexpected.size() << " unexpected, " << shape_mismatches.size() << " shape mismatches)";
  for (const auto& name : missing) out << "\n  missing:    " << name;
  for (const auto& name : unexpected) out << "\n  unexpected: " << name;
  for (const auto& m : shape_mismatches)
    out << "\n  shape:      " << m.name << " expected " << shape_text(m.expected) << ", got "
        << shape_text(m.actual);
  return out.str();
}

CheckpointReport compare_checkpoint(const ExpectedShapes& expected, const TensorMap& checkpoint) {
  CheckpointReport report;
  std::unordered_set<std::string> expected_names;
  for (const auto& [name, shape] : expected) {
    expected_names.insert(name);
    const at::Tensor* tensor = checkpoint.find(name);
    if (!tensor) {
      report.missing.push_back(name);
    } else if (tensor->sizes().vec() != shape) {
      report.shape_mismatches.push_back({name, shape, tensor->sizes().vec()});
    }
  }
  for (const auto& item : checkpoint)
    if (!expected_names.count(item.first)) report.unexpected.push_back(item.first);
  return report;
}

void require_matching_checkpoint(const ExpectedShapes& expected, const TensorMap& checkpoint,
                                 const std::string& what) {
  CheckpointReport report = compare_checkpoint(expected, checkpoint);
  if (!report.clean()) throw CheckpointError(what + ": " + report.describe());
}

}  // namespace terramind
