// Token sampling (spec: terramind-model.md section 7.8): the reference with torch ops, and a
// fast path with identical tokens that replays torch's CPU generator (nucleus_sampler.h).
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
