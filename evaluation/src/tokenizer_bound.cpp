// The tokenizer's own reconstruction of the truth: the bound a generation through that tokenizer
// cannot beat (the paper: generation quality is upper-bounded by the tokenizer).
#include <torch/torch.h>

#include <cmath>

#include "eval_internal.h"
#include "tm/cards.h"
#include "tm/model_cache.h"
#include "tm/tokenizer.h"

namespace terramind::eval {

struct TokenizerBound::Impl {
  ImageTokenizer tokenizer;
};

namespace {
ImageTokenizer target_tokenizer(const std::string& model, const std::string& target) {
  const ModelCard card = ModelCard::from_file(resolve_model_argument(model, {target}));
  const auto it = card.tokenizers.find(target);
  if (it == card.tokenizers.end())
    throw std::invalid_argument(model + ": the card names no " + target + " tokenizer");
  return ImageTokenizer::open(it->second);
}
}  // namespace

TokenizerBound::TokenizerBound(const std::string& model, const std::string& target)
    : impl_(std::make_unique<Impl>(Impl{target_tokenizer(model, target)})) {}
TokenizerBound::~TokenizerBound() = default;

Image TokenizerBound::reconstruct(const Image& truth, std::int64_t diffusion_steps,
                                  std::int64_t seed) const {
  const ImageTokenizer& tokenizer = impl_->tokenizer;
  torch::NoGradGuard no_grad;
  at::Tensor x = torch::from_blob(const_cast<float*>(truth.values.data()),
                                  {1, truth.bands, truth.height, truth.width}, torch::kFloat32)
                     .clone();
  const at::Tensor invalid = at::isnan(x);
  at::Tensor tokens;
  if (tokenizer.card().class_input) {
    tokens = tokenizer.encode(at::nan_to_num(x, 0.0).squeeze(1).round().to(at::kLong));
  } else {
    tokens = tokenizer.encode(at::nan_to_num(tokenizer.standardise(x), 0.0));  // NaN: the mean
  }
  DecodeOptions options;
  options.steps = diffusion_steps;
  if (tokenizer.is_diffusion()) {
    auto generator = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(seed));
    options.noise = torch::randn({1, truth.bands, truth.height, truth.width}, generator);
  }
  at::Tensor decoded = tokenizer.decode(tokens, options);
  if (tokenizer.card().class_input)
    decoded = decoded.argmax(1, /*keepdim=*/true).to(at::kFloat);
  else
    decoded = tokenizer.destandardise(decoded);
  decoded = decoded.masked_fill(invalid.any(1, /*keepdim=*/true).expand_as(decoded), NAN);
  Image out{truth.bands, truth.height, truth.width, {}};
  const at::Tensor flat = decoded.contiguous().to(at::kFloat);
  out.values.assign(flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel());
  return out;
}

}  // namespace terramind::eval
