// tm_convert: an official TerraMind .pt checkpoint -> safetensors + JSON model card.
#include <sys/stat.h>
#include <unistd.h>
#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "model_summary.h"
#include "tm/model.h"
#include "tm/model_cache.h"
#include "tm/tokenizer.h"

namespace fs = std::filesystem;
namespace po = boost::program_options;
using namespace terramind;

namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

// Floating tensors in the storage type asked for (--dtype); the model computes in float32 either
// way (weights are converted when they are assigned), so f16 halves the file at ~1e-3 relative
// rounding of each weight.
TensorMap with_storage_type(const TensorMap& weights, const std::string& dtype) {
  if (dtype == "keep") return weights;
  const at::ScalarType type = dtype == "f32"    ? at::kFloat
                              : dtype == "f16"  ? at::kHalf
                              : dtype == "bf16" ? at::kBFloat16
                                                : throw std::invalid_argument(
                                                      "--dtype must be keep, f32, f16 or bf16, "
                                                      "not '" +
                                                      dtype + "'");
  TensorMap out;
  for (const auto& [name, tensor] : weights)
    out.insert(name, at::isFloatingType(tensor.scalar_type()) ? tensor.to(type) : tensor);
  return out;
}

// A tokenizer card ("kind": divae/vqvae) rather than a model card?
bool is_tokenizer_card(const std::string& path) {
  try {
    TokenizerCard::from_file(path);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

void write_text_atomically(const std::string& path, const std::string& text) {
  const std::string temp = path + ".tm-partial-" + std::to_string(getpid());
  {
    std::ofstream out(temp);
    out << text << "\n";
    if (!out) {
      std::remove(temp.c_str());
      throw std::runtime_error("cannot write " + path);
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    std::remove(temp.c_str());
    throw std::runtime_error("cannot move " + temp + " to " + path);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string input, output, card_path, name, dtype = "keep";
  int64_t head_dim = 64;
  bool overwrite = false;
  po::options_description options(
      "tm_convert: convert a TerraMind checkpoint (.pt) to safetensors plus a JSON model card\n\n"
      "usage: tm_convert CHECKPOINT.pt --out MODEL.safetensors [--card CARD.json]\n"
      "       tm_convert TOKENIZER.pt --card TOKENIZER_CARD.json --out TOKENIZER.safetensors\n"
      "       tm_convert NAME --out MODEL.safetensors   an official model (tm_models list), "
      "downloaded\n"
      "                                                into the model cache when missing\n\n"
      "The card is written next to the output as MODEL.json. Without --card it is inferred\n"
      "from the checkpoint's keys and shapes. The converted model is loaded back and checked.\n\n"
      "options");
  options.add_options()("help,h", "show this help")("out,o", po::value(&output),
                                                    "output .safetensors file")(
      "card", po::value(&card_path), "model card to use instead of inferring one")(
      "name", po::value(&name), "name recorded in the written card")(
      "head-dim", po::value(&head_dim)->default_value(64), "head width when inferring a card")(
      "dtype", po::value(&dtype)->default_value("keep"),
      "storage type of floating weights: keep, f32, f16 or bf16 (computation stays float32)")(
      "overwrite", po::bool_switch(&overwrite), "replace existing outputs");
  po::options_description all;
  all.add(options).add_options()("input", po::value(&input));
  po::positional_options_description positional;
  positional.add("input", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "tm_convert: " << e.what() << "\n\n" << options;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << options;
    return 0;
  }
  if (input.empty() || output.empty()) {
    std::cerr << "tm_convert: a checkpoint and --out are required\n\n" << options;
    return 2;
  }
  const std::string suffix = ".safetensors";
  if (output.size() <= suffix.size() ||
      output.compare(output.size() - suffix.size(), suffix.size(), suffix) != 0) {
    std::cerr << "tm_convert: --out must end in .safetensors\n";
    return 2;
  }
  const std::string card_out = output.substr(0, output.size() - suffix.size()) + ".json";
  for (const auto& path : {output, card_out})
    if (exists(path) && !overwrite) {
      std::cerr << "tm_convert: output exists: " << path << " (pass --overwrite to replace it)\n";
      return 1;
    }
  try {
    // An official name (tm_models list): its checkpoint from the model cache, with its card.
    if (looks_like_model_name(input) && !exists(input)) {
      ModelCache cache;
      const std::string official = cache.model(input).name;
      const std::string cached_card = cache.resolve(official, {});
      if (card_path.empty()) card_path = cached_card;
      if (name.empty()) name = official;
      input = ModelCard::from_file(cached_card).checkpoint;
    }
    const TensorMap weights = with_storage_type(load_torch_checkpoint(input), dtype);
    const SafetensorsMetadata metadata{{"format", "pt"}, {"source", base_name(input)}};
    if (!card_path.empty() && is_tokenizer_card(card_path)) {
      TokenizerCard card = TokenizerCard::from_file(card_path);
      if (!name.empty()) card.name = name;
      ImageTokenizer::load(card, weights);  // strict: the card must take these weights
      save_safetensors(output, weights, metadata);
      card.checkpoint = base_name(output);
      write_text_atomically(card_out, card.to_json());
      const ImageTokenizer again = ImageTokenizer::open(card_out);
      std::cout << "tokenizer " << again.card().name << " (" << again.card().modality << ", "
                << again.parameter_count() << " parameters)\nwrote " << output << " and "
                << card_out << "\n";
      return 0;
    }
    ModelCard card =
        card_path.empty() ? infer_model_card(weights, head_dim) : ModelCard::from_file(card_path);
    if (!name.empty())
      card.name = name;
    else if (card.name == "inferred")
      card.name = base_name(input);
    // Check before writing anything: the card must load this checkpoint strictly.
    const TerraMindModel model = TerraMindModel::load(card, weights);
    save_safetensors(output, weights, metadata);
    card.checkpoint = base_name(output);
    // Tokenizer files relative to the written card, so that the folder can move as a whole.
    const fs::path card_dir = fs::absolute(fs::path(card_out)).parent_path();
    for (auto& [modality, file] : card.tokenizers)
      file = fs::absolute(file).lexically_relative(card_dir).string();
    write_text_atomically(card_out, card.to_json());
    // Load the converted files back: what tm_generate --model will do.
    const TerraMindModel again = TerraMindModel::open(card_out);
    print_model_summary(again, card_out, std::cout);
    std::cout << "wrote " << output << " and " << card_out << "\n";
  } catch (const std::exception& e) {
    std::cerr << "tm_convert: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
