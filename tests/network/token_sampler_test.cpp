// The fast token sampler (model/nucleus_sampler.h) against the reference algorithm written with
// torch ops: identical tokens, and the generator left where torch.multinomial leaves it. CTest
// runs this suite twice: with the kernels this CPU gets, and with TM_CPU_CAPABILITY=default.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>

#include "model/generation.h"
#include "model/nucleus_rows.h"
#include "model/token_sampler.h"

using namespace terramind;

namespace {

struct Draw {
  torch::Tensor tokens;
  torch::Tensor after;  // the generator's next draws
};

Draw draw(bool fast, const torch::Tensor& logits, const net::SamplingOptions& o, uint64_t seed) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(seed);
  Draw d;
  d.tokens =
      fast ? net::sample_tokens_fast(logits, o, g) : net::sample_tokens_reference(logits, o, g);
  d.after = torch::rand({4}, g);
  return d;
}

void expect_identical(const torch::Tensor& logits, const net::SamplingOptions& o, uint64_t seed,
                      const std::string& what) {
  const Draw fast = draw(true, logits, o, seed), reference = draw(false, logits, o, seed);
  EXPECT_TRUE(torch::equal(fast.tokens, reference.tokens))
      << what << ": " << (fast.tokens != reference.tokens).sum().item<int64_t>() << " of "
      << logits.size(0) << " rows differ";
  EXPECT_TRUE(torch::equal(fast.after, reference.after)) << what << ": generator state";
}

net::SamplingOptions options(double top_p, double temperature, int64_t top_k = 0) {
  net::SamplingOptions o;
  o.top_p = top_p;
  o.temperature = temperature;
  o.top_k = top_k;
  return o;
}

}  // namespace

TEST(token_sampler, KernelsAreTheOnesAskedFor) {
  const char* cap = std::getenv("TM_CPU_CAPABILITY");
  const std::string limit = cap ? cap : "", name = net::row_kernels().name;
#if defined(__x86_64__)
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
                      __builtin_cpu_supports("avx512bw");
#else
  const bool avx2 = false, avx512 = false;
#endif
  std::string expected = "generic";
  if (limit != "default" && avx512 && limit != "avx2") {
    expected = "avx512";
  } else if (limit != "default" && avx2) {
    expected = "avx2";
  }
  EXPECT_EQ(name, expected);
  std::cout << "row kernels: " << name << "\n";
}

TEST(token_sampler, FastPathEqualsReferenceOps) {
  torch::NoGradGuard no_grad;
  int compared = 0;
  for (const double scale : {0.5, 3.0, 12.0}) {  // flat to peaked distributions
    for (const double top_p : {0.8, 0.95, 0.0}) {
      for (const int64_t top_k : {int64_t{0}, int64_t{40}}) {
        for (const double temperature : {1.0, 0.7}) {
          auto data = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(compared + 1));
          // 4375 (the LULC vocabulary) is not a whole number of vectors: padded rows.
          const auto logits = torch::randn({37, 4375}, data) * scale;
          expect_identical(logits, options(top_p, temperature, top_k), 1000 + compared,
                           "scale " + std::to_string(scale) + " top_p " + std::to_string(top_p) +
                               " top_k " + std::to_string(top_k) + " T " +
                               std::to_string(temperature));
          ++compared;
        }
      }
    }
  }
  EXPECT_EQ(compared, 36);
}

// A whole tiny-model target: 196 tokens over the S-1 vocabulary, on one and two threads.
TEST(token_sampler, FullTargetOnOneAndTwoThreads) {
  torch::NoGradGuard no_grad;
  auto data = at::make_generator<at::CPUGeneratorImpl>(77);
  const auto flat = torch::randn({196, 15360}, data);
  const int threads = at::get_num_threads();
  for (const int n : {1, 2}) {
    at::set_num_threads(n);
    expect_identical(flat, options(0.8, 1.0), 5, "flat, threads " + std::to_string(n));
    expect_identical(flat * 30.0, options(0.8, 1.0), 6, "peaked, threads " + std::to_string(n));
  }
  at::set_num_threads(threads);
}

