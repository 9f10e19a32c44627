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
    bounds.push_back(static_cast<int64_t>(
        std::floor(static_cast<double>(i) * (static_cast<double>(total) / steps))));
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

constexpr int64_t kEosId = 3;           // [EOS]
constexpr int64_t kFirstSentinel = 4;   // [S_0]
constexpr int64_t kLastSentinel = 203;  // [S_199]
constexpr int64_t kSentinelStart = 5;   // [S_1]: generation starts from it
constexpr int64_t kSentinelStop = 6;    // [S_2]: and stops at it

bool is_sentinel(int64_t id) { return id >= kFirstSentinel && id <= kLastSentinel; }

struct TargetState {
  std::string key;
  bool sequence = false;
  int64_t gh = 0, gw = 0;
  torch::Tensor tokens;      // image: [B, N] int64; sequence: merged ids [B, L] (0-padded)
  torch::Tensor decided;     // image: [N] bool, shared by the batch (the ROAR order is)
  torch::Tensor input_mask;  // sequence: [B, L] bool, true on padding
  bool done = false;
};

// The reference's input mask of a sequence input: valid up to and including the first [EOS]
// column (the first hit in the batch decides for every row); no [EOS]: all valid.
torch::Tensor sequence_input_mask(const torch::Tensor& ids) {
  const auto hits = (ids == kEosId).nonzero();
  auto mask = torch::zeros(ids.sizes(), torch::kBool);
  if (hits.size(0) > 0) {
    const int64_t column = hits[0][1].item<int64_t>();
    if (column + 1 < ids.size(1)) mask.narrow(1, column + 1, ids.size(1) - column - 1).fill_(true);
  }
  return mask;
}

struct EncoderInput {
  torch::Tensor x, emb;
  torch::Tensor mask;  // [B, L] true = not an input; undefined when everything is valid
};

// Encoder input from every input and every target that has an encoder embedding, valid tokens
// only, in order (inputs first, then targets).
EncoderInput encoder_tokens(const TerraMindImpl& model, const ModalityTensors& inputs,
                            const std::vector<TargetState>& targets) {
  std::vector<torch::Tensor> xs, embs, masks;
  bool any_masked = false;
  auto add = [&](const Embedded& e, torch::Tensor mask) {
    xs.push_back(e.x);
    embs.push_back(e.emb.expand_as(e.x));
    if (!mask.defined()) mask = torch::zeros({e.x.size(0), e.x.size(1)}, torch::kBool);
    any_masked = any_masked || mask.any().item<bool>();
    masks.push_back(mask);
  };
  for (const auto& [key, value] : inputs) {
    if (model.has_pixel_input(key)) {
      add(model.embed_pixels(key, value), {});
    } else if (model.has_token_input(key)) {
      const auto ids = value.reshape({value.size(0), -1});
      const auto side = static_cast<int64_t>(std::lround(std::sqrt(double(ids.size(1)))));
      if (side * side != ids.size(1))
        throw std::invalid_argument("token input '" + key + "' is not a square grid");
      add(model.embed_tokens(key, ids, side, side), {});
    } else if (model.has_sequence_input(key)) {
      const auto mask = sequence_input_mask(value);
      add(model.embed_sequence(key, value, mask), mask);
    } else {
      throw std::invalid_argument("the model has no input embedding for '" + key + "'");
    }
  }
  for (const auto& t : targets) {
    if (t.sequence) {
      if (t.done && model.has_sequence_input(t.key))
        add(model.embed_sequence(t.key, t.tokens, t.input_mask), t.input_mask);
      continue;
    }
    if (!model.has_token_input(t.key) || !t.decided.any().item<bool>()) continue;
    const auto e = model.embed_tokens(t.key, t.tokens, t.gh, t.gw);
    const auto keep = t.decided.nonzero().squeeze(1);
    add({e.x.index_select(1, keep), e.emb.expand_as(e.x).index_select(1, keep)}, {});
  }
  if (xs.empty()) throw std::invalid_argument("generation needs at least one input");
  EncoderInput in{torch::cat(xs, 1), torch::cat(embs, 1), {}};
  if (any_masked) {
    in.mask = torch::cat(masks, 1);
    // Masked tokens carry nothing (the reference zeroes them before the encoder).
    in.x = in.x.masked_fill(in.mask.unsqueeze(-1), 0.0);
    in.emb = in.emb.masked_fill(in.mask.unsqueeze(-1), 0.0);
  }
  return in;
}

// The decoder's context: the encoder over the input tokens (masked ones excluded).
torch::Tensor encoded_context(const TerraMindImpl& model, const EncoderInput& in) {
  const auto mask = in.mask.defined() ? in.mask.unsqueeze(1) : in.mask;
  return model.context(model.encode(in.x + in.emb, mask), in.emb);
}

// The generator of generation step `step`: the reference seeds the global generator with
// seed0 + s; a local one gives the same stream without touching global state. Negative seeds
// wrap to uint64 as in torch.
at::Generator step_generator(int64_t seed, int64_t step) {
  return at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(seed + step));
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

