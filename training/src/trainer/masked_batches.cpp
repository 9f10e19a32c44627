#include "masked_batches.h"

#include <algorithm>

#include "tm/checksum.h"
#include "tm/registry.h"

namespace terramind::training {
namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::uint64_t sample_seed(std::uint64_t seed, int epoch, const std::string& key) {
  const std::string digest =
      sha256_hex(std::to_string(seed) + "/" + std::to_string(epoch) + "/" + key);
  return std::stoull(digest.substr(0, 16), nullptr, 16);
}

}  // namespace

at::Tensor array_tensor(const shards::Array& a, bool as_float) {
  using shards::DType;
  const std::vector<int64_t> shape{a.bands, a.height, a.width};
  auto blob = [&](torch::Dtype t) {
    return torch::from_blob(const_cast<std::uint8_t*>(a.data.data()), shape, t).clone();
  };
  at::Tensor t;
  switch (a.dtype) {
    case DType::kUInt8:
      t = blob(torch::kByte);
      break;
    case DType::kInt8:
      t = blob(torch::kChar);
      break;
    case DType::kInt16:
      t = blob(torch::kShort);
      break;
    case DType::kInt32:
      t = blob(torch::kInt);
      break;
    case DType::kFloat32:
      t = blob(torch::kFloat);
      break;
    case DType::kFloat64:
      t = blob(torch::kDouble);
      break;
    default: {  // unsigned 16/32-bit: no such torch dtype here; widen element by element
      t = torch::empty(shape, torch::kLong);
      auto* out = t.data_ptr<int64_t>();
      for (std::size_t i = 0; i < a.count(); ++i) out[i] = static_cast<int64_t>(a.value(i));
    }
  }
  return as_float ? t.to(torch::kFloat32) : t.to(torch::kLong);
}

MaskedBatchMaker::MaskedBatchMaker(const RunConfig& config) : config_(config) {
  const ModelCard& card = config.card;
  grid_ = card.image_size / card.patch_size;
  const auto& registry = ModalityRegistry::instance();
  for (const auto& use : config.modalities) {
    const Modality& m = registry.get(use.modality);
    if (use.pixels) {
      BatchKey k{m.input_key, m.name, true, true, false};
      if (!contains(card.encoder_modalities, k.key))
        throw TrainingError("data.modalities." + m.name + ": pixels: the model card has no input " +
                            k.key);
      keys_.push_back(k);
    }
    if (use.tokens) {
      const std::string key = m.output_key.empty() ? m.input_key : m.output_key;
      BatchKey k{key, m.name, false, contains(card.encoder_modalities, key),
                 contains(card.decoder_modalities, key)};
      if (!k.input && !k.target)
        throw TrainingError("data.modalities." + m.name +
                            ": tokens: the model card has neither input nor target " + key);
      keys_.push_back(k);
    }
  }
  if (std::none_of(keys_.begin(), keys_.end(), [](const BatchKey& k) { return k.target; }))
    throw TrainingError("data.modalities: no modality is a decoder target of the model card");
  std::vector<ModalityBudgetSpec> specs;
  for (const auto& k : keys_) specs.push_back({k.key, static_cast<int>(grid_ * grid_), 0, 0, true});
  std::vector<MixtureComponent> mixture;
  auto alpha_of = [&](const std::map<std::string, double>& alphas, const BatchKey& k) {
    const auto it = alphas.find(k.key);
    const auto by_name = alphas.find(k.modality);
    return it != alphas.end()                     ? it->second
           : by_name != alphas.end() && !k.pixels ? by_name->second
                                                  : 0.0;
  };
  if (!config.mixture.empty()) {
    for (const auto& c : config.mixture) {
      MixtureComponent mc{c.name, {}, {}, c.weight};
      for (const auto& [key, a] : c.input_alpha)
        if (std::none_of(keys_.begin(), keys_.end(),
                         [&](const BatchKey& k) { return k.key == key || k.modality == key; }))
          throw TrainingError("budgets.mixture " + c.name + ": '" + key +
                              "' is not a key this run feeds");
      for (const auto& k : keys_) {
        mc.input_alpha.push_back(k.input ? alpha_of(c.input_alpha, k) : 0.0);
        mc.target_alpha.push_back(k.target ? alpha_of(c.target_alpha, k) : 0.0);
      }
      mixture.push_back(mc);
    }
  } else {
    std::string pixel;
    for (const auto& k : keys_)
      if (k.pixels &&
          (config.pixel_modality.empty() || k.modality == registry.get(config.pixel_modality).name))
        pixel = k.key;
    if (!pixel.empty()) {
      mixture = four_m_mixture(specs, pixel);
    } else {
      MixtureComponent all{"all2all", {}, {}, 1};
      all.input_alpha.assign(keys_.size(), 0.5);
      all.target_alpha.assign(keys_.size(), 0.5);
      mixture.push_back(all);
    }
    for (auto& c : mixture)  // keys the card cannot use on a side get nothing there
      for (std::size_t i = 0; i < keys_.size(); ++i) {
        if (!keys_[i].input) c.input_alpha[i] = 0;
        if (!keys_[i].target) c.target_alpha[i] = 0;
      }
  }
  try {
    sampler_ =
        std::make_unique<BudgetSampler>(specs, mixture, config.input_tokens, config.target_tokens);
  } catch (const std::invalid_argument& e) {
    throw TrainingError(std::string("budgets: ") + e.what());
  }
}

