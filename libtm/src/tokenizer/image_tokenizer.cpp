// ImageTokenizer: the public face of the tokenizer networks (loading, encode, decode).
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <set>

#include "ddim_sampler.h"
#include "model/standardisation.h"
#include "model/weights.h"
#include "tm/ascii_strings.h"
#include "tm/model.h"
#include "tm/registry.h"
#include "tokenizer_inputs.h"
#include "tokenizer_network.h"

namespace terramind {

struct ImageTokenizer::Impl : net::TokenizerParts {
  using TokenizerParts::TokenizerParts;
  CheckpointReport report;
};

namespace {

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

TensorMap read_weights(const std::string& path) {
  return ends_with(path, ".safetensors") ? load_safetensors(path) : load_torch_checkpoint(path);
}

std::string size_text(int64_t h, int64_t w) { return std::to_string(h) + "x" + std::to_string(w); }

const ChannelStats& stats_of(const TokenizerCard& card) {
  return ModalityRegistry::instance()
      .get(card.modality)
      .stats(stats_version_from_string(card.stats_version));
}

void randomize(torch::nn::Module& module, uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::NoGradGuard no_grad;
  for (auto& item : module.named_parameters(/*recurse=*/true)) {
    at::Tensor& p = item.value();
    p.set_requires_grad(false);
    if (ends_with(item.key(), "pos_emb")) continue;  // keep the sin-cos table
    if (p.dim() >= 2) {
      const double fan_in = static_cast<double>(p.numel() / p.size(0));
      p.normal_(0.0, 1.0 / std::sqrt(fan_in), generator);
    } else {  // norm scales around 1, biases around 0 (module constructors drew them globally)
      p.fill_(ends_with(item.key(), "weight") ? 1.0 : 0.0);
      p.add_(at::empty_like(p).normal_(0.0, 0.02, generator));
    }
  }
}

}  // namespace

// Class indices [B, H, W] or [B, 1, H, W] -> one-hot float [B, K, H, W]; values must be whole
// numbers in [0, K).
at::Tensor detail::one_hot_classes(const at::Tensor& indices, int64_t classes,
                                   const std::string& who) {
  const at::Tensor map = indices.dim() == 4 ? indices.squeeze(1) : indices;
  if (map.numel() > 0) {
    const at::Tensor as_double = map.to(at::kDouble);
    if (!at::isIntegralType(map.scalar_type(), false) &&
        !(as_double == at::floor(as_double)).all().item<bool>())
      throw std::invalid_argument(who + ": class inputs must be whole numbers");
    const double low = as_double.min().item<double>(), high = as_double.max().item<double>();
    if (!(low >= 0 && high < static_cast<double>(classes)))
      throw std::invalid_argument(who + ": class values must lie in [0, " +
                                  std::to_string(classes - 1) + "], found " +
                                  std::to_string(static_cast<int64_t>(low >= 0 ? high : low)));
  }
  return at::one_hot(map.to(at::kLong), classes).permute({0, 3, 1, 2}).to(at::kFloat);
}

ImageTokenizer::ImageTokenizer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

ImageTokenizer ImageTokenizer::load(const TokenizerCard& card, const std::string& checkpoint_path) {
  const TensorMap weights = read_weights(checkpoint_path);
  try {
    return load(card, weights);
  } catch (const CheckpointError& e) {
    throw CheckpointError(checkpoint_path + ": " + e.what());
  }
}

ImageTokenizer ImageTokenizer::load(const TokenizerCard& card, const TensorMap& weights) {
  auto impl = std::make_shared<Impl>(card);
  // The reference loads tokenizer checkpoints with strict=True and no renaming.
  require_matching_checkpoint(expected_shapes(*impl->net), weights,
                              "checkpoint does not match tokenizer card '" + card.name + "'");
  impl->report = compare_checkpoint(expected_shapes(*impl->net), weights);
  net::assign_weights(*impl->net, net::NamedTensors(weights.begin(), weights.end()));
  impl->net->eval();
  return ImageTokenizer(impl);
}

ImageTokenizer ImageTokenizer::open(const std::string& card_or_checkpoint,
                                    const std::string& modality, int64_t head_dim) {
  if (ends_with(card_or_checkpoint, ".json")) {
    const TokenizerCard card = TokenizerCard::from_file(card_or_checkpoint);
    if (!modality.empty()) {
      // A card registered for one modality (a model card's "tokenizers" slot) must be for it.
      const Modality& wanted = ModalityRegistry::instance().get(modality);
      if (wanted.name != card.modality)
        throw std::invalid_argument(card_or_checkpoint + ": tokenizer card '" + card.name +
                                    "' is for " + card.modality + " but is used for " +
                                    wanted.name);
    }
    if (card.checkpoint.empty())
      throw std::invalid_argument(card_or_checkpoint + " names no checkpoint");
    return load(card, card.checkpoint);
  }
  std::string name = modality;
  if (name.empty()) {  // official file names identify their modality
    for (const auto& m : ModalityRegistry::instance().modalities())
      if (!m.tokenizer.empty() && m.tokenizer == base_name(card_or_checkpoint)) name = m.name;
    if (name.empty())
      throw std::invalid_argument(card_or_checkpoint +
                                  ": cannot tell the tokenizer's modality from the file name; "
                                  "give it (e.g. S1GRD) or use a tokenizer card");
  }
  const TensorMap weights = read_weights(card_or_checkpoint);
  TokenizerCard card = infer_tokenizer_card(weights, name, head_dim);
  card.name = base_name(card_or_checkpoint);
  card.checkpoint = card_or_checkpoint;
  try {
    return load(card, weights);
  } catch (const CheckpointError& e) {
    throw CheckpointError(card_or_checkpoint + ": " + e.what());
  }
}

ImageTokenizer ImageTokenizer::untrained(const TokenizerCard& card, uint64_t seed) {
  auto impl = std::make_shared<Impl>(card);
  randomize(*impl->net, seed);
  impl->net->eval();
  return ImageTokenizer(impl);
}

const TokenizerCard& ImageTokenizer::card() const { return impl_->card; }
const CheckpointReport& ImageTokenizer::load_report() const { return impl_->report; }
const FsqQuantizer& ImageTokenizer::quantizer() const { return impl_->fsq; }

int64_t ImageTokenizer::parameter_count() const {
  int64_t count = 0;
  for (const auto& p : impl_->net->parameters()) count += p.numel();
  return count;
}

at::Tensor ImageTokenizer::standardise(const at::Tensor& values) const {
  if (card().class_input) return values;
  return standardise_channels(stats_of(card()), values, card().modality);
}

at::Tensor ImageTokenizer::destandardise(const at::Tensor& values) const {
  if (card().class_input) return values;
  return destandardise_channels(stats_of(card()), values, card().modality);
}

ImageTokenizer::Encoded ImageTokenizer::encode_detailed(const at::Tensor& image) const {
  const TokenizerCard& c = card();
  const std::string who = "tokenizer " + c.name + " (" + c.modality + ")";
  at::Tensor x = image;
  const bool class_map =
      c.class_input &&
      (image.dim() == 3 || (image.dim() == 4 && image.size(1) == 1 && c.channels != 1));
  if (class_map) {
    x = detail::one_hot_classes(image, c.channels, who);
  } else if (image.dim() != 4 || image.size(1) != c.channels) {
    throw std::invalid_argument(who + ": expected an image [B, " + std::to_string(c.channels) +
                                ", H, W]" + (c.class_input ? " or class indices [B, H, W]" : "") +
                                ", got " + c10::str(image.sizes()));
  }
  const int64_t H = x.size(2), W = x.size(3), m = c.encode_size_multiple();
  if (H == 0 || W == 0 || H % m != 0 || W % m != 0)
    throw std::invalid_argument(who + ": image size " + size_text(H, W) + " is not a multiple of " +
                                std::to_string(m));
  torch::NoGradGuard no_grad;
  Encoded out;
  out.features = impl_->net->features(x.to(at::kFloat));
  out.latent = impl_->net->latent(out.features);
  auto quantized = impl_->fsq.forward(out.latent);
  out.codes = quantized.codes;
  out.tokens = quantized.tokens;
  return out;
}

at::Tensor ImageTokenizer::encode(const at::Tensor& image) const {
  return encode_detailed(image).tokens;
}

at::Tensor ImageTokenizer::decode(const at::Tensor& tokens, const DecodeOptions& options) const {
  const TokenizerCard& c = card();
  const std::string who = "tokenizer " + c.name + " (" + c.modality + ")";
  at::Tensor grid = tokens;
  if (grid.dim() == 2) {  // [B, h*w] as TerraMind generates them
    const auto side =
        static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(grid.size(1)))));
    if (side * side != grid.size(1))
      throw std::invalid_argument(who + ": " + std::to_string(grid.size(1)) +
                                  " tokens per row do not form a square grid; pass [B, h, w]");
    grid = grid.reshape({grid.size(0), side, side});
  }
  if (grid.dim() != 3 || grid.size(1) == 0 || grid.size(2) == 0)
    throw std::invalid_argument(who + ": tokens must be [B, h, w], got " +
                                c10::str(tokens.sizes()));
  if (!at::isIntegralType(grid.scalar_type(), /*includeBool=*/false))
    throw std::invalid_argument(who + ": tokens must be integers, got " +
                                std::string(c10::toString(grid.scalar_type())));
  if (grid.numel() > 0) {
    const int64_t low = grid.min().item<int64_t>(), high = grid.max().item<int64_t>();
    if (low < 0 || high >= vocab_size())
      throw std::invalid_argument(who + ": token value " + std::to_string(low < 0 ? low : high) +
                                  " is outside the vocabulary [0, " + std::to_string(vocab_size()) +
                                  ")");
  }
  torch::NoGradGuard no_grad;
  const at::Tensor codes = impl_->fsq.indices_to_embedding(grid);
  if (c.kind == TokenizerKind::kVQVAE) return impl_->net->decode_vit(codes);

  const int64_t B = grid.size(0), H = grid.size(1) * c.patch_size, W = grid.size(2) * c.patch_size;
  const int64_t m = c.decode_size_multiple();
  if (H % m != 0 || W % m != 0)
    throw std::invalid_argument(
        who + ": diffusion decoding needs image sides that are multiples of " + std::to_string(m) +
        " (token grid sides multiples of " + std::to_string(m / c.patch_size) + "), got " +
        size_text(grid.size(1), grid.size(2)) + " tokens");
  const int64_t steps = options.steps == 0 ? c.diffusion.default_steps : options.steps;
  if (steps < 1 || steps > c.diffusion.train_timesteps)
    throw std::invalid_argument(who + ": diffusion steps must be in [1, " +
                                std::to_string(c.diffusion.train_timesteps) + "], got " +
                                std::to_string(steps));
  at::Tensor noise;
  const std::vector<int64_t> shape{B, c.channels, H, W};
  if (options.noise.defined()) {
    if (options.noise.sizes() != at::IntArrayRef(shape))
      throw std::invalid_argument(who + ": noise must be " + c10::str(at::IntArrayRef(shape)) +
                                  ", got " + c10::str(options.noise.sizes()));
    noise = options.noise.to(at::kFloat);
  } else if (options.seed) {
    // A fresh CPU generator: the stream of torch.Generator().manual_seed(seed) (spec 6.4).
    auto generator = at::make_generator<at::CPUGeneratorImpl>(*options.seed);
    noise = at::randn(shape, generator, at::TensorOptions().dtype(at::kFloat));
  } else {
    noise = at::randn(shape, at::TensorOptions().dtype(at::kFloat));
  }
  auto& net = impl_->net;
  return impl_->sampler.sample(
      noise.to(codes.device()), steps,
      [&net, &codes](const at::Tensor& x_t, int64_t t) { return net->denoise(x_t, t, codes); },
      options.clamp, options.on_step);
}

at::Tensor class_raster(const at::Tensor& logits) {
  if (logits.dim() != 4 || logits.size(1) < 1 || logits.size(1) > 256)
    throw std::invalid_argument("class logits must be [B, K, H, W] with 1 <= K <= 256, got " +
                                c10::str(logits.sizes()));
  return logits.argmax(1).to(at::kByte);
}

at::Tensor class_probabilities(const at::Tensor& logits) {
  if (logits.dim() != 4)
    throw std::invalid_argument("class logits must be [B, K, H, W], got " +
                                c10::str(logits.sizes()));
  return at::softmax(logits.to(at::kFloat), 1);
}

}  // namespace terramind
