// tm_tokenize: scenes -> token rasters (compact archives at 1/16 resolution) and back.
#include <ATen/Parallel.h>
#include <unistd.h>
#include <boost/program_options.hpp>
#include <filesystem>
#include <iostream>

#include "tm/ascii_strings.h"
#include "tm/interrupt.h"
#include "tm/registry.h"
#include "tm/scene_tokenizing.h"
#include "tm/token_raster.h"

namespace po = boost::program_options;
using namespace terramind;

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitInterrupted = 130;

const char* const kUsage =
    "tm_tokenize: encode a scene into a token raster, or decode a token raster back\n\n"
    "usage: tm_tokenize encode SCENE.tif --modality NAME --out TOKENS.tif [options]\n"
    "       tm_tokenize decode TOKENS.tif --out IMAGE.tif [options]\n\n"
    "Encoding cuts the scene into tiles (--tile px, a multiple of 32 for diffusion tokenizers, of\n"
    "16 for LULC) on a grid from the raster origin and tokenizes each tile on its own. The token\n"
    "raster (one band, UInt16 for vocabularies up to 65536) keeps the scene's CRS with a pixel "
    "16x\n"
    "larger and records modality, tokenizer card and FSQ levels, so decoding needs no flags.\n"
    "Decoding writes the scene's size at full resolution: LULC as a class raster (optionally with\n"
    "class probabilities), other modalities by DDIM diffusion in physical units. As in the\n"
    "reference, every diffusion estimate is clamped to mean +- 1 std of the modality unless\n"
    "--no-clamp is given.\n\n"
    "The tokenizer is a card (.json naming its weights), a checkpoint (.pt, .safetensors; its "
    "card\n"
    "is inferred, heads --head-dim wide), or by default the official card of the modality "
    "(encode)\n"
    "or the card recorded in the token raster (decode); --weights replaces the card's weights.\n\n"
    "options";

struct TokenizerChoice {
  std::string tokenizer, weights;
  int64_t head_dim = 64;
};

ImageTokenizer load_tokenizer(const TokenizerChoice& choice, const std::string& modality,
                              const std::string& recorded_card) {
  if (!choice.tokenizer.empty() && !ends_with(choice.tokenizer, ".json")) {
    if (!choice.weights.empty())
      throw std::invalid_argument("--weights goes with a tokenizer card, not a checkpoint");
    return ImageTokenizer::open(choice.tokenizer, modality, choice.head_dim);
  }
  TokenizerCard card;
  if (!choice.tokenizer.empty()) {
    card = TokenizerCard::from_file(choice.tokenizer);
  } else if (!recorded_card.empty()) {
    card = TokenizerCard::from_json(recorded_card);
  } else {
    const std::string name = to_lower(modality);
    std::error_code ec;  // installed: <prefix>/bin/../share/tm; in the build tree: the sources'
    auto cards = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path().parent_path();
    if (ec || !std::filesystem::is_directory(cards /= "share/tm/tokenizer_cards"))
      cards = TM_TOKENIZER_CARDS_DIR;
    card = TokenizerCard::from_file(cards.string() + "/terramind_v1_tokenizer_" + name + ".json");
  }
  if (!choice.weights.empty()) card.checkpoint = choice.weights;
  if (card.checkpoint.empty())
    throw std::invalid_argument("tokenizer card " + card.name +
                                " names no weights; pass --weights");
  if (!std::filesystem::exists(card.checkpoint))
    throw std::invalid_argument("tokenizer weights not found: " + card.checkpoint +
                                " (the official files come with the TerraMind 1.0 release, e.g. "
                                "TerraMind_Tokenizer_" +
                                card.modality + ".pt; pass --weights)");
  return ImageTokenizer::load(card, card.checkpoint);
}

void show_progress(std::size_t done, std::size_t total) {
  std::cerr << "\r  tile " << done << "/" << total << (done == total ? "\n" : "") << std::flush;
}

}  // namespace