std::vector<std::string> MaskedBatchMaker::pixel_modalities() const {
  std::vector<std::string> out;
  for (const auto& k : keys_)
    if (k.pixels && !contains(out, k.modality)) out.push_back(k.modality);
  return out;
}

std::vector<std::string> MaskedBatchMaker::token_modalities() const {
  std::vector<std::string> out;
  for (const auto& k : keys_)
    if (!k.pixels && !contains(out, k.modality)) out.push_back(k.modality);
  return out;
}

MaskedBatch MaskedBatchMaker::make(const std::vector<shards::Sample>& samples, int epoch,
                                   const at::Device& device) const {
  const auto& registry = ModalityRegistry::instance();
  const auto version = stats_version_from_string(config_.card.stats_version);
  const int64_t N = grid_ * grid_, side = config_.card.image_size;
  std::vector<std::vector<at::Tensor>> values(keys_.size()), inputs(keys_.size()),
      targets(keys_.size());
  for (const auto& sample : samples) {
    const std::string& key = sample.record.key;
    TokenRng rng(sample_seed(config_.seed, epoch, key));
    const Budgets budgets = sampler_->sample(rng);
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      const BatchKey& k = keys_[i];
      const auto& arrays = k.pixels ? sample.arrays : sample.tokens;
      const auto it = arrays.find(k.modality);
      if (it == arrays.end())
        throw TrainingError(
            sample.shard + ": sample " + key + " has no " + k.modality +
            (k.pixels ? " pixels" : " tokens (pre-tokenise with tm_tokenize_shards)"));
      at::Tensor v = array_tensor(it->second, k.pixels);
      if (k.pixels) {
        if (v.size(1) != side || v.size(2) != side)
          throw TrainingError(sample.shard + ": sample " + key + ": " + k.modality + " is " +
                              std::to_string(v.size(2)) + "x" + std::to_string(v.size(1)) +
                              " pixels, the model takes " + std::to_string(side));
        const auto& stats = registry.get(k.modality).stats(version);
        const auto mean =
            torch::tensor(stats.mean, torch::kFloat64).to(torch::kFloat32).view({-1, 1, 1});
        const auto std =
            torch::tensor(stats.std, torch::kFloat64).to(torch::kFloat32).view({-1, 1, 1});
        if (v.size(0) != mean.size(0))
          throw TrainingError(sample.shard + ": sample " + key + ": " + k.modality + " has " +
                              std::to_string(v.size(0)) + " bands, the registry " +
                              std::to_string(mean.size(0)));
        // Missing values (NaN) enter as the modality mean, as in tokenising and inference.
        v = at::nan_to_num((v - mean) / std, 0.0, 0.0, 0.0);
      } else {
        if (v.numel() != N)
          throw TrainingError(sample.shard + ": sample " + key + ": " + k.modality + " has " +
                              std::to_string(v.numel()) + " tokens, the model's grid " +
                              std::to_string(N));
        v = v.reshape({N});
      }
      values[i].push_back(v);
      const ImageMask mask =
          mask_image(static_cast<int>(N), budgets.input[i], budgets.target[i], rng);
      auto to_tensor = [](const std::vector<bool>& m) {
        auto t = torch::empty({static_cast<int64_t>(m.size())}, torch::kBool);
        auto* p = t.data_ptr<bool>();
        for (std::size_t j = 0; j < m.size(); ++j) p[j] = m[j];
        return t;
      };
      inputs[i].push_back(to_tensor(mask.input_mask));
      targets[i].push_back(to_tensor(mask.target_mask));
    }
  }
  MaskedBatch batch;
  batch.num_encoder_tokens = config_.input_tokens;
  batch.num_decoder_tokens = config_.target_tokens;
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    MaskedModality m;
    m.key = keys_[i].key;
    m.values = torch::stack(values[i]).to(device);
    if (keys_[i].input) m.input_mask = torch::stack(inputs[i]).to(device);
    if (keys_[i].target) m.target_mask = torch::stack(targets[i]).to(device);
    batch.modalities.push_back(std::move(m));
  }
  return batch;
}

}  // namespace terramind::training
