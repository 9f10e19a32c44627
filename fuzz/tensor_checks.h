// Checks on the tensors a reader returned, done in instrumented code (LibTorch itself is not
// instrumented, so an out-of-bounds view would go unnoticed if only LibTorch touched it).
#pragma once

#include <torch/torch.h>

#include <string>

#include "fuzz_support.h"

namespace tm_fuzz {

// Every element of the view lies inside its storage; reading the bytes of small tensors here
// lets AddressSanitizer see any access outside the allocation.
inline void check_tensor(const std::string& name, const at::Tensor& t) {
  if (!t.defined()) invariant_failed("undefined tensor", name);
  if (t.numel() == 0) return;
  const int64_t item = static_cast<int64_t>(t.element_size());
  int64_t last = t.storage_offset();
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (t.size(d) < 0 || t.stride(d) < 0) invariant_failed("negative size or stride", name);
    last += (t.size(d) - 1) * t.stride(d);
  }
  const int64_t storage_items = static_cast<int64_t>(t.storage().nbytes()) / item;
  if (last >= storage_items)
    invariant_failed("view outside its storage",
                     name + ": last element " + std::to_string(last) + ", storage holds " +
                         std::to_string(storage_items));
  if (t.numel() > 4096) return;
  const auto* base = static_cast<const unsigned char*>(t.storage().data());
  unsigned sum = 0;
  for (int64_t i = 0; i <= last; ++i)
    for (int64_t b = 0; b < item; ++b) sum += base[i * item + b];
  static volatile unsigned sink;
  sink = sum;
}

}  // namespace tm_fuzz
