// Fuzz target: .safetensors files (load_safetensors).
#include <cstddef>
#include <cstdint>

#include "fuzz_support.h"
#include "tensor_checks.h"
#include "tm/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static tm_fuzz::MemoryFile file;
  const std::string& path = file.write(data, size);
  terramind::SafetensorsMetadata metadata;
  try {
    const terramind::TensorMap tensors = terramind::load_safetensors(path, &metadata);
    for (const auto& [name, tensor] : tensors) {
      tm_fuzz::check_tensor(name, tensor);
      if (!tensor.is_contiguous()) tm_fuzz::invariant_failed("non-contiguous tensor", name);
    }
  } catch (const terramind::CheckpointError&) {
  }
  return 0;
}
