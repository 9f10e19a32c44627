// Row-wise top-p sampling that reproduces torch.multinomial's draws without sorting.
//
// The reference (spec terramind-model.md section 7.8) sorts every row of logits twice for the
// top-p filter, then torch.multinomial(probs, 1) draws Exp(1) noise q for every logit from the
// CPU generator (mt19937, two 32-bit words per double) and returns argmax(p / q). Replaying that
// stream word for word is what makes our tokens identical; everything else is free to be fast:
//  - the nucleus is found with a histogram linear in the logit; only the bucket holding the cut
//    is refined, and only its last few tokens are sorted (ties that the cut splits follow
//    torch's own, unstable, sort);
//  - the race needs -log(1 - u) for a handful of tokens: 21 bits of the first word of each draw
//    bound u from below, so p / lower_bound(u) bounds a token's ratio from above and rules out
//    nearly every token with one vectorised pass;
//  - the generator stream is the only sequential part: workers take rows in order, hold the
//    generator only while generating their row's words, and do the rest concurrently.
// Identical, that is, up to the reference's own rounding: our softmax is not torch's bit for bit
// (a different exp, another summation order), so a cut decided within ~1e-9 of the threshold can
// fall one token apart (measured: 0 of 910,000 random rows with top_p <= 0.999). With top_p
// within ~1e-7 of 1 the reference's cut lies in its rounding noise (whether its float cumsum
// ends above 1.0f): the dropped tail differs, which matters when a high temperature lifts that
// tail (5 of about 37,000 random rows at top_p = 1, all with temperature > 2.5).
// This file knows nothing about LibTorch (token_sampler.cpp adapts tensors and generators).
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

namespace terramind::net {

// The state of torch's CPU mt19937 (at::mt19937_data_pod without the seed fields).
struct Mt19937State {
  static constexpr int kWords = 624;
  std::array<uint32_t, kWords> words{};
  int left = 1;       // draws left before the next twist, plus one (torch's convention)
  uint32_t next = 0;  // index of the next word to hand out
};

// The generator's stream of untempered words. Seen as one sequence, mt19937 is the recurrence
// x[n] = x[n-227] ^ twist(x[n-624], x[n-623]), so the next words can be generated straight
// into a caller's buffer behind a copy of the current block.
class Mt19937Stream {
 public:
  static constexpr std::size_t kHistory = Mt19937State::kWords;
  explicit Mt19937Stream(const Mt19937State& state) : state_(state) {}
  const Mt19937State& state() const { return state_; }
  // Takes the next n words of the stream. `buffer` must hold n + 2 * kHistory words; returns
  // where in it the n words start.
  const uint32_t* take(std::size_t n, uint32_t* buffer);
  static uint32_t temper(uint32_t y) {
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    return y ^ (y >> 18);
  }

 private:
  Mt19937State state_;
};

struct NucleusOptions {
  double temperature = 1.0;  // > 0
  double top_p = 0.8;        // 0 disables the filter
};

// Samples one token per row of a row-major [rows, vocab] float logit matrix (masked entries are
// -inf), as softmax-top-p-filter + torch.multinomial(probs, 1) would from the given generator
// state, on `threads` OpenMP threads (torch's pool). Afterwards error() is empty and
// generator_state() is where torch would have left the generator, or error() says what was
// wrong with the logits.
class NucleusSampler {
 public:
  NucleusSampler(const float* logits, int64_t rows, int64_t vocab, const NucleusOptions& options,
                 const Mt19937State& generator, int64_t* tokens);
  void run(int threads);
  const std::string& error() const { return error_; }
  const Mt19937State& generator_state() const { return stream_.state(); }

 private:
  void work();  // takes rows until none are left

  const float* logits_;
  int64_t rows_, vocab_;
  NucleusOptions options_;
  int64_t* tokens_;
  int workers_ = 1;

  std::mutex mutex_;  // guards everything below
  std::condition_variable turn_;
  Mt19937Stream stream_;
  int64_t claimed_ = 0;   // rows handed out to workers, in order
  int64_t streamed_ = 0;  // rows whose words have been taken from the stream
  std::string error_;
};

}  // namespace terramind::net
