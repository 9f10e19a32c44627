// A tokenizer card from checkpoint keys and shapes (spec section 8.2). What the weights cannot
// tell (FSQ levels, statistics) comes from the registry entry of the modality; head counts come
// from the assumed head width.
#include <algorithm>
#include <cmath>

#include "tm/model.h"
#include "tm/registry.h"

namespace terramind {

namespace {

const at::Tensor& need(const TensorMap& checkpoint, const std::string& key) {
  const at::Tensor* t = checkpoint.find(key);
  if (!t) throw CheckpointError("not a TerraMind tokenizer checkpoint: no " + key);
  return *t;
}

int64_t count_blocks(const TensorMap& checkpoint, const std::string& stack) {
  int64_t depth = 0;
  while (checkpoint.contains(stack + "." + std::to_string(depth) + ".norm1.weight")) ++depth;
  return depth;
}

VitCoderConfig vit_from(const TensorMap& checkpoint, const std::string& prefix, int64_t dim,
                        int64_t head_dim) {
  VitCoderConfig c;
  c.dim = dim;
  c.depth = count_blocks(checkpoint, prefix + ".blocks");
  if (c.depth == 0) throw CheckpointError("no " + prefix + ".blocks in the checkpoint");
  if (dim <= 0) throw CheckpointError(prefix + " has width " + std::to_string(dim));
  c.mlp_ratio = need(checkpoint, prefix + ".blocks.0.mlp.fc1.weight").size(0) / dim;
  if (dim % head_dim != 0)
    throw CheckpointError(prefix + " width " + std::to_string(dim) +
                          " is not a multiple of the head width " + std::to_string(head_dim));
  c.heads = dim / head_dim;
  return c;
}

// Walks decoder.input_blocks the way the UNet builds them: res blocks per level, a Downsample
// ("op") between levels, attention wherever a ".1.qkv" follows.
UNetConfig unet_from(const TensorMap& checkpoint, int64_t image_channels, int64_t latent_dim) {
  UNetConfig u;
  const at::Tensor& first = need(checkpoint, "decoder.input_blocks.0.0.weight");
  u.model_channels = first.size(0);
  // Checked before the arithmetic: zero-size tensors can carry any shape. Patches are at most
  // 256 px wide (check_unet), bands at most 1024.
  const bool plausible = u.model_channels > 0 && image_channels > 0 &&
                         first.size(1) > latent_dim && first.size(1) <= (int64_t{1} << 32) &&
                         (first.size(1) - latent_dim) / image_channels <= 256 * 256;
  const int64_t patch_area = plausible ? (first.size(1) - latent_dim) / image_channels : 0;
  u.patch_size = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(patch_area))));
  if (!plausible || u.patch_size * u.patch_size * image_channels + latent_dim != first.size(1))
    throw CheckpointError("decoder.input_blocks.0.0.weight has " + std::to_string(first.size(1)) +
                          " input channels, not C * p^2 + " + std::to_string(latent_dim));
  u.channel_mult.clear();
  u.attention_resolutions.clear();
  int64_t ds = 1, res_in_level = 0, res_per_level = -1;
  for (int64_t i = 1;; ++i) {
    const std::string block = "decoder.input_blocks." + std::to_string(i);
    if (checkpoint.contains(block + ".0.op.weight")) {
      if (res_per_level >= 0 && res_in_level != res_per_level)
        throw CheckpointError("decoder levels have different numbers of res blocks");
      res_per_level = res_in_level;
      res_in_level = 0;
      ds *= 2;
      continue;
    }
    const at::Tensor* conv = checkpoint.find(block + ".0.in_layers.2.weight");
    if (!conv) break;
    if (res_in_level == 0) u.channel_mult.push_back(conv->size(0) / u.model_channels);
    ++res_in_level;
    if (checkpoint.contains(block + ".1.qkv.weight") &&
        std::find(u.attention_resolutions.begin(), u.attention_resolutions.end(), ds) ==
            u.attention_resolutions.end())
      u.attention_resolutions.push_back(ds);
  }
  if (u.channel_mult.empty()) throw CheckpointError("no decoder res blocks in the checkpoint");
  u.num_res_blocks = res_in_level;
  return u;
}

}  // namespace

TokenizerCard infer_tokenizer_card(const TensorMap& checkpoint, const std::string& modality,
                                   int64_t head_dim) {
  if (head_dim <= 0) throw std::invalid_argument("head width must be > 0");
  const Modality& m = ModalityRegistry::instance().get(modality);
  if (m.fsq_levels.empty())
    throw std::invalid_argument(m.name + " has no image tokenizer (no FSQ levels in the registry)");
  TokenizerCard card;
  card.name = "inferred";
  card.modality = m.name;
  card.fsq_levels = m.fsq_levels;
  const at::Tensor& proj = need(checkpoint, "encoder.proj.weight");  // [D, C, p, p]
  const at::Tensor& pos = need(checkpoint, "encoder.pos_emb");       // [1, D, g, g]
  if (proj.dim() != 4 || pos.dim() != 4)
    throw CheckpointError("encoder.proj.weight / encoder.pos_emb are not 4-D");
  card.channels = proj.size(1);
  card.patch_size = proj.size(2);
  card.image_size = pos.size(2) * card.patch_size;
  card.encoder = vit_from(checkpoint, "encoder", proj.size(0), head_dim);
  const int64_t latent = need(checkpoint, "quant_proj.weight").size(0);
  if (latent != card.latent_dim())
    throw CheckpointError("quant_proj has " + std::to_string(latent) + " latent channels, but " +
                          m.name + " uses " + std::to_string(card.latent_dim()) + " FSQ levels");
  if (checkpoint.contains("decoder.time_embed.0.weight")) {
    card.kind = TokenizerKind::kDiVAE;
    card.unet = unet_from(checkpoint, card.channels, latent);
  } else if (checkpoint.contains("decoder.out_proj.weight")) {
    card.kind = TokenizerKind::kVQVAE;
    card.vit_decoder =
        vit_from(checkpoint, "decoder", need(checkpoint, "decoder.pos_emb").size(1), head_dim);
  } else {
    throw CheckpointError("not a TerraMind tokenizer checkpoint: no diffusion or ViT decoder");
  }
  card.class_input = card.kind == TokenizerKind::kVQVAE;  // LULC: one-hot class inputs
  // Round trip through JSON: the same validation as a hand-written card.
  return TokenizerCard::from_json(card.to_json());
}

}  // namespace terramind
