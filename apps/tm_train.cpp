// tm_train: TerraMind pre-training from a run file, on one process or under a launcher
// (torchrun --no-python, srun, mpirun) with c10d.
#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "tm/trainer.h"

namespace po = boost::program_options;
using namespace terramind;
using namespace terramind::training;

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

const char* const kUsage =
    "tm_train: train TerraMind (or one of its tokenizers) from a run file\n\n"
    "usage: tm_train terramind RUN.json [--resume] [--backend auto|gloo|nccl] [-q]\n"
    "       tm_train tokenizer RUN.json [--resume] [--backend auto|gloo|nccl] [-q]\n\n"
    "terramind: pre-train (or continue pre-training) on token shards. The run file (JSON;\n"
    "training/README.md) names the model card, the dataset (tm_tokenize_shards output), token\n"
    "budgets, optimiser, schedule, precision and checkpoint cadence.\n"
    "tokenizer: train (or fine-tune) a DiVAE or VQVAE tokenizer on one modality's pixels of a tm\n"
    "shards dataset; the run file names the tokenizer card instead of a model card.\n\n"
    "Checkpoints go to <output>/checkpoints/step-N/ (model.pt in the official key layout with a\n"
    "card.json that tm_generate --model, tm_tokenize and tm_tokenize_shards read); metrics to\n"
    "<output>/metrics.jsonl, metrics.csv and loss.png. --resume continues exactly from the\n"
    "latest checkpoint.\n\n"
    "Data-parallel runs: start one process per device with a launcher; rank, world size and\n"
    "master address come from its environment (RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT, SLURM_*,\n"
    "OMPI_*). Gloo on CPU, NCCL on CUDA (--backend auto). Each process reads its own part of the\n"
    "data; the global batch is world size x batch.size x batch.accumulation.\n\n"
    "options";

std::string duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long s = std::lround(seconds);
  std::ostringstream out;
  if (s >= 3600)
    out << s / 3600 << "h" << std::setw(2) << std::setfill('0') << (s / 60) % 60 << "m";
  else if (s >= 60)
    out << s / 60 << "m" << std::setw(2) << std::setfill('0') << s % 60 << "s";
  else
    out << s << "s";
  return out.str();
}

void print_report(const StepReport& r) {
  std::ostringstream line;
  line << "step " << r.step << "/" << r.steps << "  loss " << std::fixed << std::setprecision(4)
       << r.loss;
  if (r.val_loss) line << "  val " << *r.val_loss;
  line << std::defaultfloat << std::setprecision(3) << "  lr " << r.lr << "  |g| " << r.grad_norm
       << "  " << std::fixed << std::setprecision(1) << r.samples_per_s << " samples/s  "
       << std::setprecision(0) << r.tokens_per_s << " tok/s  ETA " << duration(r.eta_s);
  std::cout << line.str() << std::endl;
}

TrainerCallbacks progress_callbacks(bool show) {
  TrainerCallbacks callbacks;
  if (show) {
    callbacks.on_log = print_report;
    callbacks.on_checkpoint = [](const std::string& folder) {
      std::cout << "checkpoint " << folder << std::endl;
    };
  }
  return callbacks;
}

int train_tokenizer(const std::string& run_file, const std::string& backend, bool resume,
                    bool quiet) {
  TokenizerRunConfig config = TokenizerRunConfig::from_file(run_file);
  std::shared_ptr<ProcessGroup> group = process_group_from_environment(backend, config.device);
  const bool show = group->rank() == 0 && !quiet;
  TokenizerTrainer trainer(config, group, resume);
  if (show)
    std::cout << "tm_train: tokenizer " << config.card.name << " (" << config.card.modality << "), "
              << group->world_size() << " process(es) (" << group->backend() << "), from step "
              << trainer.step() << " to " << config.steps << "; output " << config.output
              << std::endl;
  trainer.run(progress_callbacks(show));
  if (show) std::cout << "done: " << latest_checkpoint(config.output) << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string command, run_file, backend = "auto";
  bool resume = false, quiet = false;
  po::options_description visible(kUsage);
  visible.add_options()("help,h", "show this help")(
      "resume", po::bool_switch(&resume), "continue from the run folder's latest checkpoint")(
      "backend", po::value(&backend)->default_value("auto"),
      "c10d backend of a multi-process run: auto (NCCL for CUDA devices, else Gloo), gloo, nccl")(
      "quiet,q", po::bool_switch(&quiet), "no progress lines");
  po::options_description hidden;
  hidden.add_options()("command", po::value(&command))("run", po::value(&run_file));
  po::options_description all;
  all.add(visible).add(hidden);
  po::positional_options_description positional;
  positional.add("command", 1).add("run", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "tm_train: " << e.what() << "\n(tm_train --help for usage)\n";
    return kExitUsage;
  }
  if (vm.count("help")) {
    std::cout << visible << "\n";
    return 0;
  }
  if (command.empty()) {
    std::cerr << "tm_train: missing command (terramind, tokenizer)\n(tm_train --help for usage)\n";
    return kExitUsage;
  }
  if (command != "terramind" && command != "tokenizer") {
    std::cerr << "tm_train: unknown command '" << command << "' (terramind, tokenizer)\n";
    return kExitUsage;
  }
  if (run_file.empty()) {
    std::cerr << "tm_train: missing RUN.json\n(tm_train --help for usage)\n";
    return kExitUsage;
  }
  if (backend != "auto" && backend != "gloo" && backend != "nccl") {
    std::cerr << "tm_train: --backend " << backend << ": expected auto, gloo or nccl\n";
    return kExitUsage;
  }
  try {
    if (command == "tokenizer") return train_tokenizer(run_file, backend, resume, quiet);
    RunConfig config = RunConfig::from_file(run_file);
    std::shared_ptr<ProcessGroup> group = process_group_from_environment(backend, config.device);
    const bool rank0 = group->rank() == 0;
    Trainer trainer(config, group, resume);
    if (rank0 && !quiet)
      std::cout << "tm_train: " << config.card.name << ", "
                << trainer.model().parameter_count() / 1e6 << " M parameters, "
                << group->world_size() << " process(es) (" << group->backend() << "), from step "
                << trainer.step() << " to " << config.steps << "; output " << config.output
                << std::endl;
    trainer.run(progress_callbacks(rank0 && !quiet));
    if (rank0 && !quiet) std::cout << "done: " << latest_checkpoint(config.output) << std::endl;
    return 0;
  } catch (const TrainingError& e) {
    std::cerr << "tm_train: " << e.what() << "\n";
    return kExitFailure;
  } catch (const std::exception& e) {
    std::cerr << "tm_train: " << e.what() << "\n";
    return kExitFailure;
  }
}
