// Samples -> masked batches: per sample budgets (Dirichlet, tm/token_budgets.h) and permutation
// masks, drawn from a random stream seeded by (run seed, epoch, sample key), so a sample's masks
// do not depend on the rank, the batch or the loader order that delivered it.
#pragma once

#include <string>
#include <vector>

#include "tm/pretraining.h"
#include "tm/shards.h"
#include "tm/token_budgets.h"
#include "tm/trainer.h"

namespace terramind::training {

struct BatchKey {        // one model key fed from the data
  std::string key;       // "untok_sen2l2a@224", "tok_lulc@224"
  std::string modality;  // canonical name
  bool pixels = false;   // from the pixel arrays (else the token arrays)
  bool input = false;    // an encoder input of the card
  bool target = false;   // a decoder target of the card
};

class MaskedBatchMaker {
 public:
  // Throws TrainingError when the card lacks a key the run uses, or the budgets are invalid.
  MaskedBatchMaker(const RunConfig& config);
  const std::vector<BatchKey>& keys() const { return keys_; }
  std::vector<std::string> pixel_modalities() const;
  std::vector<std::string> token_modalities() const;
  // Throws TrainingError naming the sample for missing arrays or wrong sizes.
  MaskedBatch make(const std::vector<shards::Sample>& samples, int epoch,
                   const at::Device& device) const;
  int64_t tokens_per_sample() const { return config_.input_tokens + config_.target_tokens; }

 private:
  const RunConfig& config_;
  std::vector<BatchKey> keys_;
  std::unique_ptr<BudgetSampler> sampler_;
  int64_t grid_ = 14;
};

// Values of an array as a tensor [bands, h, w] (float32 for pixels, int64 for tokens).
at::Tensor array_tensor(const shards::Array& array, bool as_float);

}  // namespace terramind::training
