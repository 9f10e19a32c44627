#include "generation.h"

#include "token_sampler.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <limits>
#include <stdexcept>

namespace terramind::net {

std::vector<int64_t> linear_token_schedule(int64_t steps, int64_t total) {
  if (steps <= 0) throw std::invalid_argument("decoding steps must be positive");
  std::vector<int64_t> bounds;
  for (int64_t i = 0; i < steps; ++i)
    bounds.push_back(static_cast<int64_t>(std::floor(static_cast<double>(i) *
                                                     (static_cast<double>(total) / steps))));
  bounds.push_back(total);
  std::vector<int64_t> counts;
  for (std::size_t i = 1; i < bounds.size(); ++i) counts.push_back(bounds[i] - bounds[i - 1]);
  std::sort(counts.begin(), counts.end(), std::greater<>());
  while (!counts.empty() && counts.back() == 0) counts.pop_back();
  return counts;
}

torch::Tensor sample_tokens(const torch::Tensor& logits, const SamplingOptions& options,
                            at::Generator& generator) {
  if (options.greedy()) return logits.argmax(-1);
  // The replayed generator stream is torch's CPU one; elsewhere use torch's own ops.
  if (logits.device().is_cpu() && logits.scalar_type() == torch::kFloat32 && logits.dim() == 2 &&
      generator.device().is_cpu())
    return sample_tokens_fast(logits, options, generator);
  return sample_tokens_reference(logits, options, generator);
}

namespace {

struct TargetState {
  std::string key;
  int64_t gh = 0, gw = 0;
  torch::Tensor tokens;   // [B, N] int64
  torch::Tensor decided;  // [N] bool, shared by the batch (the ROAR order is)
};

// Encoder input from every input and every target that has an encoder embedding, valid tokens
// only, in order (inputs first, then targets).
std::pair<torch::Tensor, torch::Tensor> encoder_tokens(const TerraMindImpl& model,
                                                       const ModalityTensors& inputs,
                                                       const std::vector<TargetState>& targets) {
  std::vector<torch::Tensor> xs, embs;
  for (const auto& [key, value] : inputs) {
    Embedded e;
    if (model.has_pixel_input(key)) {
      e = model.embed_pixels(key, value);
    } else if (model.has_token_input(key)) {
      const auto ids = value.reshape({value.size(0), -1});
      const auto side = static_cast<int64_t>(std::lround(std::sqrt(double(ids.size(1)))));
      if (side * side != ids.size(1))
        throw std::invalid_argument("token input '" + key + "' is not a square grid");
      e = model.embed_tokens(key, ids, side, side);
    } else {
      throw std::invalid_argument("the model has no input embedding for '" + key + "'");
    }
    xs.push_back(e.x);
    embs.push_back(e.emb.expand_as(e.x));
  }
  for (const auto& t : targets) {
    if (!model.has_token_input(t.key) || !t.decided.any().item<bool>()) continue;
    const auto e = model.embed_tokens(t.key, t.tokens, t.gh, t.gw);
    const auto keep = t.decided.nonzero().squeeze(1);
    xs.push_back(e.x.index_select(1, keep));
    embs.push_back(e.emb.expand_as(e.x).index_select(1, keep));
  }
  if (xs.empty()) throw std::invalid_argument("generation needs at least one input");
  return {torch::cat(xs, 1), torch::cat(embs, 1)};
}

std::pair<int64_t, int64_t> input_grid(const ModalityTensors& inputs, int64_t patch) {
  // As the reference: the last image input sets the target grid.
  int64_t gh = 0, gw = 0;
  for (const auto& [key, value] : inputs) {
    if (value.dim() == 4) {
      gh = value.size(2) / patch;
      gw = value.size(3) / patch;
    } else if (value.dim() == 3) {
      gh = value.size(1);
      gw = value.size(2);
    }
  }
  if (gh == 0) gh = gw = 14;
  return {gh, gw};
}

}  // namespace

std::map<std::string, torch::Tensor> generate_tokens(const TerraMindImpl& model,
                                                     const GenerationRequest& request) {
  torch::NoGradGuard no_grad;
  if (request.inputs.empty()) throw std::invalid_argument("generation needs at least one input");
  const int64_t B = request.inputs.front().second.size(0);
  const auto [gh, gw] = input_grid(request.inputs, model.card().patch_size);
  std::vector<TargetState> targets;
  for (const auto& key : request.targets) {
    if (!model.has_target(key))
      throw std::invalid_argument("the model cannot generate '" + key + "'");
    targets.push_back({key, gh, gw, torch::zeros({B, gh * gw}, torch::kLong),
                       torch::zeros({gh * gw}, torch::kBool)});
  }

  int64_t step_index = 0;
  for (auto& target : targets) {
    const int64_t N = target.gh * target.gw;
    for (const int64_t count : linear_token_schedule(request.decoding_steps, N)) {
      const auto [x, emb] = encoder_tokens(model, request.inputs, targets);
      const auto context = model.context(model.encode(x + emb), emb);

      // The reference seeds the global generator with seed0 + s; a local one gives the same
      // stream without touching global state. Negative seeds wrap to uint64 as in torch.
      auto generator =
          at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(request.seed + step_index));
      const auto r = torch::rand({N}, generator) * 1e-6;
      const auto order = (target.decided.to(torch::kFloat32) + r).argsort(/*dim=*/int64_t{-1});
      const auto positions = order.narrow(0, 0, count);

      auto decoded = model.decode_image(target.key, context, target.gh, target.gw, positions);
      const auto logits = model.logits(target.key, decoded);  // [B, n, V], rows in ROAR order
      const auto ids =
          sample_tokens(logits.reshape({B * count, -1}), request.sampling, generator).reshape({B, count});
      target.tokens.index_copy_(1, positions, ids);
      target.decided.index_fill_(0, positions, true);
      ++step_index;
    }
  }
  std::map<std::string, torch::Tensor> out;
  for (auto& t : targets) out.emplace(t.key, t.tokens);
  return out;
}

}  // namespace terramind::net
