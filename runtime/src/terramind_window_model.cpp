// TerraMindWindowModel: inputs -> tokens (TerraMindModel::generate) -> tokenizer decode.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>
#include <stdexcept>

#include "tm/checksum.h"
#include "tm/model.h"
#include "tm/model_cache.h"
#include "tm/registry.h"
#include "tm/runtime.h"

namespace terramind {
namespace {

uint64_t mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A window's own seed: results depend on the user's seed and the window's position only, not
// on batch composition or order.
int64_t window_seed(int64_t seed, const PixelWindow& w) {
  const uint64_t position =
      (static_cast<uint64_t>(static_cast<uint32_t>(w.x)) << 32) | static_cast<uint32_t>(w.y);
  return static_cast<int64_t>(mix(static_cast<uint64_t>(seed) ^ mix(position)) >> 1);
}

// A target's own stream within a window (FNV-1a of its name mixed in): which other targets are
// generated never moves it. `stream` separates the token stream from the diffusion noise.
int64_t target_seed(int64_t window, const std::string& target, uint64_t stream) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const unsigned char c : target) h = (h ^ c) * 0x100000001b3ULL;
  return static_cast<int64_t>(mix(static_cast<uint64_t>(window) ^ mix(h ^ mix(stream))) >> 1);
}

constexpr uint64_t kTokenStream = 1, kNoiseStream = 2;

class TerraMindWindowModel : public WindowModel {
 public:
  TerraMindWindowModel(RuntimeSettings settings, TerraMindModel model,
                       std::map<std::string, ImageTokenizer> tokenizers,
                       std::vector<std::string> targets, std::string checkpoint_path,
                       std::string checkpoint_sha256)
      : checkpoint_path_(std::move(checkpoint_path)),
        checkpoint_sha256_(std::move(checkpoint_sha256)),
        settings_(std::move(settings)),
        model_(std::move(model)),
        tokenizers_(std::move(tokenizers)),
        targets_(std::move(targets)) {}

  std::vector<std::string> targets() const override { return targets_; }

  TargetSpec spec(const std::string& target) const override { return target_spec_for(target); }

  std::map<std::string, std::string> provenance() const override {
    const ModelCard& card = model_.card();
    std::map<std::string, std::string> p{
        {"MODEL", card.name},
        {"MODEL_SOURCE", settings_.model},
        {"MODEL_CHECKPOINT", checkpoint_path_},
        {"MODEL_SHA256", checkpoint_sha256_},
        {"SEED", std::to_string(settings_.seed)},
        {"DIFFUSION_STEPS", std::to_string(settings_.diffusion_steps)},
        {"DECODING_STEPS", std::to_string(settings_.decoding_steps)},
        {"TEMPERATURE", number(settings_.temperature)},
        {"TOP_P", number(settings_.top_p)},
        {"TOP_K", std::to_string(settings_.top_k)},
        {"CHAINED_TARGETS", settings_.chain_targets ? "YES" : "NO"},
        {"CLAMP", settings_.clamp ? "YES" : "NO"},
        {"DEVICE", settings_.device},
    };
    // The card's tokenizers, not only those loaded for the targets asked for: a target's
    // provenance must not depend on which other targets were generated with it.
    for (const auto& [name, path] : card.tokenizers) p["TOKENIZER_" + name] = path;
    return p;
  }

  bool accepts_input(const std::string& modality) const override {
    try {
      const std::string key = model_.input_key(modality);
      // Token inputs (LULC, NDVI) need their tokenizer to become tokens.
      return ModalityRegistry::instance().is_pixel_input_key(key) ||
             tokenizers_.count(ModalityRegistry::instance().get(modality).name);
    } catch (const std::exception&) {
      return false;
    }
  }

  int window_size_multiple() const override {
    for (const auto& [name, tokenizer] : tokenizers_)
      if (tokenizer.is_diffusion())
        return static_cast<int>(tokenizer.card().decode_size_multiple());
    return static_cast<int>(model_.card().patch_size);
  }