int main(int argc, char** argv) {
  std::string command, input, output, modality, probabilities, format = "cog";
  TokenizerChoice choice;
  int tile = 0, batch = 0, threads = 0;
  int64_t steps = 0;
  uint64_t seed = 0;
  bool overwrite = false, no_clamp = false, ungeoreferenced = false;
  po::options_description options(kUsage);
  options.add_options()("help,h", "show this help")("out,o", po::value(&output), "output raster")(
      "modality,m", po::value(&modality),
      "registry name of the scene (encode) or of a checkpoint tokenizer")(
      "tokenizer,t", po::value(&choice.tokenizer), "tokenizer card (.json) or checkpoint")(
      "weights,w", po::value(&choice.weights), "weights for the card (.pt, .safetensors)")(
      "head-dim", po::value(&choice.head_dim)->default_value(64),
      "head width when inferring a card from a checkpoint")(
      "tile", po::value(&tile), "tile side in px (encode default 224; decode: as encoded)")(
      "batch", po::value(&batch), "tiles per network call (encode 4, decode 1)")(
      "steps", po::value(&steps)->default_value(0),
      "decode: DDIM steps (0: the card's default, 50 as in the reference)")(
      "seed", po::value(&seed)->default_value(0), "decode: noise seed; tile i uses seed + i")(
      "no-clamp", po::bool_switch(&no_clamp),
      "decode: do not clamp diffusion estimates to mean +- 1 std (not reference behaviour)")(
      "probabilities", po::value(&probabilities), "decode LULC: also write class probabilities")(
      "format", po::value(&format)->default_value("cog"), "decode output: cog or gtiff")(
      "threads", po::value(&threads)->default_value(0), "LibTorch threads (0: all cores)")(
      "allow-ungeoreferenced", po::bool_switch(&ungeoreferenced),
      "encode scenes without CRS/geotransform on their bare pixel grid")(
      "overwrite", po::bool_switch(&overwrite), "replace existing outputs");
  po::options_description all;
  all.add(options).add_options()("command", po::value(&command))("input", po::value(&input));
  po::positional_options_description positional;
  positional.add("command", 1).add("input", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "tm_tokenize: " << e.what() << "\n\n" << options;
    return kExitUsage;
  }
  if (vm.count("help")) {
    std::cout << options;
    return 0;
  }
  auto usage_error = [&options](const std::string& what) {
    std::cerr << "tm_tokenize: " << what << "\n\n" << options;
    return kExitUsage;
  };
  if (command != "encode" && command != "decode")
    return usage_error(command.empty() ? "say encode or decode"
                                       : "unknown command '" + command + "'");
  if (input.empty() || output.empty()) return usage_error("an input and --out are required");
  if (command == "encode" && modality.empty()) return usage_error("encode needs --modality");
  if (format != "cog" && format != "gtiff") return usage_error("--format is cog or gtiff");
  if (tile < 0 || batch < 0 || threads < 0)
    return usage_error("--tile, --batch and --threads must be >= 0");

  install_interrupt_handlers();
  at::set_num_threads(threads > 0 ? threads
                                  : static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN))));
  const bool tty = isatty(STDERR_FILENO) != 0;
  try {
    if (command == "encode") {
      const Modality& m = ModalityRegistry::instance().get(modality);
      const ImageTokenizer tokenizer = load_tokenizer(choice, m.name, "");
      EncodeSceneOptions o;
      if (tile) o.tile_size = tile;
      if (batch) o.batch_size = batch;
      o.allow_ungeoreferenced = ungeoreferenced;
      o.write.overwrite = overwrite;
      if (tty) o.progress.tiles = show_progress;
      const auto s = encode_scene(input, m.name, tokenizer, output, o);
      std::cout << "wrote " << output << ": " << s.width << "x" << s.height << " " << s.data_type
                << " tokens of " << tokenizer.card().name << " (FSQ "
                << join(tokenizer.card().fsq_levels, "-") << ", vocabulary "
                << tokenizer.vocab_size() << "), " << s.tiles << " tiles of " << s.tile_size
                << " px in " << s.seconds << " s\n";
    } else {
      const auto items = read_raster_metadata(input);
      std::string recorded_modality, recorded_card;
      if (items.count("TM_FORMAT")) {
        const auto meta = TokenRasterMetadata::from_metadata(items, input);
        recorded_modality = meta.modality;
        recorded_card = meta.tokenizer_card;
      } else if (choice.tokenizer.empty()) {
        throw std::invalid_argument(input +
                                    " has no tm_tokenize metadata; name its tokenizer with "
                                    "--tokenizer (and --modality for a checkpoint)");
      }
      const ImageTokenizer tokenizer =
          load_tokenizer(choice, modality.empty() ? recorded_modality : modality, recorded_card);
      DecodeSceneOptions o;
      if (tile) o.tile_size = tile;
      if (batch) o.batch_size = batch;
      o.steps = steps;
      o.seed = seed;
      o.clamp = !no_clamp;
      o.probabilities_path = probabilities;
      o.write.overwrite = overwrite;
      o.write.format = format == "cog" ? OutputFormat::kCOG : OutputFormat::kGTiff;
      if (tty) o.progress.tiles = show_progress;
      const auto s = decode_scene(input, tokenizer, output, o);
      std::cout << "wrote " << output << ": " << s.width << "x" << s.height << " " << s.data_type
                << " " << tokenizer.card().modality << " from " << s.tiles << " tiles of "
                << s.tile_size << " px";
      if (tokenizer.is_diffusion()) std::cout << ", " << s.steps << " DDIM steps";
      std::cout << " in " << s.seconds << " s\n";
      if (!probabilities.empty()) std::cout << "wrote " << probabilities << "\n";
    }
  } catch (const Interrupted&) {
    std::cerr << "\ntm_tokenize: interrupted; no output written\n";
    return kExitInterrupted;
  } catch (const std::exception& e) {
    std::cerr << "tm_tokenize: " << e.what() << "\n";
    return kExitFailure;
  }
  return 0;
}
