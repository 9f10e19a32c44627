// TrainableTerraMind: construction (4M's initialisation or given weights), parameters and the
// state dict in the official key layout.
#include <cmath>
#include <set>

#include "module_tensors.h"
#include "tm/ascii_strings.h"
#include "tm/checkpoint.h"
#include "tm/pretraining.h"
#include "tm/registry.h"
#include "trainable_impl.h"
#include "weights.h"

namespace terramind {

namespace {

// Xavier-uniform for every [out, in] matrix of a linear layer; N(0, 0.02) (truncated at two
// standard deviations) for lookup tables and the learned embeddings; norm scales 1, biases 0.
void initialise(net::TerraMindImpl& net, uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::NoGradGuard no_grad;
  std::set<const void*> done;  // tied weights are initialised once (as lookup tables)
  auto normal = [&](torch::Tensor& t) {
    t.normal_(0.0, 0.02, generator);
    t.clamp_(-0.04, 0.04);
  };
  // Lookup tables first, so a logits head tied to one keeps the table's initialisation.
  for (auto& item : net.named_parameters(/*recurse=*/true))
    if (ends_with(item.key(), "token_emb.weight") && done.insert(item.value().data_ptr()).second)
      normal(item.value());
  for (auto& item : net.named_parameters(/*recurse=*/true)) {
    auto& t = item.value();
    if (!done.insert(t.data_ptr()).second) continue;
    const std::string& name = item.key();
    if (ends_with(name, "mod_emb") || name == "mask_token") {
      normal(t);
    } else if (ends_with(name, ".bias")) {
      t.zero_();
    } else if (t.dim() == 1) {  // norm scale
      t.fill_(1.0);
    } else {
      const double bound = std::sqrt(6.0 / double(t.size(0) + t.size(1)));
      t.uniform_(-bound, bound, generator);
    }
  }
}

}  // namespace

using detail::make_trainable;

TrainableTerraMind TrainableTerraMind::initialised(const ModelCard& card, uint64_t seed) {
  auto impl = std::make_shared<Impl>();
  impl->card = card;
  impl->net = net::TerraMind(card);
  initialise(*impl->net, seed);
  make_trainable(*impl->net);
  return TrainableTerraMind(impl);
}

TrainableTerraMind TrainableTerraMind::from_weights(const ModelCard& card,
                                                    const TensorMap& weights) {
  auto impl = std::make_shared<Impl>();
  impl->card = card;
  impl->net = net::TerraMind(card);
  TrainableTerraMind model(impl);
  model.load_state_dict(weights);
  return model;
}

std::vector<at::Tensor> TrainableTerraMind::parameters() const {
  return detail::unique_parameters(*impl_->net);
}

std::vector<std::string> TrainableTerraMind::parameter_names() const {
  return detail::unique_parameter_names(*impl_->net);
}

int64_t TrainableTerraMind::parameter_count() const {
  int64_t count = 0;
  for (const auto& p : parameters()) count += p.numel();
  return count;
}

TensorMap TrainableTerraMind::state_dict() const { return detail::module_state(*impl_->net); }

void TrainableTerraMind::load_state_dict(const TensorMap& weights) {
  const std::string& prefix = impl_->card.checkpoint_prefix;
  net::NamedTensors source;
  for (const auto& [name, tensor] : weights)
    if (starts_with(name, prefix)) source.emplace_back(name.substr(prefix.size()), tensor);
  // Weights may live on another device than the checkpoint: copy_ moves them.
  const net::WeightAssignment report = net::assign_weights(*impl_->net, source);
  if (!report.complete())
    throw CheckpointError("weights do not match model card '" + impl_->card.name +
                          "': " + report.describe());
  make_trainable(*impl_->net);
}

double TrainableTerraMind::forward_flops(int64_t n_enc, int64_t n_dec) const {
  const ModelCard& c = impl_->card;
  const double D = double(c.dim), H = double(c.mlp_hidden());
  const double mlp = (c.gated_mlp ? 3.0 : 2.0) * D * H;  // MACs per token
  const double e = double(n_enc), d = double(n_dec);
  // Encoder block: qkv + proj (4 D^2), scores and weighted sum (2 n D), MLP.
  const double encoder = double(c.encoder_depth) * e * (4 * D * D + 2 * e * D + mlp);
  // Decoder block: self-attention as above over n_dec; cross-attention: q and proj on the
  // queries (2 D^2), k and v on the context (2 D^2 per context token), scores over n_enc.
  const double decoder = double(c.decoder_depth) * (d * (4 * D * D + 2 * d * D + mlp) +
                                                    d * (2 * D * D + 2 * e * D) + e * 2 * D * D);
  const double context = e * D * D;  // decoder_proj_context
  double vocab = 0;                  // logits head: the mean target vocabulary
  for (const auto& key : c.decoder_modalities)
    if (const Modality* m = ModalityRegistry::instance().find_by_key(key)) vocab += m->vocab_size;
  if (!c.decoder_modalities.empty()) vocab /= double(c.decoder_modalities.size());
  return 2.0 * (encoder + decoder + context + d * D * vocab);
}

}  // namespace terramind
