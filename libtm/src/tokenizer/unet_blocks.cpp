#include "unet_blocks.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace terramind::net {

namespace {
constexpr double kGroupNormEps = 1e-5;
}

torch::nn::Conv2d conv3x3(int64_t in, int64_t out, int64_t stride) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1));
}

GroupNorm32Impl::GroupNorm32Impl(int64_t groups_, int64_t channels) : groups(groups_) {
  if (channels % groups != 0)
    throw std::invalid_argument("GroupNorm: " + std::to_string(channels) +
                                " channels do not split into " + std::to_string(groups) +
                                " groups");
  weight = register_parameter("weight", torch::ones({channels}));
  bias = register_parameter("bias", torch::zeros({channels}));
}

torch::Tensor GroupNorm32Impl::forward(const torch::Tensor& x) {
  return torch::group_norm(x.to(torch::kFloat32), groups, weight, bias, kGroupNormEps)
      .to(x.scalar_type());
}

ResBlockImpl::ResBlockImpl(int64_t in, int64_t out, int64_t emb_channels, int64_t groups) {
  // Index gaps (SiLU, Dropout at p = 0) keep the reference's Sequential numbering.
  in_layers = register_module(
      "in_layers",
      torch::nn::Sequential(GroupNorm32(groups, in), torch::nn::SiLU(), conv3x3(in, out)));
  emb_layers = register_module(
      "emb_layers", torch::nn::Sequential(torch::nn::SiLU(), torch::nn::Linear(emb_channels, out)));
  out_layers = register_module("out_layers",
                               torch::nn::Sequential(GroupNorm32(groups, out), torch::nn::SiLU(),
                                                     torch::nn::Dropout(0.0), conv3x3(out, out)));
  if (in != out)
    skip_connection =
        register_module("skip_connection", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1)));
}

torch::Tensor ResBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& emb) {
  auto h = in_layers->forward(x);
  // [B or 1, C] -> [B or 1, C, 1, 1]: one timestep broadcasts over the batch.
  h = h + emb_layers->forward(emb).to(h.scalar_type()).unsqueeze(-1).unsqueeze(-1);
  h = out_layers->forward(h);
  return (skip_connection ? skip_connection->forward(x) : x) + h;
}

AttentionBlockImpl::AttentionBlockImpl(int64_t channels, int64_t heads_, int64_t groups)
    : heads(heads_) {
  if (channels % heads != 0)
    throw std::invalid_argument("attention: " + std::to_string(channels) +
                                " channels do not split into " + std::to_string(heads) + " heads");
  norm = register_module("norm", GroupNorm32(groups, channels));
  qkv = register_module("qkv",
                        torch::nn::Conv1d(torch::nn::Conv1dOptions(channels, 3 * channels, 1)));
  proj_out = register_module("proj_out",
                             torch::nn::Conv1d(torch::nn::Conv1dOptions(channels, channels, 1)));
}

torch::Tensor AttentionBlockImpl::forward(const torch::Tensor& input) {
  const auto shape = input.sizes().vec();
  const int64_t B = shape[0], C = shape[1];
  const auto x = input.reshape({B, C, -1});
  const int64_t T = x.size(2), ch = C / heads;
  const auto parts = qkv->forward(norm->forward(x)).reshape({B * heads, 3 * ch, T}).split(ch, 1);
  const double scale = 1.0 / std::sqrt(std::sqrt(static_cast<double>(ch)));
  auto weight = torch::einsum("bct,bcs->bts", {parts[0] * scale, parts[1] * scale});
  weight = torch::softmax(weight.to(torch::kFloat32), -1).to(weight.scalar_type());
  const auto a = torch::einsum("bts,bcs->bct", {weight, parts[2]}).reshape({B, -1, T});
  return (x + proj_out->forward(a)).reshape(shape);
}

DownsampleImpl::DownsampleImpl(int64_t channels) {
  op = register_module("op", conv3x3(channels, channels, 2));
}

torch::Tensor DownsampleImpl::forward(const torch::Tensor& x) { return op->forward(x); }

UpsampleImpl::UpsampleImpl(int64_t channels) {
  conv = register_module("conv", conv3x3(channels, channels));
}

torch::Tensor UpsampleImpl::forward(const torch::Tensor& x) {
  return conv->forward(
      torch::upsample_nearest2d(x, std::vector<int64_t>{2 * x.size(2), 2 * x.size(3)}));
}

void UNetStageImpl::add(const std::shared_ptr<torch::nn::Module>& layer) {
  register_module(std::to_string(layers_.size()), layer);
  layers_.push_back(layer);
}

torch::Tensor UNetStageImpl::forward(const torch::Tensor& input, const torch::Tensor& emb) {
  torch::Tensor x = input;
  for (const auto& layer : layers_) {
    if (auto* res = dynamic_cast<ResBlockImpl*>(layer.get()))
      x = res->forward(x, emb);
    else if (auto* attn = dynamic_cast<AttentionBlockImpl*>(layer.get()))
      x = attn->forward(x);
    else if (auto* down = dynamic_cast<DownsampleImpl*>(layer.get()))
      x = down->forward(x);
    else if (auto* up = dynamic_cast<UpsampleImpl*>(layer.get()))
      x = up->forward(x);
    else if (auto* conv = dynamic_cast<torch::nn::Conv2dImpl*>(layer.get()))
      x = conv->forward(x);
    else
      throw std::logic_error("UNet stage: unsupported layer " + layer->name());
  }
  return x;
}

}  // namespace terramind::net
