// bench_trainer: pre-training throughput of a run file — samples/s, tokens/s, model FLOP/s and
// their fraction of this machine's measured matmul peak. Run it once for one process, or under a
// launcher (torchrun --no-python, or RANK/WORLD_SIZE/MASTER_* by hand) for several.
#include <unistd.h>
#include <boost/program_options.hpp>
#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>

#include "tm/trainer.h"

namespace po = boost::program_options;
using namespace terramind;
using namespace terramind::training;

namespace {

// Float32 matmul rate of one [n, n] x [n, n] product on the run's device, the best of a few.
double matmul_peak_flops(const at::Device& device, int64_t n) {
  const auto a = torch::randn({n, n}, torch::TensorOptions().device(device));
  const auto b = torch::randn({n, n}, torch::TensorOptions().device(device));
  double best = 0;
  for (int i = 0; i < 5; ++i) {
    if (device.is_cuda()) torch::cuda::synchronize();
    const auto t0 = std::chrono::steady_clock::now();
    auto c = torch::mm(a, b);
    if (device.is_cuda()) torch::cuda::synchronize();
    (void)c.sum().item<float>();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 2.0 * double(n) * double(n) * double(n) / s);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::string run_file, backend = "auto";
  int64_t steps = 20, warmup = 3, matmul = 2048;
  po::options_description opts(
      "bench_trainer: pre-training throughput of a run file\n\n"
      "usage: bench_trainer --run RUN.json [--steps N] [--warmup N]\n\noptions");
  opts.add_options()("help,h", "show this help")("run", po::value(&run_file), "the run file")(
      "steps", po::value(&steps)->default_value(20), "timed optimiser steps")(
      "warmup", po::value(&warmup)->default_value(3), "untimed steps first")(
      "matmul", po::value(&matmul)->default_value(2048), "size of the peak-rate matmul")(
      "backend", po::value(&backend)->default_value("auto"), "c10d backend under a launcher");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "bench_trainer: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help") || run_file.empty()) {
    std::cout << opts << "\n";
    return run_file.empty() && !vm.count("help") ? 2 : 0;
  }
  try {
    RunConfig config = RunConfig::from_file(run_file);
    std::shared_ptr<ProcessGroup> group = process_group_from_environment(backend, config.device);
    const auto scratch =
        std::filesystem::temp_directory_path() / ("bench_trainer_" + std::to_string(::getpid()));
    config.output = scratch.string() + "-rank" + std::to_string(group->rank());
    config.steps = warmup + steps;
    config.warmup_steps = std::min<int64_t>(config.warmup_steps, config.steps);
    config.checkpoint_every = config.steps + 1;  // only the last step saves one; not timed
    config.log_every = config.steps + 1;
    config.val_split.clear();
    const at::Device device(config.device);
    const double peak = matmul_peak_flops(device, matmul);
    Trainer trainer(config, group, false);
    trainer.run({}, warmup);
    group->barrier();
    const auto t0 = std::chrono::steady_clock::now();
    trainer.run({}, steps - 1);  // the last step writes a checkpoint: left out
    group->barrier();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    trainer.run();
    std::filesystem::remove_all(config.output);
    if (group->rank() == 0) {
      const double timed = double(steps - 1);
      const double samples = timed * config.batch_size * config.accumulation * group->world_size();
      const double tokens = samples * double(config.input_tokens + config.target_tokens);
      const double flops =
          samples * 3 * trainer.model().forward_flops(config.input_tokens, config.target_tokens);
      std::cout << std::fixed << std::setprecision(2) << "bench_trainer: " << config.card.name
                << ", " << trainer.model().parameter_count() / 1e6 << " M parameters, "
                << group->world_size() << " process(es) (" << group->backend() << "), "
                << at::get_num_threads() << " threads each, device " << config.device << ", "
                << config.precision << "\n"
                << "  global batch "
                << config.batch_size * config.accumulation * group->world_size() << " samples x "
                << config.input_tokens << "+" << config.target_tokens << " tokens; " << timed
                << " steps in " << s << " s (" << s / timed * 1e3 << " ms/step)\n"
                << "  " << samples / s << " samples/s, " << std::setprecision(0) << tokens / s
                << " tokens/s\n"
                << std::setprecision(2) << "  model " << flops / s / 1e9
                << " GFLOP/s (forward + backward = 3 x forward) per world; matmul peak "
                << peak / 1e9 << " GFLOP/s per process (" << matmul
                << "^3 float32): " << std::setprecision(1)
                << 100.0 * flops / s / (peak * group->world_size()) << " % of peak\n";
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "bench_trainer: " << e.what() << "\n";
    return 1;
  }
}
