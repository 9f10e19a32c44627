// bench_tokenizer: image tokenizers at the official sizes (random weights) on 224 x 224 tiles:
// encode ms per tile, diffusion decode ms per DDIM step, ViT (LULC) decode ms per tile, for each
// LibTorch thread count, and the memory a tile needs on top of the weights (peak RSS growth).
#include <ATen/Parallel.h>
#include <malloc.h>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "tm/model.h"

namespace po = boost::program_options;
using namespace terramind;

namespace {

using Clock = std::chrono::steady_clock;

// Linux: VmHWM / VmRSS in bytes; writing 5 to clear_refs resets the peak.
std::size_t status_bytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) {
      std::istringstream value(line.substr(field.size() + 1));
      std::size_t kb = 0;
      value >> kb;
      return kb * 1024;
    }
  return 0;
}

void reset_peak() { std::ofstream("/proc/self/clear_refs") << "5"; }

template <typename F>
double milliseconds(int reps, F&& run) {
  run();  // warm-up: allocator pools, oneDNN primitives
  const auto start = Clock::now();
  for (int i = 0; i < reps; ++i) run();
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count() / reps;
}

// Peak RSS growth of one call over the RSS before it, in MiB.
template <typename F>
double peak_growth_mib(F&& run) {
  malloc_trim(0);  // hand freed heap pages back, so that reuse shows up as growth again
  reset_peak();
  const std::size_t before = status_bytes("VmRSS");
  run();
  return (static_cast<double>(status_bytes("VmHWM")) - static_cast<double>(before)) / (1 << 20);
}

double weights_mib(const ImageTokenizer& t) {
  return static_cast<double>(t.parameter_count()) * 4.0 / (1 << 20);
}

}  // namespace

int main(int argc, char** argv) {
  std::string cards = TM_TOKENIZER_CARDS_DIR, diffusion_name = "s2l2a";
  std::vector<int> thread_counts{1, 2};
  int reps = 3, steps = 2, tile = 224;
  po::options_description options(
      "bench_tokenizer: tokenizer speed and memory per tile at the official sizes\n\noptions");
  options.add_options()("help,h", "show this help")("cards", po::value(&cards),
                                                    "folder of the official tokenizer cards")(
      "diffusion", po::value(&diffusion_name)->default_value("s2l2a"),
      "diffusion tokenizer card: s2l2a, s1grd, s1rtc, dem, ndvi")(
      "threads", po::value(&thread_counts)->multitoken(), "LibTorch thread counts (default 1 2)")(
      "reps", po::value(&reps)->default_value(3), "timed repetitions")(
      "steps", po::value(&steps)->default_value(2), "DDIM steps per timed decode")(
      "tile", po::value(&tile)->default_value(224), "tile side in px (multiple of 32)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, options), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "bench_tokenizer: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << options;
    return 0;
  }
  torch::NoGradGuard no_grad;
  const auto card_file = [&cards](const std::string& name) {
    return cards + "/terramind_v1_tokenizer_" + name + ".json";
  };
  const std::size_t rss_start = status_bytes("VmRSS");
  const ImageTokenizer divae =
      ImageTokenizer::untrained(TokenizerCard::from_file(card_file(diffusion_name)));
  const ImageTokenizer lulc =
      ImageTokenizer::untrained(TokenizerCard::from_file(card_file("lulc")));
  std::cout << std::fixed << std::setprecision(1)
            << "tokenizers (random weights): " << divae.card().name << " "
            << divae.parameter_count() / 1e6 << " M parameters (" << weights_mib(divae) << " MiB), "
            << lulc.card().name << " " << lulc.parameter_count() / 1e6 << " M ("
            << weights_mib(lulc) << " MiB); RSS after "
            << "building both " << (status_bytes("VmRSS") - rss_start) / double(1 << 20) << " MiB\n"
            << "tile " << tile << " x " << tile << ", batch 1, " << reps
            << " timed runs after a warm-up\n\n";

  const at::Tensor image = at::randn({1, divae.card().channels, tile, tile});
  const at::Tensor classes = at::randint(0, 10, {1, tile, tile}, at::kLong);
  const at::Tensor tokens = divae.encode(image);
  const at::Tensor lulc_tokens = lulc.encode(classes);
  DecodeOptions decode;
  decode.steps = steps;
  decode.seed = 0;

  struct Case {
    std::string what;
    std::function<void()> run;
    double divide;
  };
  const std::vector<Case> cases{
      {"encode " + divae.card().modality + " (ViT-B + FSQ)", [&] { divae.encode(image); }, 1.0},
      {"encode LULC (one-hot ViT-B + FSQ)", [&] { lulc.encode(classes); }, 1.0},
      {"diffusion decode, per DDIM step", [&] { divae.decode(tokens, decode); },
       static_cast<double>(steps)},
      {"LULC ViT decode", [&] { lulc.decode(lulc_tokens); }, 1.0}};

  std::cout << std::left << std::setw(9) << "threads" << std::setw(34) << "measure" << std::right
            << std::setw(12) << "ms/tile"
            << "\n";
  for (int threads : thread_counts) {
    at::set_num_threads(threads);
    for (const Case& c : cases)
      std::cout << std::left << std::setw(9) << threads << std::setw(34) << c.what << std::right
                << std::setw(12) << milliseconds(reps, c.run) / c.divide << "\n"
                << std::flush;
  }
  // Memory last: a fixed mmap threshold returns freed tensors to the system, so RSS follows the
  // live tensors (glibc's adaptive threshold keeps them in the heap), but it slows allocation.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  std::cout << "\npeak RSS growth of one call (activations; weights excluded)\n";
  for (int threads : thread_counts) {
    at::set_num_threads(threads);
    for (const Case& c : cases) {
      c.run();
      std::cout << std::left << std::setw(9) << threads << std::setw(34) << c.what << std::right
                << std::setw(12) << peak_growth_mib(c.run) << " MiB\n";
    }
  }
  std::cout << "\nA full diffusion decode costs steps x the per-step time (reference default 50,\n"
               "notebooks 10); its memory does not grow with the step count.\n";
  return 0;
}