// Tokens following the first [S_1] up to the next sentinel, per row, right-padded with [PAD]
// (the reference's merge for an empty target).
void merge_generated_sequence(const torch::Tensor& out, TargetState& target) {
  const int64_t B = out.size(0);
  std::vector<std::vector<int64_t>> rows(B);
  std::size_t longest = 1;
  auto acc = out.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t i = 1; i < out.size(1) && !is_sentinel(acc[b][i]); ++i)
      rows[b].push_back(acc[b][i]);
    longest = std::max(longest, rows[b].size());
  }
  target.tokens = torch::zeros({B, static_cast<int64_t>(longest)}, torch::kLong);
  target.input_mask = torch::ones({B, static_cast<int64_t>(longest)}, torch::kBool);
  for (int64_t b = 0; b < B; ++b)
    for (std::size_t i = 0; i < rows[b].size(); ++i) {
      target.tokens[b][static_cast<int64_t>(i)] = rows[b][i];
      target.input_mask[b][static_cast<int64_t>(i)] = false;
    }
}

void generate_sequence(const TerraMindImpl& model, const GenerationRequest& request,
                       const std::vector<TargetState>& all, TargetState& target,
                       at::Generator& generator) {
  const auto in = encoder_tokens(model, request.inputs, all);
  const auto context = encoded_context(model, in);
  const auto& embedding = model.sequence_target(target.key);
  const int64_t B = context.size(0);
  // An empty target of length L decodes at most L - 1 positions: [S_1] then L - 2 tokens.
  const int64_t steps = embedding.max_length - 1;
  auto out = torch::full({B, 1}, kSentinelStart, torch::kLong);
  auto state = model.start_sequence(target.key, context, in.mask);
  for (int64_t i = 0; i < steps; ++i) {
    torch::Tensor decoded;
    if (request.sequence_cache) {
      decoded = model.step_sequence(state, out.narrow(1, i, 1));
    } else {
      decoded = model.decode_sequence_full(target.key, context, out, in.mask).narrow(1, i, 1);
    }
    const auto logits = model.logits(target.key, decoded).squeeze(1);  // [B, V]
    const auto next = sample_tokens(logits, request.sampling, generator).reshape({B, 1});
    out = torch::cat({out, next}, 1);
    if ((out == kSentinelStop).any(1).all().item<bool>()) break;
  }
  merge_generated_sequence(out, target);
  target.done = true;
}

// The encoder input and context of the inputs alone (no target decided yet).
struct EncodedInputs {
  EncoderInput in;
  torch::Tensor context;
};

// Generates one target; `context_targets` (holding `target`) are the targets whose decided tokens
// condition it. Schedule step s uses seed + step_index, which advances once per step.
void generate_target(const TerraMindImpl& model, const GenerationRequest& request,
                     const std::vector<TargetState>& context_targets, TargetState& target,
                     int64_t seed, int64_t& step_index, const EncodedInputs* inputs_only) {
  if (target.sequence) {
    auto generator = step_generator(seed, step_index);
    generate_sequence(model, request, context_targets, target, generator);
    ++step_index;
    return;
  }
  const int64_t B = target.tokens.size(0);
  const int64_t N = target.gh * target.gw;
  for (const int64_t count : linear_token_schedule(request.decoding_steps, N)) {
    EncoderInput fresh;
    torch::Tensor fresh_context;
    const bool reuse = inputs_only && !target.decided.any().item<bool>();
    if (!reuse) {
      fresh = encoder_tokens(model, request.inputs, context_targets);
      fresh_context = encoded_context(model, fresh);
    }
    const EncoderInput& in = reuse ? inputs_only->in : fresh;
    const torch::Tensor& context = reuse ? inputs_only->context : fresh_context;
    auto generator = step_generator(seed, step_index);
    const auto r = torch::rand({N}, generator) * 1e-6;
    const auto order = (target.decided.to(torch::kFloat32) + r).argsort(/*dim=*/int64_t{-1});
    const auto positions = order.narrow(0, 0, count);

    auto decoded =
        model.decode_image(target.key, context, target.gh, target.gw, positions, in.mask);
    const auto logits = model.logits(target.key, decoded);  // [B, n, V], rows in ROAR order
    const auto ids = sample_tokens(logits.reshape({B * count, -1}), request.sampling, generator)
                         .reshape({B, count});
    target.tokens.index_copy_(1, positions, ids);
    target.decided.index_fill_(0, positions, true);
    ++step_index;
  }
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
    TargetState t;
    t.key = key;
    if (model.has_sequence_target(key)) {
      t.sequence = true;
    } else if (model.has_target(key)) {
      t.gh = gh;
      t.gw = gw;
      t.tokens = torch::zeros({B, gh * gw}, torch::kLong);
      t.decided = torch::zeros({gh * gw}, torch::kBool);
    } else {
      throw std::invalid_argument("the model cannot generate '" + key + "'");
    }
    targets.push_back(std::move(t));
  }

  if (!request.target_seeds.empty() && request.target_seeds.size() != targets.size())
    throw std::invalid_argument("generation: one seed per target expected");
  if (request.chained) {
    int64_t step_index = 0;
    for (auto& target : targets)
      generate_target(model, request, targets, target, request.seed, step_index, nullptr);
  } else {
    // Every target starts from the same encoder context (the inputs alone): encode it once.
    const auto in = encoder_tokens(model, request.inputs, {});
    const EncodedInputs inputs_only{in, encoded_context(model, in)};
    for (std::size_t i = 0; i < targets.size(); ++i) {
      std::vector<TargetState> own{std::move(targets[i])};
      int64_t step_index = 0;
      const int64_t seed = request.target_seeds.empty() ? request.seed : request.target_seeds[i];
      generate_target(model, request, own, own.front(), seed, step_index, &inputs_only);
      targets[i] = std::move(own.front());
    }
  }
  std::map<std::string, torch::Tensor> out;
  for (auto& t : targets) out.emplace(t.key, t.tokens);
  return out;
}

}  // namespace terramind::net
