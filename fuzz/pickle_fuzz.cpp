// Fuzz target: the restricted unpickler for data.pkl (libtm/src/checkpoint/pickle_reader.cpp).
// Storages come from a stand-in loader (zeros, at most 1 MiB each), as the zip would give them.
#include <cstddef>
#include <cstdint>
#include <map>

#include "checkpoint/pickle_reader.h"
#include "fuzz_support.h"
#include "tensor_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string pickle(reinterpret_cast<const char*>(data), size);
  std::map<std::string, at::Tensor> storages;
  auto load = [&](const std::string& key, at::ScalarType dtype, int64_t numel) {
    auto found = storages.find(key);
    if (found != storages.end()) {
      if (found->second.scalar_type() != dtype || found->second.numel() != numel)
        throw terramind::CheckpointError("storage referenced with different types/sizes");
      return found->second;
    }
    if (numel > (int64_t{1} << 20) / static_cast<int64_t>(c10::elementSize(dtype)))
      throw terramind::CheckpointError("storage too large for the fuzz loader");
    at::Tensor storage = at::zeros({numel}, at::TensorOptions().dtype(dtype));
    storages.emplace(key, storage);
    return storage;
  };
  try {
    const terramind::TensorMap tensors =
        terramind::checkpoint_detail::unpickle_tensors(pickle, load);
    for (const auto& [name, tensor] : tensors) tm_fuzz::check_tensor(name, tensor);
  } catch (const terramind::CheckpointError&) {
  }
  return 0;
}
