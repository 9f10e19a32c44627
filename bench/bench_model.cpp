// bench_model: TerraMind transformer speed on CPU (random weights, official dimensions).
// Prints ms per encoder forward and per generated image modality, the share of a target's time
// spent outside the network (sampling), and GFLOP/s against this machine's matmul peak.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "model/generation.h"
#include "model/nucleus_rows.h"
#include "model/terramind_network.h"
#include "model/token_sampler.h"
#include "tm/model.h"

namespace po = boost::program_options;
using namespace terramind;
using Clock = std::chrono::steady_clock;

namespace {

template <typename F>
double best_ms(int repeats, F&& fn) {
  fn();  // warm-up
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = Clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  return best;
}

double matmul_peak_gflops() {
  const int64_t n = 2048;
  const auto a = torch::randn({n, n}), b = torch::randn({n, n});
  const double ms = best_ms(3, [&] { (void)torch::mm(a, b); });
  return 2.0 * n * n * n / (ms * 1e6);
}

// Multiply-adds x2 of the transformer (linear layers and attention products).
double encoder_gflop(const ModelCard& c, int64_t n) {
  const double D = c.dim, H = c.mlp_hidden(), N = n;
  const double mlp = (c.gated_mlp ? 3.0 : 2.0) * N * D * H;
  return c.encoder_depth * 2.0 * (4.0 * N * D * D + 2.0 * N * N * D + mlp) / 1e9;
}

double decoder_gflop(const ModelCard& c, int64_t n, int64_t m) {
  const double D = c.dim, H = c.mlp_hidden(), N = n, M = m;
  const double mlp = (c.gated_mlp ? 3.0 : 2.0) * N * D * H;
  const double self = 4.0 * N * D * D + 2.0 * N * N * D;
  const double cross = 2.0 * N * D * D + 2.0 * M * D * D + 2.0 * N * M * D;
  return c.decoder_depth * 2.0 * (self + cross + mlp) / 1e9 + 2.0 * (N * D * D + M * D * D) / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  std::string cards_dir = TM_CARDS_DIR;
  std::vector<std::string> sizes{"tiny", "base"};
  std::vector<int> thread_counts{1, 2};
  int repeats = 5;
  po::options_description options("bench_model: TerraMind transformer speed on CPU");
  options.add_options()("help,h", "show this help")(
      "sizes", po::value(&sizes)->multitoken(), "official sizes to run (tiny small base large)")(
      "threads", po::value(&thread_counts)->multitoken(), "thread counts")(
      "repeats", po::value(&repeats)->default_value(5), "timed repetitions (best is reported)")(
      "cards", po::value(&cards_dir), "folder with the official model cards");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, options), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "bench_model: " << e.what() << "\n" << options;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << options;
    return 0;
  }
  torch::NoGradGuard no_grad;
  std::printf("batch 1, 224x224 S2L2A input (196 tokens), target S1GRD (196 tokens, V=15360)\n");
  std::printf("sampler row kernels: %s (TM_CPU_CAPABILITY=avx2 or =default selects others)\n",
              net::row_kernels().name);
  std::printf("%-5s %3s %10s %8s %11s %9s %9s %9s %7s\n", "size", "thr", "peak GF/s", "enc ms",
              "enc GF/s", "target ms", "net ms", "sample ms", "outside");
  for (int threads : thread_counts) {
    at::set_num_threads(threads);
    const double peak = matmul_peak_gflops();
    for (const auto& size : sizes) {
      ModelCard card = ModelCard::from_file(cards_dir + "/terramind_v1_" + size + ".json");
      card.encoder_modalities = {"untok_sen2l2a@224"};
      card.decoder_modalities = {"tok_sen1grd@224"};
      net::TerraMind model(card);
      auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
      for (auto& p : model->parameters()) p.normal_(0.0, 0.02, gen);
      model->eval();
      const auto image = torch::randn({1, 12, 224, 224});
      const auto e = model->embed_pixels("untok_sen2l2a@224", image);
      const auto tokens = e.x + e.emb;
      const double enc_ms = best_ms(repeats, [&] { (void)model->encode(tokens); });
      at::Tensor logits;
      const double net_ms = best_ms(repeats, [&] {
        const auto x = model->embed_pixels("untok_sen2l2a@224", image);
        const auto emb = x.emb.expand_as(x.x);
        const auto ctx = model->context(model->encode(x.x + emb), emb);
        logits = model->logits("tok_sen1grd@224", model->decode_image("tok_sen1grd@224", ctx, 14, 14));
      });
      net::SamplingOptions sampling;  // temperature 1, top-p 0.8: the reference defaults
      const auto rows = logits.reshape({196, -1});
      const double sample_ms = best_ms(repeats, [&] {
        auto g = at::make_generator<at::CPUGeneratorImpl>(5);
        (void)net::sample_tokens(rows, sampling, g);
      });
      // Trained models give peaked distributions (a nucleus of tens of tokens); random weights
      // give nearly flat ones (thousands). Time both.
      const auto peaked = rows * (40.0 / rows.std().item<double>());
      const double peaked_ms = best_ms(repeats, [&] {
        auto g = at::make_generator<at::CPUGeneratorImpl>(5);
        (void)net::sample_tokens(peaked, sampling, g);
      });
      const double reference_ms = best_ms(2, [&] {
        auto g = at::make_generator<at::CPUGeneratorImpl>(5);
        (void)net::sample_tokens_reference(rows, sampling, g);
      });
      const double target_ms = net_ms + sample_ms;
      std::printf("%-5s %3d %10.0f %8.1f %11.1f %9.1f %9.1f %9.1f %6.1f%%\n", size.c_str(), threads,
                  peak, enc_ms, encoder_gflop(card, 196) / (enc_ms / 1e3), target_ms, net_ms,
                  sample_ms, 100.0 * sample_ms / target_ms);
      std::printf("      sampling: %.1f ms on peaked logits (%.1f%% of a target), reference torch ops %.1f ms\n",
                  peaked_ms, 100.0 * peaked_ms / (net_ms + peaked_ms), reference_ms);
      std::printf("      network GFLOP/s for a target: %.1f (encoder %.2f + decoder %.2f GFLOP)\n",
                  (encoder_gflop(card, 196) + decoder_gflop(card, 196, 196)) / (net_ms / 1e3),
                  encoder_gflop(card, 196), decoder_gflop(card, 196, 196));
    }
  }
  return 0;
}
