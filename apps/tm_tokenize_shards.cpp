// tm_tokenize_shards: a tm shards dataset -> the same dataset with token arrays (token shards),
// which tm_train terramind reads.
#include <ATen/Parallel.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <iostream>

#include "tm/registry.h"
#include "tm/shard_tokenizer.h"
#include "tm/shards.h"

namespace po = boost::program_options;
using namespace terramind;

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

const char* const kUsage =
    "tm_tokenize_shards: pre-tokenise a tm shards dataset with trained image tokenizers\n\n"
    "usage: tm_tokenize_shards DATASET --out DIR --tokenizer MODALITY=TOKENIZER... [options]\n\n"
    "Writes a new dataset to DIR: every member of DATASET's shards, plus for each sample and\n"
    "each --tokenizer modality it holds the token ids \"<key>.<modality>.tokens.npy.gz\"\n"
    "(views x grid rows x grid columns, uint16 up to 65536 codes); the manifest records the\n"
    "tokenizer, vocabulary and grid. TOKENIZER is a tokenizer card (.json naming its weights) or\n"
    "a checkpoint (.pt, .safetensors; card inferred). --flips also stores the tokens of each\n"
    "sample's horizontal flip, so that training can flip pixels and tokens alike. All or\n"
    "nothing: a failure leaves no dataset in DIR.\n\n"
    "options";

}  // namespace

int main(int argc, char** argv) {
  shards::TokenizeOptions options;
  std::vector<std::string> specs;
  std::int64_t head_dim = 64;
  int threads = 0;
  bool quiet = false;
  po::options_description visible(kUsage);
  visible.add_options()("help,h", "show this help")("version", "print the tm version")(
      "out,o", po::value(&options.out), "output folder (a new dataset)")(
      "tokenizer,t", po::value(&specs)->composing(),
      "MODALITY=CARD_OR_CHECKPOINT (repeatable, one per modality)")(
      "flips", po::bool_switch(&options.flips),
      "also tokenise each sample's horizontal flip (for training with flips)")(
      "overwrite", po::bool_switch(&options.overwrite), "replace a dataset in --out")(
      "compression", po::value(&options.compression_level)->default_value(3),
      "gzip level of the token arrays, 0-9")(
      "head-dim", po::value(&head_dim)->default_value(64),
      "head width assumed when a card is inferred from a checkpoint")(
      "threads", po::value(&threads)->default_value(0), "CPU threads (0: all cores)")(
      "quiet,q", po::bool_switch(&quiet), "no progress");
  po::options_description all;
  all.add(visible).add_options()("dataset", po::value(&options.dataset));
  po::positional_options_description positional;
  positional.add("dataset", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "tm_tokenize_shards: " << e.what() << "\n\n" << visible;
    return kExitUsage;
  }
  if (vm.count("help")) {
    std::cout << visible;
    return 0;
  }
  if (vm.count("version")) {
    std::cout << "tm_tokenize_shards " << tm_version() << "\n";
    return 0;
  }
  const auto usage_error = [&](const std::string& what) {
    std::cerr << "tm_tokenize_shards: " << what << "\n\n" << visible;
    return kExitUsage;
  };
  if (options.dataset.empty()) return usage_error("no DATASET given");
  if (options.out.empty()) return usage_error("no --out DIR given");
  if (specs.empty()) return usage_error("no --tokenizer MODALITY=TOKENIZER given");
  if (threads < 0) return usage_error("--threads must be 0 (all cores) or positive");
  try {
    if (threads > 0) at::set_num_threads(threads);
    for (const auto& spec : specs) {
      const auto eq = spec.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
        return usage_error("--tokenizer takes MODALITY=CARD_OR_CHECKPOINT, not '" + spec + "'");
      const std::string modality = spec.substr(0, eq);
      if (options.encoders.count(modality))
        return usage_error("--tokenizer " + modality + " is given twice");
      options.encoders[modality] =
          training::image_token_encoder(spec.substr(eq + 1), modality, head_dim);
    }
    const auto start = std::chrono::steady_clock::now();
    if (!quiet)
      options.progress = [&](std::int64_t done, std::int64_t total) {
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (isatty(STDERR_FILENO))
          std::cerr << "\r  sample " << done << "/" << total << " (" << int(done / s) << "/s)"
                    << (done == total ? "\n" : "") << std::flush;
        else if (done == total || done % 1000 == 0)
          std::cerr << "  sample " << done << "/" << total << "\n";
      };
    const shards::TokenizeReport report = shards::tokenize_dataset(options);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "wrote " << options.out << ": " << report.samples << " samples in "
              << report.manifest.shards.size() << " shard(s);";
    for (const auto& [modality, n] : report.tokenised) {
      const auto& t = report.manifest.tokens.at(modality);
      std::cout << " " << modality << " tokens " << t.grid_h << "x" << t.grid_w << " x" << t.views
                << " view(s) for " << n << " samples (" << t.vocabulary << " codes, " << t.tokenizer
                << ");";
    }
    std::cout << " " << static_cast<int>(seconds) << " s\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "tm_tokenize_shards: " << e.what() << "\n";
    return kExitFailure;
  }
}
