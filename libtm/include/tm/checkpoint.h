// tm/checkpoint.h — checkpoint I/O (part of tm_model; included by tm/model.h).
//
// PyTorch zip checkpoints read without Python, safetensors read/write, and strict key matching of
// a checkpoint against what a model expects.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace terramind {

// ---------------------------------------------------------------------------------------------
// Checkpoints
// ---------------------------------------------------------------------------------------------

// Any failure to read, validate or write a checkpoint. The message names the file and the problem.
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Name -> tensor, in insertion (= file) order, with fast lookup by name.
class TensorMap {
 public:
  using Item = std::pair<std::string, at::Tensor>;

  // Throws std::invalid_argument when the name is already present.
  void insert(std::string name, at::Tensor tensor);
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  // nullptr when absent.
  const at::Tensor* find(const std::string& name) const;
  // Throws std::out_of_range naming the key when absent.
  const at::Tensor& at(const std::string& name) const;

  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  std::vector<std::string> names() const;
  const std::vector<Item>& items() const { return items_; }
  std::vector<Item>::const_iterator begin() const { return items_.begin(); }
  std::vector<Item>::const_iterator end() const { return items_.end(); }

 private:
  std::vector<Item> items_;
  std::unordered_map<std::string, std::size_t> index_;
};

// Reads a zip-format torch.save file (PyTorch >= 1.6) without executing anything from it: a
// plain dict or an OrderedDict (state_dict) of tensors, or such a dict wrapped under a "model" or
// "state_dict" key. Tied tensors keep sharing one storage. Only a whitelist of pickle globals is
// accepted (OrderedDict, tensor rebuild functions, torch.*Storage); anything else is refused.
TensorMap load_torch_checkpoint(const std::string& path);

using SafetensorsMetadata = std::map<std::string, std::string>;

// Reads a .safetensors file; its "__metadata__" goes to *metadata when given. Tensors come in
// file (data offset) order.
TensorMap load_safetensors(const std::string& path, SafetensorsMetadata* metadata = nullptr);

// Writes tensors as Python's torch.save writes a state dict (a zip of an OrderedDict pickle,
// protocol 2, and one storage per tensor), in map order, atomically: torch.load, the reference
// and load_torch_checkpoint read it. Below 4 GiB (no zip64).
void save_torch_checkpoint(const std::string& path, const TensorMap& tensors);

// Writes tensors (moved to CPU, made contiguous) in map order, atomically: a temporary file in
// the same folder renamed over `path`. Tensors sharing storage are written as separate copies.
void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const SafetensorsMetadata& metadata = {});

// What a model expects: parameter/buffer name -> shape, in the model's order.
using ExpectedShapes = std::vector<std::pair<std::string, std::vector<int64_t>>>;

// Named parameters then named buffers of a module (recursively).
ExpectedShapes expected_shapes(const torch::nn::Module& module);

// Outcome of matching a checkpoint against what a model expects (like load_state_dict(strict)).
struct CheckpointReport {
  struct ShapeMismatch {
    std::string name;
    std::vector<int64_t> expected;
    std::vector<int64_t> actual;
  };
  std::vector<std::string> missing;     // expected, absent from the checkpoint
  std::vector<std::string> unexpected;  // in the checkpoint, not expected
  std::vector<ShapeMismatch> shape_mismatches;

  bool clean() const { return missing.empty() && unexpected.empty() && shape_mismatches.empty(); }
  // One multi-line text listing every problem ("checkpoint matches" when clean).
  std::string describe() const;
};

CheckpointReport compare_checkpoint(const ExpectedShapes& expected, const TensorMap& checkpoint);

// Throws CheckpointError("<what>: <full report>") unless the checkpoint matches exactly.
void require_matching_checkpoint(const ExpectedShapes& expected, const TensorMap& checkpoint,
                                 const std::string& what);

}  // namespace terramind
