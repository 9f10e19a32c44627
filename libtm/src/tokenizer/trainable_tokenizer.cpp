// TrainableTokenizer: the tokenizer networks with their training objectives (DiVAE: clean-sample
// MSE under the diffusion schedule; VQVAE: class cross-entropy, or for continuous modalities the
// MSE of the standardised values), FSQ with a straight-through gradient, and the state dict in
// the official key layout.
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "ddim_sampler.h"
#include "model/module_tensors.h"
#include "model/weights.h"
#include "tm/ascii_strings.h"
#include "tm/model.h"
#include "tokenizer_inputs.h"
#include "tokenizer_network.h"

namespace terramind {

struct TrainableTokenizer::Impl : net::TokenizerParts {
  using TokenizerParts::TokenizerParts;
};

namespace {

// PyTorch's layer defaults, from a seeded generator: U(±1/sqrt(fan_in)) for weight matrices and
// kernels, norm scales 1, biases 0; the fixed sin-cos position table is kept.
void initialise(torch::nn::Module& module, uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::NoGradGuard no_grad;
  for (auto& item : module.named_parameters(/*recurse=*/true)) {
    at::Tensor& p = item.value();
    if (ends_with(item.key(), "pos_emb")) continue;
    if (p.dim() >= 2) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(p.numel() / p.size(0)));
      p.uniform_(-bound, bound, generator);
    } else {
      p.fill_(ends_with(item.key(), "weight") ? 1.0 : 0.0);
    }
  }
}

}  // namespace

TrainableTokenizer::TrainableTokenizer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

TrainableTokenizer TrainableTokenizer::initialised(const TokenizerCard& card, uint64_t seed) {
  auto impl = std::make_shared<Impl>(card);
  initialise(*impl->net, seed);
  detail::make_trainable(*impl->net);
  return TrainableTokenizer(impl);
}

TrainableTokenizer TrainableTokenizer::from_weights(const TokenizerCard& card,
                                                    const TensorMap& weights) {
  TrainableTokenizer t(std::make_shared<Impl>(card));
  t.load_state_dict(weights);
  return t;
}

const TokenizerCard& TrainableTokenizer::card() const { return impl_->card; }
torch::nn::Module& TrainableTokenizer::module() { return *impl_->net; }
std::vector<at::Tensor> TrainableTokenizer::parameters() const {
  return detail::unique_parameters(*impl_->net);
}
std::vector<std::string> TrainableTokenizer::parameter_names() const {
  return detail::unique_parameter_names(*impl_->net);
}
TensorMap TrainableTokenizer::state_dict() const { return detail::module_state(*impl_->net); }

void TrainableTokenizer::load_state_dict(const TensorMap& weights) {
  require_matching_checkpoint(
      expected_shapes(*impl_->net), weights,
      "checkpoint does not match tokenizer card '" + impl_->card.name + "'");
  net::assign_weights(*impl_->net, net::NamedTensors(weights.begin(), weights.end()));
  detail::make_trainable(*impl_->net);
}

TrainableTokenizer::Loss TrainableTokenizer::loss(const at::Tensor& images,
                                                  const at::Tensor& timesteps,
                                                  const at::Tensor& noise) const {
  const TokenizerCard& c = impl_->card;
  const std::string who = "tokenizer " + c.name + " (" + c.modality + ")";
  at::Tensor x = images, classes;
  const bool class_map =
      c.class_input &&
      (images.dim() == 3 || (images.dim() == 4 && images.size(1) == 1 && c.channels != 1));
  if (class_map) {
    x = detail::one_hot_classes(images, c.channels, who);
    classes = (images.dim() == 4 ? images.squeeze(1) : images).to(at::kLong);
  } else if (images.dim() != 4 || images.size(1) != c.channels) {
    throw std::invalid_argument(who + ": expected an image [B, " + std::to_string(c.channels) +
                                ", H, W]" + (c.class_input ? " or class indices [B, H, W]" : "") +
                                ", got " + c10::str(images.sizes()));
  }
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3), m = c.encode_size_multiple();
  if (H == 0 || W == 0 || H % m != 0 || W % m != 0)
    throw std::invalid_argument(who + ": image size " + std::to_string(H) + "x" +
                                std::to_string(W) + " is not a multiple of " + std::to_string(m));
  x = x.to(at::kFloat);
  const at::Tensor latent = impl_->net->latent(impl_->net->features(x));
  // FSQ with a straight-through estimator: rounded digits forward, identity gradient back.
  std::vector<float> steps;
  for (const int level : c.fsq_levels) steps.push_back(static_cast<float>(level - 1));
  const at::Tensor steps_c =
      torch::tensor(steps).to(latent.device()).view({1, static_cast<int64_t>(steps.size()), 1, 1});
  const at::Tensor soft = at::sigmoid(latent.to(at::kFloat)) * steps_c;
  const at::Tensor digits = soft + (at::round(soft) - soft).detach();
  const at::Tensor codes = digits / steps_c;
  Loss out;
  out.tokens = impl_->fsq.forward(latent.detach()).tokens;
  if (c.kind == TokenizerKind::kVQVAE) {
    const at::Tensor decoded = impl_->net->decode_vit(codes).to(at::kFloat);
    if (c.class_input) {
      const at::Tensor target = classes.defined() ? classes : x.argmax(1);
      out.loss = torch::nn::functional::cross_entropy(decoded, target);
    } else {  // a continuous modality (NDVI, S1): the standardised values themselves
      out.loss = torch::nn::functional::mse_loss(decoded, x);
    }
    return out;
  }
  if (!timesteps.defined() || timesteps.dim() != 1 || timesteps.size(0) != B)
    throw std::invalid_argument(who + ": a diffusion tokenizer needs one timestep per sample ([" +
                                std::to_string(B) + "])");
  if (!noise.defined() || noise.sizes() != x.sizes())
    throw std::invalid_argument(who + ": noise must be shaped like the images " +
                                c10::str(x.sizes()));
  const int64_t T = c.diffusion.train_timesteps;
  const at::Tensor t = timesteps.to(at::kLong).to(x.device());
  if (t.min().item<int64_t>() < 0 || t.max().item<int64_t>() >= T)
    throw std::invalid_argument(who + ": timesteps must lie in [0, " + std::to_string(T) + ")");
  const at::Tensor acp =
      impl_->sampler.alphas_cumprod().to(x.device()).index_select(0, t).view({B, 1, 1, 1});
  const at::Tensor x_t = at::sqrt(acp) * x + at::sqrt(1 - acp) * noise.to(x.device()).to(x.dtype());
  out.loss = torch::nn::functional::mse_loss(impl_->net->denoise(x_t, t, codes).to(at::kFloat), x);
  return out;
}

}  // namespace terramind
