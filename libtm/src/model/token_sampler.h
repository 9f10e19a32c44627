// Fast, reference-identical token sampling (spec: terramind-model.md section 7.8).
//
// The reference sorts every row twice for top-p and draws Exp(1) noise for all B*n*V logits
// through torch.multinomial; that dominates a generation step. This sampler selects the nucleus
// by partial selection and replays torch's CPU generator stream (mt19937, two words per draw)
// itself, computing logarithms only where the probability is non-zero. The generator is left in
// the state torch would leave it in.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/torch.h>

namespace terramind::net {

struct SamplingOptions;

// Same contract as sample_tokens(); CPU float32 logits only.
torch::Tensor sample_tokens_fast(const torch::Tensor& logits, const SamplingOptions& options,
                                 at::Generator& generator);

// The reference algorithm with torch ops (sort, softmax, cumsum, multinomial).
torch::Tensor sample_tokens_reference(const torch::Tensor& logits, const SamplingOptions& options,
                                      at::Generator& generator);

}  // namespace terramind::net
