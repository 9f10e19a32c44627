#include "patched_unet.h"

#include <algorithm>
#include <cmath>

namespace terramind::net {

torch::Tensor timestep_embedding(const torch::Tensor& timesteps, int64_t dim) {
  const int64_t half = dim / 2;
  // Same operation order as the reference (scalar * arange / half, then exp), in float32.
  const auto freqs = torch::exp(
      -std::log(10000.0) *
      torch::arange(0, half, torch::TensorOptions(torch::kFloat32).device(timesteps.device())) /
      half);
  const auto args = timesteps.unsqueeze(1).to(torch::kFloat32) * freqs.unsqueeze(0);
  return torch::cat({torch::cos(args), torch::sin(args)}, -1);
}

PatchedUNetImpl::PatchedUNetImpl(int64_t image_channels, int64_t cond_channels,
                                 const UNetConfig& config)
    : config_(config), image_channels_(image_channels) {
  const int64_t p2 = config.patch_size * config.patch_size;
  const int64_t mc = config.model_channels, ted = 4 * mc, groups = config.groups;
  const auto& attention = config.attention_resolutions;
  const auto attends = [&attention](int64_t ds) {
    return std::find(attention.begin(), attention.end(), ds) != attention.end();
  };

  time_embed = register_module("time_embed",
                               torch::nn::Sequential(torch::nn::Linear(mc, ted), torch::nn::SiLU(),
                                                     torch::nn::Linear(ted, ted)));

  // The guided-diffusion construction: widths pushed on a stack by the input blocks are popped
  // by the output blocks as skip connections.
  input_blocks = torch::nn::ModuleList();
  const int64_t input_ch = config.channel_mult.front() * mc;
  int64_t ch = input_ch;
  {
    UNetStage stage;
    stage->add(conv3x3(image_channels * p2 + cond_channels, ch).ptr());
    input_blocks->push_back(stage);
  }
  std::vector<int64_t> skip_widths{ch};
  int64_t ds = 1;
  const auto levels = static_cast<int64_t>(config.channel_mult.size());
  for (int64_t level = 0; level < levels; ++level) {
    const int64_t width = config.channel_mult[level] * mc;
    for (int64_t r = 0; r < config.num_res_blocks; ++r) {
      UNetStage stage;
      stage->add(ResBlock(ch, width, ted, groups).ptr());
      ch = width;
      if (attends(ds)) stage->add(AttentionBlock(ch, config.num_heads, groups).ptr());
      input_blocks->push_back(stage);
      skip_widths.push_back(ch);
    }
    if (level != levels - 1) {
      UNetStage stage;
      stage->add(Downsample(ch).ptr());
      input_blocks->push_back(stage);
      skip_widths.push_back(ch);
      ds *= 2;
    }
  }
  register_module("input_blocks", input_blocks);

  middle_block = UNetStage();
  middle_block->add(ResBlock(ch, ch, ted, groups).ptr());
  middle_block->add(AttentionBlock(ch, config.num_heads, groups).ptr());
  middle_block->add(ResBlock(ch, ch, ted, groups).ptr());
  register_module("middle_block", middle_block);

  output_blocks = torch::nn::ModuleList();
  for (int64_t level = levels - 1; level >= 0; --level) {
    const int64_t width = config.channel_mult[level] * mc;
    for (int64_t r = 0; r <= config.num_res_blocks; ++r) {
      const int64_t skip = skip_widths.back();
      skip_widths.pop_back();
      UNetStage stage;
      stage->add(ResBlock(ch + skip, width, ted, groups).ptr());
      ch = width;
      if (attends(ds)) stage->add(AttentionBlock(ch, config.num_heads, groups).ptr());
      if (level > 0 && r == config.num_res_blocks) {
        stage->add(Upsample(ch).ptr());
        ds /= 2;
      }
      output_blocks->push_back(stage);
    }
  }
  register_module("output_blocks", output_blocks);

  out = register_module("out", torch::nn::Sequential(GroupNorm32(groups, ch), torch::nn::SiLU(),
                                                     conv3x3(input_ch, image_channels * p2)));
}

int64_t PatchedUNetImpl::size_multiple() const {
  return config_.patch_size * (int64_t{1} << (config_.channel_mult.size() - 1));
}

torch::Tensor PatchedUNetImpl::forward(const torch::Tensor& x_t, int64_t timestep,
                                       const torch::Tensor& codes) {
  return forward(
      x_t,
      torch::full({1}, timestep, torch::TensorOptions().dtype(torch::kLong).device(x_t.device())),
      codes);
}

torch::Tensor PatchedUNetImpl::forward(const torch::Tensor& x_t, const torch::Tensor& timesteps,
                                       const torch::Tensor& codes) {
  const int64_t B = x_t.size(0), C = image_channels_, H = x_t.size(2), W = x_t.size(3);
  const int64_t p = config_.patch_size, nh = H / p, nw = W / p;
  // b c (nh ph) (nw pw) -> b (c ph pw) nh nw
  auto x =
      x_t.reshape({B, C, nh, p, nw, p}).permute({0, 1, 3, 5, 2, 4}).reshape({B, C * p * p, nh, nw});
  const auto cond = torch::upsample_nearest2d(codes, std::vector<int64_t>{nh, nw});
  x = torch::cat({x, cond.to(x.scalar_type())}, 1);

  const auto emb =
      time_embed->forward(timestep_embedding(timesteps.to(torch::kLong), config_.model_channels));

  std::vector<torch::Tensor> skips;
  skips.reserve(input_blocks->size());
  for (const auto& block : *input_blocks) {
    x = block->as<UNetStage>()->forward(x, emb);
    skips.push_back(x);
  }
  x = middle_block->forward(x, emb);
  for (const auto& block : *output_blocks) {
    x = block->as<UNetStage>()->forward(torch::cat({x, skips.back()}, 1), emb);
    skips.pop_back();
  }
  x = out->forward(x);
  // b (c ph pw) nh nw -> b c (nh ph) (nw pw)
  return x.reshape({B, C, p, p, nh, nw}).permute({0, 1, 4, 2, 5, 3}).reshape({B, C, H, W});
}

}  // namespace terramind::net
