// The per-row work of NucleusSampler (nucleus_sampler.h), compiled once per instruction set:
// nucleus_rows.inc is included by nucleus_rows_generic.cpp (any CPU, 4 lanes: SSE2 on x86-64),
// nucleus_rows_avx2.cpp (AVX2+FMA, 8 lanes) and nucleus_rows_avx512.cpp (16 lanes);
// row_kernels() picks the widest this CPU runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "nucleus_sampler.h"

namespace terramind::net {

// A worker's scratch for one row; rows are padded to whole vectors (padding logits are -inf).
struct RowBuffers {
  static constexpr int64_t kPad = 16;    // the widest lane count
  static constexpr int kBuckets = 2048;  // of the first-level histogram
  void resize(int64_t vocab);
  int64_t vocab = 0, padded = 0;
  // A padded copy of the row, when vocab is not a whole number of vectors.
  std::vector<float> logits;
  std::vector<float> weight;    // exp(z / T - max)
  std::vector<int32_t> bucket;  // first-level histogram bucket of each token
  std::vector<uint32_t> words;  // the row's draws, behind a block of generator history
  std::vector<double> mass;     // softmax mass per bucket
  std::vector<int32_t> candidates;
  const float* next_row = nullptr;  // logits this worker will likely take next: prefetched
  const float* z = nullptr;         // the row's (padded) logits
  float z_cut = 0.0f;               // the kept tokens: z > z_cut, or z == z_cut and index <= j_cut
  int64_t j_cut = 0;
  float inv_sum = 0.0f;  // softmax scale of the kept weights
  int64_t heaviest = 0;  // a kept token of the largest weight
};

struct RowKernels {
  // Softmax, top-p cut and the kept tokens' weights; false when the row has NaN or +inf logits
  // or only -inf ones.
  bool (*prepare)(const float* logits, const NucleusOptions& options, RowBuffers& b);
  // torch.multinomial's race over the prepared row with its 2 * vocab stream words.
  int64_t (*race)(const uint32_t* words, RowBuffers& b);
  // x[n] = x[n-227] ^ twist(x[n-624], x[n-623]) for n in [begin, end): whole blocks.
  void (*twist)(uint32_t* x, std::size_t begin, std::size_t end);
  const char* name;
};

namespace rows_generic {
extern const RowKernels kKernels;
}
namespace rows_avx2 {
extern const RowKernels kKernels;
}
namespace rows_avx512 {
extern const RowKernels kKernels;
}

const RowKernels& row_kernels();

}  // namespace terramind::net