// Cuts at the edges: everything kept, a single token, ties at the cut, masked tokens, one row.
TEST(token_sampler, EdgeCasesOfTheNucleus) {
  torch::NoGradGuard no_grad;
  auto data = at::make_generator<at::CPUGeneratorImpl>(11);
  const auto logits = torch::randn({23, 1000}, data);
  expect_identical(logits, options(1.0, 1.0), 1, "top_p 1");
  expect_identical(logits, options(0.9999, 1.0), 2, "top_p 0.9999");
  expect_identical(logits, options(1e-6, 1.0), 3, "top_p 1e-6");
  expect_identical(logits, options(0.8, 3.0), 4, "hot");
  // Rounded logits: many equal values, so the cut falls between ties (index order decides).
  expect_identical((logits * 2).round(), options(0.5, 1.0), 5, "ties");
  expect_identical(torch::zeros({5, 333}), options(0.8, 1.0), 6, "all equal");
  expect_identical((torch::randn({6, 15360}, data) * 2).round(), options(0.7, 0.9), 12,
                   "ties in full-size rows");
  auto masked = logits.clone();
  masked.narrow(1, 100, 800).fill_(-std::numeric_limits<float>::infinity());
  expect_identical(masked, options(0.8, 1.0), 7, "masked");
  expect_identical(logits, options(0.9999999, 1.0, 40), 10, "top-k, then top_p near 1");
  // Live tokens far below the maximum share the last bucket with masked ones, and the walk gets
  // there: 10 tokens at 0, 80 at -70 (exp > 0), 10 at -1000 that top-k masks.
  auto tail = torch::full({3, 100}, -70.0f);
  tail.narrow(1, 0, 10).fill_(0.0f);
  tail.narrow(1, 90, 10).fill_(-1000.0f);
  expect_identical(tail, options(1.0, 1.0, 90), 13, "live and masked in the last bucket");
  expect_identical(logits.narrow(0, 0, 1), options(0.8, 1.0), 8, "one row");
  // 60 logits far below the rest: exp underflows, the last bucket opens.
  auto spread = logits.clone();
  spread.narrow(1, 0, 60).sub_(200.0);
  expect_identical(spread, options(0.99999, 1.0), 9, "underflow");
}

// Random shapes, scales, offsets, ties, top-p, top-k and temperatures (fixed seeds). Top-p stays
// below 0.999: nearer to 1 the reference's cut falls in the rounding noise of its own softmax
// (see nucleus_sampler.h).
TEST(token_sampler, RandomizedAgainstReference) {
  torch::NoGradGuard no_grad;
  std::mt19937_64 rng(2026);
  auto data = at::make_generator<at::CPUGeneratorImpl>(2026);
  const int64_t vocabs[] = {1, 7, 100, 1000, 4375, 15360};
  int64_t rows = 0;
  for (int config = 0; config < 150; ++config) {
    const int64_t vocab = vocabs[rng() % 6], count = 1 + static_cast<int64_t>(rng() % 24);
    const double scale = std::pow(10.0, std::uniform_real_distribution<>(-3, 2)(rng));
    auto logits =
        torch::randn({count, vocab}, data) * scale + std::uniform_real_distribution<>(-50, 50)(rng);
    if (rng() % 5 == 0) logits = logits.round();
    const int filter = static_cast<int>(rng() % 4);
    const double top_p = filter == 0 ? 0.0 : std::uniform_real_distribution<>(0.01, 0.999)(rng);
    const double temperature = rng() % 2 ? 1.0 : std::uniform_real_distribution<>(0.3, 3.0)(rng);
    const int64_t top_k = rng() % 4 == 0 ? 1 + static_cast<int64_t>(rng() % 100) : 0;
    expect_identical(logits, options(top_p, temperature, top_k), rng(),
                     "config " + std::to_string(config));
    rows += count;
  }
  EXPECT_GT(rows, 1000);
}

// Consecutive calls continue the generator stream exactly as torch's would.
TEST(token_sampler, ConsecutiveCallsShareOneStream) {
  torch::NoGradGuard no_grad;
  auto data = at::make_generator<at::CPUGeneratorImpl>(12);
  const auto a = torch::randn({7, 4375}, data), b = torch::randn({3, 15360}, data) * 4;
  auto g1 = at::make_generator<at::CPUGeneratorImpl>(99),
       g2 = at::make_generator<at::CPUGeneratorImpl>(99);
  (void)torch::rand({5}, g1);  // a stream that is not at a block boundary
  (void)torch::rand({5}, g2);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(torch::equal(net::sample_tokens_fast(a, options(0.8, 1.0), g1),
                             net::sample_tokens_reference(a, options(0.8, 1.0), g2)));
    EXPECT_TRUE(torch::equal(net::sample_tokens_fast(b, options(0.9, 0.8), g1),
                             net::sample_tokens_reference(b, options(0.9, 0.8), g2)));
  }
  EXPECT_TRUE(torch::equal(torch::rand({3}, g1), torch::rand({3}, g2)));
}

// NaN or +inf logits are refused, naming the row, and the generator is not advanced.
TEST(token_sampler, InvalidLogitsAreRefused) {
  torch::NoGradGuard no_grad;
  for (const float bad :
       {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    auto logits = torch::zeros({4, 64});
    logits[2][5] = bad;
    auto g = at::make_generator<at::CPUGeneratorImpl>(3),
         fresh = at::make_generator<at::CPUGeneratorImpl>(3);
    try {
      (void)net::sample_tokens_fast(logits, options(0.8, 1.0), g);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("row 2"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(torch::equal(torch::rand({3}, g), torch::rand({3}, fresh)));
  }
}