  void infer(const InputBatch& batch, OutputBatch& outputs) override {
    torch::NoGradGuard no_grad;
    const int64_t n = batch.count, size = batch.window_size;
    ModalityInputs inputs;
    for (const auto& input : batch.inputs) {
      auto values = torch::from_blob(const_cast<float*>(input.values.data()),
                                     {n, input.channels, size, size}, torch::kFloat32);
      const Modality& m = ModalityRegistry::instance().get(input.modality);
      if (ModalityRegistry::instance().is_pixel_input_key(model_.input_key(m.name))) {
        inputs.emplace_back(m.name, values);
      } else {  // tokenized input: raster -> tokens with its tokenizer
        const ImageTokenizer& tokenizer = tokenizers_.at(m.name);
        const auto prepared = tokenizer.card().class_input
                                  ? values.squeeze(1).round().to(torch::kLong)
                                  : tokenizer.standardise(values);
        inputs.emplace_back(m.name, tokenizer.encode(prepared));
      }
    }
    // With sampling, every window gets its own seed, hence its own generate call; one-step greedy
    // decoding is independent of the batch and runs batched.
    // Multi-step greedy decoding also draws per window: the ROAR order of its steps is random.
    const bool per_window = settings_.temperature >= 1e-10 || settings_.decoding_steps > 1;
    GenerationOptions options;
    options.decoding_steps = settings_.decoding_steps;
    options.temperature = settings_.temperature;
    options.top_p = settings_.top_p;
    options.top_k = settings_.top_k;
    std::vector<std::string> targets;
    for (const auto& t : outputs.targets) targets.push_back(t.target);
    const int64_t grid = size / model_.card().patch_size;
    for (int64_t w0 = 0; w0 < n; w0 += per_window ? 1 : n) {
      const int64_t count = per_window ? 1 : n;
      ModalityInputs slice;
      for (const auto& [name, value] : inputs) slice.emplace_back(name, value.narrow(0, w0, count));
      const int64_t seed = window_seed(settings_.seed, batch.windows[w0]);
      options.seed = seed;
      options.chained = settings_.chain_targets;
      options.target_seeds.clear();
      if (!options.chained)
        for (const auto& t : targets) options.target_seeds[t] = target_seed(seed, t, kTokenStream);
      std::map<std::string, at::Tensor> tokens;
      try {
        tokens = model_.generate(slice, targets, options);
      } catch (const std::exception& e) {
        const PixelWindow& w = batch.windows[w0];
        throw std::runtime_error("generating the window at pixel (" + std::to_string(w.x) + ", " +
                                 std::to_string(w.y) + "): " + e.what());
      }
      for (auto& out : outputs.targets) {
        const auto& ids = tokens.at(model_.output_key(out.target));
        const auto decoded = decode(out.target, ids.reshape({count, grid, grid}), batch, w0, count);
        const auto flat = decoded.contiguous();
        std::memcpy(out.values.data() + w0 * out.channels * size * size, flat.data_ptr<float>(),
                    sizeof(float) * flat.numel());
      }
    }
  }

 private:
  // Tokens [count, g, g] -> physical values or class probabilities [count, C, size, size].
  torch::Tensor decode(const std::string& target, const torch::Tensor& tokens,
                       const InputBatch& batch, int64_t w0, int64_t count) const {
    const ImageTokenizer& tokenizer = tokenizers_.at(target);
    if (!tokenizer.is_diffusion()) {  // ViT decoder: class logits, or standardised values
      const torch::Tensor decoded = tokenizer.decode(tokens);
      return tokenizer.card().class_input ? decoded.softmax(1) : tokenizer.destandardise(decoded);
    }
    DecodeOptions options;
    options.steps = settings_.diffusion_steps;
    options.clamp = settings_.clamp;
    const int64_t size = tokens.size(1) * tokenizer.card().patch_size;  // decoded image side
    std::vector<torch::Tensor> noise;
    for (int64_t i = 0; i < count; ++i) {
      const int64_t window = window_seed(settings_.seed, batch.windows[w0 + i]);
      auto generator = at::make_generator<at::CPUGeneratorImpl>(
          static_cast<uint64_t>(target_seed(window, target, kNoiseStream)));
      noise.push_back(torch::randn({1, tokenizer.card().channels, size, size}, generator));
    }
    options.noise = torch::cat(noise, 0);
    return tokenizer.destandardise(tokenizer.decode(tokens, options));
  }

  static std::string number(double v) {
    std::ostringstream out;
    out << v;
    return out.str();
  }

  std::string checkpoint_path_, checkpoint_sha256_;
  RuntimeSettings settings_;
  TerraMindModel model_;
  std::map<std::string, ImageTokenizer> tokenizers_;
  std::vector<std::string> targets_;
};

