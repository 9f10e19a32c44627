// TerraMind's training-time forward (terramind-model.md §10): sort-and-keep of the encoder and
// decoder tokens, the decoder's cumsum attention rule with modality separation, cross-entropy
// per modality.
#include <cmath>
#include <set>
#include <stdexcept>

#include "tm/pretraining.h"
#include "tm/registry.h"
#include "trainable_impl.h"
#include "weights.h"

namespace terramind {

LossReduction loss_reduction_from_string(const std::string& text) {
  if (text == "mod") return LossReduction::kModality;
  if (text == "token") return LossReduction::kToken;
  throw std::invalid_argument("loss type '" + text + "': expected mod or token");
}

namespace {

using torch::indexing::Slice;

int64_t grid_side(int64_t n, const std::string& key) {
  const auto side = static_cast<int64_t>(std::lround(std::sqrt(double(n))));
  if (side * side != n) throw std::invalid_argument(key + ": token ids must form a square grid");
  return side;
}

// Keeps the first `keep` tokens of each sample after sorting by mask + i·1e-6 (selected tokens
// first, in their order): the reference's rule, so the same tokens survive truncation.
torch::Tensor kept_indices(const torch::Tensor& mask, int64_t keep) {
  const auto n = mask.size(1);
  if (keep > n) keep = n;
  const auto noise =
      mask.to(torch::kFloat32) +
      torch::arange(n, torch::TensorOptions(torch::kFloat32).device(mask.device())) * 1e-6;
  return noise.argsort(/*dim=*/int64_t{1}).narrow(1, 0, keep);
}

torch::Tensor gather_rows(const torch::Tensor& x, const torch::Tensor& ids) {  // [B,N,D], [B,n]
  return x.gather(1, ids.unsqueeze(-1).expand({ids.size(0), ids.size(1), x.size(2)}));
}

void check_mask(const MaskedModality& m, const torch::Tensor& mask, int64_t B, int64_t N,
                const char* what) {
  if (mask.dim() != 2 || mask.size(0) != B || mask.size(1) != N)
    throw std::invalid_argument(m.key + ": " + what + " must be [" + std::to_string(B) + ", " +
                                std::to_string(N) + "], not " + c10::str(mask.sizes()));
}

struct DecoderSequence {
  torch::Tensor y;          // queries [B, n, D]
  torch::Tensor ids;        // target ids [B, n]
  torch::Tensor mask;       // [B, n] true = not a target (padding)
  torch::Tensor modality;   // [B, n] index into keys
  torch::Tensor positions;  // [B, n] spatial index within the modality
  torch::Tensor self_mask;  // [B, n, n] true = blocked
  std::vector<std::string> keys;
};

struct Forward {
  torch::Tensor decoded;  // [B, n, D] after decoder_norm
  DecoderSequence seq;
};

Forward run(const net::TerraMindImpl& net, const MaskedBatch& batch) {
  if (batch.modalities.empty()) throw std::invalid_argument("masked batch without modalities");
  const int64_t B = batch.modalities.front().values.size(0);
  const auto device = batch.modalities.front().values.device();

  // Encoder side.
  std::vector<torch::Tensor> xs, embs, masks;
  std::map<std::string, const MaskedModality*> targets;
  std::map<std::string, std::pair<int64_t, int64_t>> target_grid;
  for (const auto& m : batch.modalities) {
    if (m.values.size(0) != B) throw std::invalid_argument(m.key + ": batch size differs");
    const bool pixel = net.has_pixel_input(m.key);
    int64_t gh = 0, gw = 0;
    torch::Tensor ids;
    if (pixel) {
      gh = m.values.size(2) / net.card().patch_size;
      gw = m.values.size(3) / net.card().patch_size;
    } else {
      ids = m.values.reshape({B, -1}).to(torch::kLong);
      if (m.values.dim() == 3) {
        gh = m.values.size(1);
        gw = m.values.size(2);
      } else {
        gh = gw = grid_side(ids.size(1), m.key);
      }
    }
    if (m.input_mask.defined()) {
      net::Embedded e =
          pixel ? net.embed_pixels(m.key, m.values) : net.embed_tokens(m.key, ids, gh, gw);
      check_mask(m, m.input_mask, B, e.x.size(1), "input_mask");
      xs.push_back(e.x);
      embs.push_back(e.emb.expand({B, e.x.size(1), e.x.size(2)}));
      masks.push_back(m.input_mask.to(torch::kBool));
    }
    if (m.target_mask.defined()) {
      if (pixel || !net.has_target(m.key))
        throw std::invalid_argument(m.key + ": the model has no image-token target of this key" +
                                    std::string(net.has_sequence_target(m.key)
                                                    ? " (sequence targets are not trained yet)"
                                                    : ""));
      check_mask(m, m.target_mask, B, gh * gw, "target_mask");
      targets[m.key] = &m;
      target_grid[m.key] = {gh, gw};
    }
  }
  if (xs.empty()) throw std::invalid_argument("masked batch without encoder inputs");
  if (targets.empty()) throw std::invalid_argument("masked batch without targets");
  const auto x_all = torch::cat(xs, 1), emb_all = torch::cat(embs, 1);
  const auto mask_all = torch::cat(masks, 1);
  const auto enc_ids = kept_indices(mask_all, batch.num_encoder_tokens);
  const auto enc_mask = mask_all.gather(1, enc_ids);
  const auto hidden = enc_mask.unsqueeze(-1);
  const auto x = gather_rows(x_all, enc_ids).masked_fill(hidden, 0.0);
  const auto emb = gather_rows(emb_all, enc_ids).masked_fill(hidden, 0.0);
  const auto key_mask = enc_mask.unsqueeze(1);  // [B, 1, n]: masked keys blocked
  const auto context = net.context(net.encode(x + emb, key_mask), emb);

  // Decoder side, in the batch's modality order.
  std::vector<std::string> order = batch.decoder_order;
  if (order.empty())
    for (const auto& m : batch.modalities)
      if (targets.count(m.key)) order.push_back(m.key);
  std::vector<torch::Tensor> ys, ids, tmasks, mods, poss, counts;
  DecoderSequence seq;
  for (const auto& key : order) {
    const auto it = targets.find(key);
    if (it == targets.end())
      throw std::invalid_argument("decoder order names " + key + ", which is no target");
    const auto [gh, gw] = target_grid.at(key);
    const int64_t N = gh * gw, index = static_cast<int64_t>(seq.keys.size());
    seq.keys.push_back(key);
    const auto q = net.image_queries(key, gh, gw);
    ys.push_back(q.expand({B, N, q.size(2)}));
    ids.push_back(it->second->values.reshape({B, N}).to(torch::kLong));
    const auto tmask = it->second->target_mask.to(torch::kBool);
    tmasks.push_back(tmask);
    mods.push_back(torch::full({B, N}, index, torch::TensorOptions(torch::kLong).device(device)));
    poss.push_back(torch::arange(N, torch::TensorOptions(torch::kLong).device(device))
                       .unsqueeze(0)
                       .expand({B, N}));
    // The target count at the modality's first target: with the cumsum rule every target of
    // the modality then sees all of them (non-causal image decoding).
    const auto selected = tmask.logical_not();
    const auto first = (selected.to(torch::kLong).cumsum(1) == 1).logical_and(selected);
    counts.push_back(first.to(torch::kLong) * selected.sum(1, true));
  }
  if (seq.keys.size() != targets.size())
    throw std::invalid_argument("decoder order does not name every target modality");
  const auto tmask_all = torch::cat(tmasks, 1);
  const auto dec_ids = kept_indices(tmask_all, batch.num_decoder_tokens);
  seq.y = gather_rows(torch::cat(ys, 1), dec_ids);
  seq.ids = torch::cat(ids, 1).gather(1, dec_ids);
  seq.mask = tmask_all.gather(1, dec_ids);
  seq.modality = torch::cat(mods, 1).gather(1, dec_ids);
  seq.positions = torch::cat(poss, 1).gather(1, dec_ids);
  const auto visible = torch::cat(counts, 1).gather(1, dec_ids).cumsum(1);  // [B, n]
  const int64_t n = dec_ids.size(1);
  const auto j =
      torch::arange(n, torch::TensorOptions(torch::kLong).device(device)).view({1, 1, n});
  const auto allowed = (j < visible.unsqueeze(-1))
                           .logical_and(seq.modality.unsqueeze(-1) == seq.modality.unsqueeze(1));
  seq.self_mask = allowed.logical_not();
  Forward out;
  out.decoded = net.decode_queries(seq.y, context, seq.self_mask, key_mask);
  out.seq = std::move(seq);
  return out;
}

}  // namespace

TrainableTerraMind::TrainableTerraMind(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

const ModelCard& TrainableTerraMind::card() const { return impl_->card; }
torch::nn::Module& TrainableTerraMind::module() { return *impl_->net; }

MaskedLoss TrainableTerraMind::loss(const MaskedBatch& batch, LossReduction reduction) const {
  const Forward f = run(*impl_->net, batch);
  MaskedLoss out;
  std::vector<torch::Tensor> means;
  torch::Tensor sum;
  int64_t total = 0;
  for (std::size_t m = 0; m < f.seq.keys.size(); ++m) {
    const auto& key = f.seq.keys[m];
    const auto rows =
        (f.seq.modality == static_cast<int64_t>(m)).logical_and(f.seq.mask.logical_not());
    const int64_t count = rows.sum().item<int64_t>();
    out.targets[key] = count;
    if (count == 0) continue;
    const auto logits = impl_->net->logits(key, f.decoded.index({rows}));
    const auto ce = torch::nn::functional::cross_entropy(
        logits.to(torch::kFloat32), f.seq.ids.index({rows}),
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
    out.per_modality[key] = (ce / double(count)).detach();
    means.push_back(ce / double(count));
    sum = sum.defined() ? sum + ce : ce;
    total += count;
  }
  if (total == 0) {
    out.loss = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat32));
    return out;
  }
  out.loss = reduction == LossReduction::kToken ? sum / double(total) : torch::stack(means).mean();
  return out;
}

std::map<std::string, TargetLogits> TrainableTerraMind::target_logits(
    const MaskedBatch& batch) const {
  const Forward f = run(*impl_->net, batch);
  std::map<std::string, TargetLogits> out;
  const int64_t B = f.seq.ids.size(0), n = f.seq.ids.size(1);
  const auto samples = torch::arange(B, f.seq.ids.options()).unsqueeze(1).expand({B, n});
  for (std::size_t m = 0; m < f.seq.keys.size(); ++m) {
    const auto rows =
        (f.seq.modality == static_cast<int64_t>(m)).logical_and(f.seq.mask.logical_not());
    TargetLogits t;
    t.logits = impl_->net->logits(f.seq.keys[m], f.decoded.index({rows}));
    t.positions = f.seq.positions.index({rows});
    t.samples = samples.index({rows});
    t.ids = f.seq.ids.index({rows});
    out[f.seq.keys[m]] = t;
  }
  return out;
}

}  // namespace terramind
