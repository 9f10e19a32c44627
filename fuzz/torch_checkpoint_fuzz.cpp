// Fuzz target: whole .pt checkpoints, zip + pickle + storages (load_torch_checkpoint).
#include <cstddef>
#include <cstdint>

#include "fuzz_support.h"
#include "tensor_checks.h"
#include "tm/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static tm_fuzz::MemoryFile file;
  const std::string& path = file.write(data, size);
  try {
    const terramind::TensorMap tensors = terramind::load_torch_checkpoint(path);
    for (const auto& [name, tensor] : tensors) tm_fuzz::check_tensor(name, tensor);
  } catch (const terramind::CheckpointError&) {
  }
  return 0;
}
