// tm/shard_tokenizer.h — the image tokenizers (tm/tokenizer.h) as token encoders for
// tm/shards.h's tokenize_dataset: what tm_tokenize_shards runs (part of training/'s tm_trainer).
#pragma once

#include <cstdint>
#include <string>

#include "tm/shards.h"

namespace terramind::training {

// A tokenizer card (.json naming its weights) or checkpoint (.pt, .safetensors; card inferred
// with heads head_dim wide) for `modality`, as an encoder of that modality's shard arrays:
// pixels in physical units are standardised with the card's statistics, missing values (NaN)
// become the modality mean (class 0 for LULC), and encoded on `threads` intra-op threads.
// std::invalid_argument when the tokenizer is for another modality; CheckpointError for a bad
// checkpoint.
shards::TokenEncoder image_token_encoder(const std::string& card_or_checkpoint,
                                         const std::string& modality, std::int64_t head_dim = 64);

}  // namespace terramind::training
