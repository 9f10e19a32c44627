// TerraMindModel: the public face of the network (loading, features, generation, TiM).
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <set>

#include "generation.h"
#include "standardisation.h"
#include "terramind_network.h"
#include "tm/ascii_strings.h"
#include "tm/model.h"
#include "tm/registry.h"
#include "weights.h"

namespace terramind {

struct TerraMindModel::Impl {
  ModelCard card;
  net::TerraMind net{nullptr};
  CheckpointReport report;
};

namespace {

std::string embedding_key_of(const std::string& name, const std::string& group) {
  const std::string rest = name.substr(group.size() + 1);
  return rest.substr(0, rest.find('.'));
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// A checkpoint key the card does not use on purpose: other modalities, the decoder of a
// backbone, tokenizer weights of a generation wrapper. Anything else unexpected means the card
// and the checkpoint disagree (e.g. a deeper encoder).
bool unused_by_card(const std::string& name, const ModelCard& card) {
  if (starts_with(name, "tokenizer.")) return true;
  if (starts_with(name, "encoder_embeddings."))
    return !contains(card.encoder_modalities, embedding_key_of(name, "encoder_embeddings"));
  if (starts_with(name, "decoder_embeddings."))
    return !contains(card.decoder_modalities, embedding_key_of(name, "decoder_embeddings"));
  if (card.decoder_modalities.empty())
    return starts_with(name, "decoder.") || starts_with(name, "decoder_norm.") ||
           starts_with(name, "decoder_proj_context.") || name == "mask_token";
  return false;
}

const Modality& modality_for(const std::string& name) {
  const auto& registry = ModalityRegistry::instance();
  if (const Modality* m = registry.find_by_key(name)) return *m;
  return registry.get(name);
}

}  // namespace

TerraMindModel::TerraMindModel(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

TerraMindModel TerraMindModel::load(const ModelCard& card, const std::string& checkpoint_path) {
  const TensorMap weights = ends_with(checkpoint_path, ".safetensors")
                                ? load_safetensors(checkpoint_path)
                                : load_torch_checkpoint(checkpoint_path);
  try {
    return load(card, weights);
  } catch (const CheckpointError& e) {
    throw CheckpointError(checkpoint_path + ": " + e.what());
  }
}

TerraMindModel TerraMindModel::load(const ModelCard& card, const TensorMap& weights) {
  auto impl = std::make_shared<Impl>();
  impl->card = card;
  impl->net = net::TerraMind(card);
  TensorMap stripped;
  std::vector<std::string> foreign;  // keys outside the card's prefix
  for (const auto& [name, tensor] : weights) {
    if (starts_with(name, card.checkpoint_prefix))
      stripped.insert(name.substr(card.checkpoint_prefix.size()), tensor);
    else
      foreign.push_back(name);
  }
  CheckpointReport report = compare_checkpoint(expected_shapes(*impl->net), stripped);
  std::vector<std::string> disagreeing;
  for (const auto& name : report.unexpected)
    if (!unused_by_card(name, card)) disagreeing.push_back(name);
  if (!report.missing.empty() || !report.shape_mismatches.empty() || !disagreeing.empty()) {
    std::string text =
        "checkpoint does not match model card '" + card.name + "':\n" + report.describe();
    if (!disagreeing.empty()) {
      text += "\nunexpected keys that no modality or decoder setting of the card explains:";
      for (const auto& k : disagreeing) text += "\n  " + k;
    }
    throw CheckpointError(text);
  }
  report.unexpected.insert(report.unexpected.end(), foreign.begin(), foreign.end());
  impl->report = std::move(report);
  net::assign_weights(*impl->net, net::NamedTensors(stripped.begin(), stripped.end()));
  impl->net->eval();
  return TerraMindModel(impl);
}

TerraMindModel TerraMindModel::open(const std::string& card_or_checkpoint, int64_t head_dim) {
  if (ends_with(card_or_checkpoint, ".json")) {
    const ModelCard card = ModelCard::from_file(card_or_checkpoint);
    if (card.checkpoint.empty())
      throw std::invalid_argument(card_or_checkpoint + " names no checkpoint");
    return load(card, card.checkpoint);
  }
  const TensorMap weights = ends_with(card_or_checkpoint, ".safetensors")
                                ? load_safetensors(card_or_checkpoint)
                                : load_torch_checkpoint(card_or_checkpoint);
  ModelCard card = infer_model_card(weights, head_dim);
  card.checkpoint = card_or_checkpoint;
  return load(card, weights);
}

TerraMindModel TerraMindModel::untrained(const ModelCard& card, uint64_t seed) {
  auto impl = std::make_shared<Impl>();
  impl->card = card;
  impl->net = net::TerraMind(card);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::NoGradGuard no_grad;
  for (auto& p : impl->net->parameters()) {
    p.set_requires_grad(false);
    p.normal_(0.0, 0.02, generator);
  }
  impl->net->eval();
  return TerraMindModel(impl);
}

const ModelCard& TerraMindModel::card() const { return impl_->card; }
const CheckpointReport& TerraMindModel::load_report() const { return impl_->report; }

int64_t TerraMindModel::parameter_count() const {
  std::set<const void*> seen;  // tied weights count once
  int64_t count = 0;
  for (const auto& p : impl_->net->parameters())
    if (seen.insert(p.data_ptr()).second) count += p.numel();
  return count;
}

std::string TerraMindModel::dtype() const { return "float32"; }

std::string TerraMindModel::input_key(const std::string& name) const {
  const auto& net = *impl_->net;
  auto has = [&net](const std::string& key) {
    return net.has_pixel_input(key) || net.has_token_input(key) || net.has_sequence_input(key);
  };
  if (has(name)) return name;
  const Modality& m = modality_for(name);
  if (has(m.input_key)) return m.input_key;
  throw std::invalid_argument("model '" + impl_->card.name + "' has no input " + m.name);
}

std::string TerraMindModel::output_key(const std::string& name) const {
  const auto& net = *impl_->net;
  if (net.has_target(name) || net.has_sequence_target(name)) return name;
  const Modality& m = modality_for(name);
  if (m.can_generate() && (net.has_target(m.output_key) || net.has_sequence_target(m.output_key)))
    return m.output_key;
  throw std::invalid_argument("model '" + impl_->card.name + "' cannot generate " + m.name);
}

at::Tensor TerraMindModel::standardise(const std::string& modality,
                                       const at::Tensor& values) const {
  const auto version = stats_version_from_string(impl_->card.stats_version);
  return standardise_channels(modality_for(modality).stats(version), values, modality);
}

at::Tensor TerraMindModel::destandardise(const std::string& modality,
                                         const at::Tensor& values) const {
  const auto version = stats_version_from_string(impl_->card.stats_version);
  return destandardise_channels(modality_for(modality).stats(version), values, modality);
}

namespace {

struct EncodedInputs {
  std::vector<std::string> keys;
  std::vector<int64_t> counts;
  std::vector<bool> is_image;
  std::vector<at::Tensor> layers;  // selected encoder outputs [B, L, D]
};

std::vector<int> resolve_layers(const std::vector<int>& wanted, int64_t depth) {
  std::vector<int> out;
  if (wanted.empty()) {
    for (int i = 0; i < depth; ++i) out.push_back(i);
    return out;
  }
  for (int w : wanted) {
    const int i = w < 0 ? static_cast<int>(depth) + w : w;
    if (i < 0 || i >= depth)
      throw std::invalid_argument("layer " + std::to_string(w) + " does not exist (depth " +
                                  std::to_string(depth) + ")");
    out.push_back(i);
  }
  return out;
}

}  // namespace

// Shared by features(), features_by_modality() and tim_features().
static EncodedInputs encode_inputs(const TerraMindModel& model, const net::TerraMindImpl& net,
                                   const ModalityInputs& inputs, const FeatureOptions& options) {
  if (inputs.empty()) throw std::invalid_argument("no inputs given");
  torch::NoGradGuard no_grad;
  EncodedInputs out;
  std::vector<at::Tensor> tokens;
  for (const auto& [name, value] : inputs) {
    const std::string key = model.input_key(name);
    net::Embedded e;
    if (net.has_pixel_input(key)) {
      e = net.embed_pixels(key, options.inputs_standardised ? value.to(torch::kFloat32)
                                                            : model.standardise(key, value));
    } else if (net.has_sequence_input(key)) {
      e = net.embed_sequence(key, value);  // the ViT path treats every position as valid
    } else {
      const auto ids = value.reshape({value.size(0), -1});
      const auto side = static_cast<int64_t>(std::lround(std::sqrt(double(ids.size(1)))));
      if (side * side != ids.size(1))
        throw std::invalid_argument(name + ": token inputs must form a square grid");
      e = net.embed_tokens(key, ids, side, side);
    }
    out.keys.push_back(key);
    out.counts.push_back(e.x.size(1));
    out.is_image.push_back(!net.has_sequence_input(key));
    tokens.push_back(e.x + e.emb);
  }
  const auto layers = net.encode_layers(torch::cat(tokens, 1));
  for (int i : resolve_layers(options.layers, static_cast<int64_t>(layers.size())))
    out.layers.push_back(layers[i]);
  return out;
}

static std::vector<at::Tensor> merge(const EncodedInputs& encoded, MergeMethod method) {
  std::vector<at::Tensor> out;
  for (const auto& layer : encoded.layers) {
    if (method == MergeMethod::kNone) {
      out.push_back(layer);
      continue;
    }
    std::vector<at::Tensor> parts;
    int64_t offset = 0;
    for (std::size_t m = 0; m < encoded.keys.size(); ++m) {
      if (encoded.is_image[m]) parts.push_back(layer.narrow(1, offset, encoded.counts[m]));
      offset += encoded.counts[m];
    }
    for (const auto& p : parts)
      if (p.size(1) != parts.front().size(1))
        throw std::invalid_argument("merging needs the same token count for every modality");
    if (method == MergeMethod::kConcat) {
      out.push_back(torch::cat(parts, 2));
    } else {
      const auto stacked = torch::stack(parts, 1);
      out.push_back(method == MergeMethod::kMean ? stacked.mean(1) : std::get<0>(stacked.max(1)));
    }
  }
  return out;
}

std::vector<at::Tensor> TerraMindModel::features(const ModalityInputs& inputs,
                                                 const FeatureOptions& options) const {
  return merge(encode_inputs(*this, *impl_->net, inputs, options), options.merge);
}

std::vector<std::map<std::string, at::Tensor>> TerraMindModel::features_by_modality(
    const ModalityInputs& inputs, const FeatureOptions& options) const {
  const EncodedInputs encoded = encode_inputs(*this, *impl_->net, inputs, options);
  std::vector<std::map<std::string, at::Tensor>> out;
  for (const auto& layer : encoded.layers) {
    std::map<std::string, at::Tensor> per_modality;
    int64_t offset = 0;
    for (std::size_t m = 0; m < encoded.keys.size(); ++m) {
      per_modality[encoded.keys[m]] = layer.narrow(1, offset, encoded.counts[m]);
      offset += encoded.counts[m];
    }
    out.push_back(std::move(per_modality));
  }
  return out;
}

std::map<std::string, at::Tensor> TerraMindModel::generate(const ModalityInputs& inputs,
                                                           const std::vector<std::string>& targets,
                                                           const GenerationOptions& options) const {
  net::GenerationRequest request;
  for (const auto& [name, value] : inputs) {
    const std::string key = input_key(name);
    const bool pixel = impl_->net->has_pixel_input(key);
    request.inputs.emplace_back(
        key, pixel && !options.inputs_standardised ? standardise(key, value) : value);
  }
  for (const auto& t : targets) request.targets.push_back(output_key(t));
  request.decoding_steps = options.decoding_steps;
  request.sampling.temperature = options.temperature;
  request.sampling.top_p = options.top_p;
  request.sampling.top_k = options.top_k;
  request.seed = options.seed;
  request.chained = options.chained;
  if (!options.target_seeds.empty())
    for (const auto& t : targets) {
      const auto it = options.target_seeds.find(t);
      request.target_seeds.push_back(it == options.target_seeds.end() ? options.seed : it->second);
    }
  return net::generate_tokens(*impl_->net, request);
}

std::vector<at::Tensor> TerraMindModel::tim_features(const ModalityInputs& inputs,
                                                     const std::vector<std::string>& tim,
                                                     const GenerationOptions& generation,
                                                     const FeatureOptions& options) const {
  ModalityInputs standardised;
  for (const auto& [name, value] : inputs) {
    const std::string key = input_key(name);
    const bool pixel = impl_->net->has_pixel_input(key);
    standardised.emplace_back(
        key, pixel && !options.inputs_standardised ? standardise(key, value) : value);
  }
  GenerationOptions g = generation;
  g.inputs_standardised = true;
  const auto generated = generate(standardised, tim, g);
  for (const auto& t : tim) {
    const std::string key = output_key(t);
    if (!impl_->net->has_token_input(key) && !impl_->net->has_sequence_input(key))
      throw std::invalid_argument("TiM modality " + t + " has no encoder embedding in this model");
    standardised.emplace_back(key, generated.at(key));
  }
  FeatureOptions f = options;
  f.inputs_standardised = true;
  return features(standardised, f);
}

MergeMethod merge_method_from_string(const std::string& text) {
  if (text == "mean") return MergeMethod::kMean;
  if (text == "max") return MergeMethod::kMax;
  if (text == "concat") return MergeMethod::kConcat;
  if (text == "none") return MergeMethod::kNone;
  throw std::invalid_argument("unknown merge method '" + text + "' (mean, max, concat, none)");
}

}  // namespace terramind