// The tokenizers a run loads (below): those of the targets (every image output with a tokenizer
// when none are named) and of the tokenized inputs the card has tokenizers for.
std::vector<std::string> tokenizers_needed(const ModelCard& card,
                                           const std::vector<std::string>& targets) {
  const auto& registry = ModalityRegistry::instance();
  std::vector<std::string> needed;
  for (const auto& t : targets) {
    const Modality& m = registry.get(t);
    const bool offered = std::find(card.decoder_modalities.begin(), card.decoder_modalities.end(),
                                   m.output_key) != card.decoder_modalities.end();
    // Refused before anything is downloaded, with the message the loaded model would give.
    if (!offered)
      throw std::invalid_argument("model '" + card.name + "' cannot generate " + m.name);
    needed.push_back(m.name);
  }
  for (const auto& key : card.decoder_modalities)
    if (const Modality* m = registry.find_by_key(key); targets.empty() && m && m->is_image())
      needed.push_back(m->name);
  for (const auto& key : card.encoder_modalities)
    if (const Modality* m = registry.find_by_key(key); m && registry.is_token_key(key))
      needed.push_back(m->name);
  return needed;
}

// settings.model as a file: an official name ("terramind_v1_base") is resolved through the model
// cache (tm/model_cache.h), which downloads the checkpoint and the tokenizers this run needs.
std::string model_path(const RuntimeSettings& settings) {
  std::error_code ec;
  if (std::filesystem::exists(settings.model, ec) || !looks_like_model_name(settings.model))
    return settings.model;
  if (settings.model == "demo") return resolve_model_argument("demo", {});  // the built-in one
  ModelCache cache;
  const ModelCard card = ModelCard::from_file(cache.model(settings.model).card);
  return cache.resolve(settings.model, tokenizers_needed(card, settings.targets));
}

}  // namespace

std::unique_ptr<WindowModel> open_terramind_window_model(const RuntimeSettings& settings) {
  validate(settings);
  if (settings.device != "cpu") {
    throw std::invalid_argument("device '" + settings.device + "' was asked for, but " +
                                (torch::cuda::is_available()
                                     ? "tm's model runtime runs on the CPU only in this version"
                                     : "this LibTorch build has no CUDA support") +
                                "; use --device cpu");
  }
  if (settings.threads > 0) at::set_num_threads(settings.threads);
  TerraMindModel model = TerraMindModel::open(model_path(settings), settings.head_dim);
  const ModelCard& card = model.card();
  const auto& registry = ModalityRegistry::instance();

  std::vector<std::string> targets = settings.targets;
  if (targets.empty())  // every image output with a tokenizer
    for (const auto& key : card.decoder_modalities) {
      const Modality* m = registry.find_by_key(key);
      if (m && m->is_image() && card.tokenizers.count(m->name)) targets.push_back(m->name);
    }
  std::map<std::string, ImageTokenizer> tokenizers;
  auto load_tokenizer = [&](const std::string& name) {
    const auto it = card.tokenizers.find(name);
    if (it == card.tokenizers.end())
      throw std::invalid_argument("model card '" + card.name + "' names no tokenizer for " + name +
                                  " (add it under \"tokenizers\")");
    tokenizers.emplace(name, ImageTokenizer::open(it->second, name, settings.head_dim));
  };
  for (auto& t : targets) {
    const Modality& m = registry.get(t);
    t = m.name;
    (void)model.output_key(m.name);  // throws "cannot generate X" when the model lacks it
    if (!m.is_image()) throw std::invalid_argument(m.name + " is not a raster target");
    load_tokenizer(m.name);
  }
  // Tokenized inputs the model accepts (LULC, NDVI) get their tokenizers when the card has them.
  for (const auto& key : card.encoder_modalities) {
    const Modality* m = registry.find_by_key(key);
    if (m && registry.is_token_key(key) && !tokenizers.count(m->name) &&
        card.tokenizers.count(m->name))
      load_tokenizer(m->name);
  }
  if (targets.empty()) throw std::invalid_argument("the model offers no raster target");
  // Which weights made the pixels, for every output's provenance.
  const std::string checkpoint =
      std::filesystem::path(card.checkpoint.empty() ? settings.model : card.checkpoint)
          .lexically_normal()
          .string();
  return std::make_unique<TerraMindWindowModel>(settings, std::move(model), std::move(tokenizers),
                                                std::move(targets), checkpoint,
                                                sha256_file(checkpoint));
}

}  // namespace terramind
