// A restricted unpickler for torch.save's data.pkl (internal to tm_model).
//
// It interprets the pickle opcodes torch.save emits (protocol 2, plus the few protocol 4 opcodes
// that are free to support) over plain data only: the sole callables are a whitelist of globals
// (collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_parameter, torch.*Storage)
// implemented here in C++. Nothing from the file is ever executed. Errors throw CheckpointError
// (without the file name: the caller adds it).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "tm/model.h"

namespace terramind::checkpoint_detail {

// Returns the 1-D storage tensor (`numel` elements of `dtype`) behind a persistent id key.
using StorageLoader =
    std::function<at::Tensor(const std::string& key, at::ScalarType dtype, int64_t numel)>;

// Unpickles `pickle` and returns its tensors: the top-level dict (plain or OrderedDict) of
// tensors, or the dict of tensors under its "state_dict" / "model" key.
TensorMap unpickle_tensors(const std::string& pickle, const StorageLoader& load_storage);

}  // namespace terramind::checkpoint_detail
