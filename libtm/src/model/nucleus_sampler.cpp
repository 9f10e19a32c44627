#include "nucleus_sampler.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <string>

#include "nucleus_rows.h"

namespace terramind::net {

void RowBuffers::resize(int64_t new_vocab) {
  vocab = new_vocab;
  padded = (vocab + kPad - 1) / kPad * kPad;
  if (padded != vocab) logits.assign(padded, -std::numeric_limits<float>::infinity());
  weight.resize(padded);
  bucket.resize(padded);
  words.resize(2 * padded + 2 * Mt19937Stream::kHistory);
  mass.resize(kBuckets);
}

const RowKernels& row_kernels() {
  static const RowKernels& chosen = []() -> const RowKernels& {
    // TM_CPU_CAPABILITY=default|avx2 caps the choice (as ATEN_CPU_CAPABILITY does for torch's
    // kernels): the tests run every variant this CPU can.
    const char* cap = std::getenv("TM_CPU_CAPABILITY");
    const std::string limit = cap ? cap : "";
    if (limit == "default") return rows_generic::kKernels;
#if defined(TM_HAVE_X86_ROWS)
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
                        __builtin_cpu_supports("avx512bw");
    if (avx512 && limit != "avx2") return rows_avx512::kKernels;
    if (avx2) return rows_avx2::kKernels;
#endif
    return rows_generic::kKernels;
  }();
  return chosen;
}

const uint32_t* Mt19937Stream::take(std::size_t n, uint32_t* buffer) {
  constexpr std::size_t N = kHistory;
  // buffer[0, N) is the current block; the words handed out so far end at `start`.
  std::copy(state_.words.begin(), state_.words.end(), buffer);
  const std::size_t start = state_.left > 1 ? state_.next : N;
  const std::size_t end = start + n;
  const std::size_t blocks = end > N ? (end - N + N - 1) / N : 0;
  row_kernels().twist(buffer, N, N + blocks * N);
  std::copy(buffer + blocks * N, buffer + blocks * N + N, state_.words.begin());
  state_.next = static_cast<uint32_t>(end - blocks * N);
  state_.left = static_cast<int>(N - state_.next + 1);
  return buffer + start;
}

NucleusSampler::NucleusSampler(const float* logits, int64_t rows, int64_t vocab,
                               const NucleusOptions& options, const Mt19937State& generator,
                               int64_t* tokens)
    : logits_(logits),
      rows_(rows),
      vocab_(vocab),
      options_(options),
      tokens_(tokens),
      stream_(generator) {}

void NucleusSampler::run(int threads) {
  workers_ = std::max(1, threads);
#pragma omp parallel num_threads(workers_)
  work();
}

void NucleusSampler::work() {
  const RowKernels& kernels = row_kernels();
  // Per thread and kept between calls: fresh pages would cost more than a row's work.
  thread_local RowBuffers b;
  b.resize(vocab_);
  for (;;) {
    int64_t row;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (claimed_ == rows_ || !error_.empty()) return;
      row = claimed_++;
    }
    // The logits come from memory: the worker's likely next row is fetched meanwhile.
    b.next_row = row + workers_ < rows_ ? logits_ + (row + workers_) * vocab_ : nullptr;
    const bool valid = kernels.prepare(logits_ + row * vocab_, options_, b);
    const uint32_t* words;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (!valid && error_.empty())
        error_ = "row " + std::to_string(row) + " of the logits has NaN or +inf, or only -inf";
      turn_.wait(lock, [&] { return streamed_ == row || !error_.empty(); });
      if (!error_.empty()) {
        turn_.notify_all();
        return;
      }
      words = stream_.take(2 * static_cast<std::size_t>(vocab_), b.words.data());
      ++streamed_;
    }
    turn_.notify_all();
    tokens_[row] = kernels.race(words, b);
  }
}

}  // namespace terramind::net
