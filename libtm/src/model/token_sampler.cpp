#include "token_sampler.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <cmath>
#include <limits>
#include <mutex>
#include <numeric>
#include <vector>

#include "generation.h"

namespace terramind::net {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// at::mt19937 semantics (ATen/core/MT19937RNGEngine.h) on its plain-data state, in bulk.
class Mt19937Stream {
 public:
  explicit Mt19937Stream(const at::mt19937_data_pod& pod) : pod_(pod) {}
  const at::mt19937_data_pod& pod() const { return pod_; }

  void fill(uint32_t* out, std::size_t n) {
    while (n > 0) {
      if (pod_.left_ == 1) {
        twist();
        pod_.left_ = at::MERSENNE_STATE_N + 1;
        pod_.next_ = 0;
      }
      const std::size_t take = std::min<std::size_t>(n, static_cast<std::size_t>(pod_.left_ - 1));
      const uint32_t* state = pod_.state_.data() + pod_.next_;
      for (std::size_t k = 0; k < take; ++k) out[k] = temper(state[k]);
      pod_.next_ += static_cast<uint32_t>(take);
      pod_.left_ -= static_cast<int>(take);
      out += take;
      n -= take;
    }
  }

 private:
  static uint32_t temper(uint32_t y) {
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    return y ^ (y >> 18);
  }
  static uint32_t twist_word(uint32_t u, uint32_t v) {
    return (((u & at::UMASK) | (v & at::LMASK)) >> 1) ^ ((v & 1u) ? at::MATRIX_A : 0u);
  }
  // Split so that each loop reads only finished words: the compiler vectorises them.
  void twist() {
    uint32_t* s = pod_.state_.data();
    constexpr int N = at::MERSENNE_STATE_N, M = at::MERSENNE_STATE_M;
    for (int i = 0; i < N - M; ++i) s[i] = s[i + M] ^ twist_word(s[i], s[i + 1]);
    for (int i = N - M; i < N - 1; ++i) s[i] = s[i + M - N] ^ twist_word(s[i], s[i + 1]);
    s[N - 1] = s[M - 1] ^ twist_word(s[N - 1], s[0]);
  }
  at::mt19937_data_pod pod_;
};

// Marks the top-p nucleus of one row of probabilities: the tokens whose strictly higher-ranked
// mass is <= top_p. Instead of sorting the row, a bucket selection (2048 buckets spread between
// the candidates' min and max, a monotone map) finds the bucket holding the boundary, level by
// level; only the few candidates left are sorted and walked. Sums accumulate in double and
// compare in float, as torch's CPU cumsum over the sorted row does.
void nucleus(const float* probs, int64_t vocab, double top_p, std::vector<int32_t>& candidates,
             std::vector<uint8_t>& keep) {
  constexpr int kBuckets = 2048;
  const float threshold = static_cast<float>(top_p);
  std::fill(keep.begin(), keep.end(), 0);
  candidates.resize(vocab);
  std::iota(candidates.begin(), candidates.end(), 0);
  double above = 0.0;  // mass of the tokens already known to rank ahead of the boundary
  std::array<double, kBuckets> mass{};
  while (candidates.size() > 32) {
    float lo = probs[candidates[0]], hi = lo;
    for (int32_t j : candidates) {
      lo = std::min(lo, probs[j]);
      hi = std::max(hi, probs[j]);
    }
    if (!(hi > lo)) break;  // all equal: the walk below decides
    const double scale = (kBuckets - 1) / (static_cast<double>(hi) - lo);
    auto bucket_of = [&](int32_t j) {
      return std::min(kBuckets - 1, static_cast<int>((static_cast<double>(probs[j]) - lo) * scale));
    };
    mass.fill(0.0);
    for (int32_t j : candidates) mass[bucket_of(j)] += probs[j];
    int boundary = -1;
    for (int b = kBuckets - 1; b >= 0; --b) {
      if (mass[b] == 0.0) continue;
      if (static_cast<float>(above + mass[b]) > threshold) {
        boundary = b;
        break;
      }
      above += mass[b];
    }
    if (boundary < 0) {  // the remaining mass stays within top_p: keep everything
      for (int32_t j : candidates) keep[j] = 1;
      return;
    }
    std::size_t n = 0;
    for (int32_t j : candidates) {
      const int bucket = bucket_of(j);
      if (bucket > boundary) keep[j] = 1;
      else if (bucket == boundary) candidates[n++] = j;
    }
    candidates.resize(n);
  }
  std::sort(candidates.begin(), candidates.end(), [probs](int32_t a, int32_t b) {
    return probs[a] > probs[b] || (probs[a] == probs[b] && a < b);
  });
  for (int32_t j : candidates) {
    keep[j] = 1;  // kept: the mass strictly ahead of it did not exceed top_p
    above += probs[j];
    if (static_cast<float>(above) > threshold) return;
  }
}

}  // namespace

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
    remove = torch::cat({torch::zeros_like(remove.narrow(-1, 0, 1)),
                         remove.narrow(-1, 0, remove.size(-1) - 1)},
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
  torch::Tensor z = logits_in.contiguous().clone();
  const int64_t rows = z.size(0), vocab = z.size(1);
  if (options.top_k > 0) {
    const int64_t k = std::min(options.top_k, vocab);
    const auto kth = std::get<0>(z.topk(k, -1)).select(-1, k - 1).unsqueeze(-1);
    z.masked_fill_(z < kth, kNegInf);
  }
  if (options.top_p > 0.0) {
    const auto probs = z.softmax(-1);
    const float* p = probs.data_ptr<float>();
    float* zd = z.data_ptr<float>();
    at::parallel_for(0, rows, 1, [&](int64_t r0, int64_t r1) {
      std::vector<int32_t> order;
      std::vector<uint8_t> keep(vocab);
      for (int64_t r = r0; r < r1; ++r) {
        nucleus(p + r * vocab, vocab, options.top_p, order, keep);
        float* row = zd + r * vocab;
        for (int64_t j = 0; j < vocab; ++j)
          if (!keep[j]) row[j] = kNegInf;
      }
    });
  }
  const auto probs = (z / options.temperature).softmax(-1).contiguous();
  const float* p = probs.data_ptr<float>();

  // torch.multinomial(probs, 1) on CPU: q = exponential_(1) over [rows, vocab] in row-major
  // order from the generator, each draw double(-log(1 - u53)) cast to float; s = argmax(p / q).
  auto* cpu = at::check_generator<at::CPUGeneratorImpl>(generator);
  std::lock_guard<std::mutex> lock(cpu->mutex_);
  Mt19937Stream stream(cpu->engine().data());
  std::vector<uint32_t> words(2 * static_cast<std::size_t>(rows) * vocab);
  stream.fill(words.data(), words.size());  // the stream is sequential; the rest is per row
  torch::Tensor out = torch::empty({rows}, torch::kLong);
  int64_t* ids = out.data_ptr<int64_t>();
  at::parallel_for(0, rows, 1, [&](int64_t r0, int64_t r1) {
    constexpr uint64_t kMask53 = (uint64_t{1} << 53) - 1;
    const double kScale = 1.0 / static_cast<double>(uint64_t{1} << 53);
    for (int64_t r = r0; r < r1; ++r) {
      const float* row = p + r * vocab;
      const uint32_t* w = words.data() + 2 * r * vocab;
      float best = -1.0f;
      int64_t best_j = 0;
      for (int64_t j = 0; j < vocab; ++j) {
        const float pj = row[j];
        if (!(pj > 0.0f)) continue;  // p/q = 0 never beats a kept token
        const uint64_t bits = (static_cast<uint64_t>(w[2 * j]) << 32) | w[2 * j + 1];
        const double u = static_cast<double>(bits & kMask53) * kScale;
        // -log(1-u) >= u, so p/u bounds the ratio (with margin for rounding): skip the log
        // when even that cannot win.
        if (best > 0.0f && static_cast<double>(pj) * (1.0 + 1e-6) < static_cast<double>(best) * u)
          continue;
        const float q = static_cast<float>(-1.0 * std::log(1.0 - u));
        const float ratio = pj / q;
        if (ratio > best) {  // first maximum wins, as in argmax
          best = ratio;
          best_j = j;
        }
      }
      ids[r] = best_j;
    }
  });
  at::mt19937 engine;
  engine.set_data(stream.pod());
  cpu->set_engine(engine);
  return out;
}

}  // namespace terramind::net
