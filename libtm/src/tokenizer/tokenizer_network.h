// A whole image tokenizer as one module (the reference's DiVAE / VQVAE), built from a card.
// named_parameters() equals the official state_dict keys: encoder.*, quant_proj.*, decoder.*,
// and for the VQVAE post_quant_proj.*.
#pragma once

#include <torch/torch.h>

#include "ddim_sampler.h"
#include "patched_unet.h"
#include "tm/model.h"
#include "vit_coder.h"

namespace terramind::net {

class TokenizerNetworkImpl : public torch::nn::Module {
 public:
  explicit TokenizerNetworkImpl(const TokenizerCard& card);

  // Standardised image [B, C, H, W] -> encoder features [B, D, h, w] and latent [B, L, h, w].
  torch::Tensor features(const torch::Tensor& image);
  torch::Tensor latent(const torch::Tensor& features);
  // VQVAE: codes [B, L, h, w] -> class logits [B, C, 16h, 16w].
  torch::Tensor decode_vit(const torch::Tensor& codes);
  // DiVAE: one UNet call, x0 estimate from x_t.
  torch::Tensor denoise(const torch::Tensor& x_t, int64_t timestep, const torch::Tensor& codes);
  torch::Tensor denoise(const torch::Tensor& x_t, const torch::Tensor& timesteps,
                        const torch::Tensor& codes);

  VitEncoder encoder{nullptr};
  torch::nn::Conv2d quant_proj{nullptr};
  PatchedUNet unet{nullptr};        // registered as "decoder" (DiVAE)
  VitDecoder vit_decoder{nullptr};  // registered as "decoder" (VQVAE)
  torch::nn::Conv2d post_quant_proj{nullptr};
};
TORCH_MODULE(TokenizerNetwork);

// A tokenizer's network with its quantizer and noise schedule, as a card builds them: what
// ImageTokenizer (inference) and TrainableTokenizer (training) hold.
struct TokenizerParts {
  explicit TokenizerParts(const TokenizerCard& c)
      : card(c), net(c), fsq(c.fsq_levels), sampler(c.diffusion) {}
  TokenizerCard card;
  TokenizerNetwork net;
  FsqQuantizer fsq;
  DdimSampler sampler;
};

}  // namespace terramind::net
