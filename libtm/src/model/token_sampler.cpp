#include "token_sampler.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <limits>
#include <mutex>
#include <stdexcept>

#include "generation.h"
#include "nucleus_sampler.h"

namespace terramind::net {

torch::Tensor sample_tokens_reference(const torch::Tensor& logits, const SamplingOptions& options,
                                      at::Generator& generator) {
  if (options.greedy()) return logits.argmax(-1);
  torch::Tensor z = logits.clone();
  const double neg_inf = -std::numeric_limits<double>::infinity();
  if (options.top_k > 0) {
    const int64_t k = std::min(options.top_k, z.size(-1));
    const auto kth = std::get<0>(z.topk(k, -1)).select(-1, k - 1).unsqueeze(-1);
    z.masked_fill_(z < kth, neg_inf);
  }
  if (options.top_p > 0.0) {
    auto [sorted, order] = z.sort(-1, /*descending=*/true);
    auto remove = sorted.softmax(-1).cumsum(-1) > options.top_p;
    remove = torch::cat(
        {torch::zeros_like(remove.narrow(-1, 0, 1)), remove.narrow(-1, 0, remove.size(-1) - 1)},
        -1);
    z.masked_fill_(remove.scatter(-1, order, remove), neg_inf);
  }
  const auto probs = (z / options.temperature).softmax(-1);
  return torch::multinomial(probs, 1, /*replacement=*/false, generator).squeeze(-1);
}

torch::Tensor sample_tokens_fast(const torch::Tensor& logits_in, const SamplingOptions& options,
                                 at::Generator& generator) {
  if (options.greedy()) return logits_in.argmax(-1);
  TORCH_CHECK(logits_in.dim() == 2 && logits_in.scalar_type() == torch::kFloat32 &&
                  logits_in.device().is_cpu(),
              "sample_tokens_fast needs CPU float32 logits [rows, vocab]");
  torch::Tensor z = logits_in.contiguous();
  const int64_t rows = z.size(0), vocab = z.size(1);
  if (options.top_k > 0) {
    const int64_t k = std::min(options.top_k, vocab);
    const auto kth = std::get<0>(z.topk(k, -1)).select(-1, k - 1).unsqueeze(-1);
    z = z.masked_fill(z < kth, -std::numeric_limits<float>::infinity());
  }
  torch::Tensor out = torch::empty({rows}, torch::kLong);
  auto* cpu = at::check_generator<at::CPUGeneratorImpl>(generator);
  std::lock_guard<std::mutex> lock(cpu->mutex_);
  at::mt19937_data_pod pod = cpu->engine().data();
  Mt19937State state;
  std::copy(pod.state_.begin(), pod.state_.end(), state.words.begin());
  state.left = pod.left_;
  state.next = pod.next_;
  NucleusSampler sampler(z.data_ptr<float>(), rows, vocab, {options.temperature, options.top_p},
                         state, out.data_ptr<int64_t>());
  sampler.run(at::in_parallel_region() ? 1 : at::get_num_threads());
  // torch.multinomial checks the probabilities before drawing: the generator stays untouched.
  if (!sampler.error().empty()) throw std::invalid_argument("sampling: " + sampler.error());
  const Mt19937State& after = sampler.generator_state();
  std::copy(after.words.begin(), after.words.end(), pod.state_.begin());
  pod.left_ = after.left;
  pod.next_ = after.next;
  at::mt19937 engine;
  engine.set_data(pod);
  cpu->set_engine(engine);
  return out;
}

}  // namespace terramind::net
