#include "tokenizer_network.h"

namespace terramind::net {

namespace {
torch::nn::Conv2d conv1x1(int64_t in, int64_t out) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1));
}
}  // namespace

TokenizerNetworkImpl::TokenizerNetworkImpl(const TokenizerCard& card) {
  encoder = register_module(
      "encoder", VitEncoder(card.channels, card.encoder, card.patch_size, card.image_size));
  quant_proj = register_module("quant_proj", conv1x1(card.encoder.dim, card.latent_dim()));
  if (card.kind == TokenizerKind::kDiVAE) {
    unet = register_module("decoder", PatchedUNet(card.channels, card.latent_dim(), card.unet));
  } else {
    vit_decoder = register_module(
        "decoder", VitDecoder(card.channels, card.vit_decoder, card.patch_size, card.image_size));
    post_quant_proj =
        register_module("post_quant_proj", conv1x1(card.latent_dim(), card.vit_decoder.dim));
  }
}

torch::Tensor TokenizerNetworkImpl::features(const torch::Tensor& image) {
  return encoder->forward(image);
}

torch::Tensor TokenizerNetworkImpl::latent(const torch::Tensor& features) {
  return quant_proj->forward(features);
}

torch::Tensor TokenizerNetworkImpl::decode_vit(const torch::Tensor& codes) {
  return vit_decoder->forward(post_quant_proj->forward(codes));
}

torch::Tensor TokenizerNetworkImpl::denoise(const torch::Tensor& x_t, int64_t timestep,
                                            const torch::Tensor& codes) {
  return unet->forward(x_t, timestep, codes);
}

torch::Tensor TokenizerNetworkImpl::denoise(const torch::Tensor& x_t,
                                            const torch::Tensor& timesteps,
                                            const torch::Tensor& codes) {
  return unet->forward(x_t, timesteps, codes);
}

}  // namespace terramind::net
