// Internal pieces of tm_evaluation.
#pragma once

#include <cstdint>
#include <string>

#include "tm/evaluation.h"

namespace terramind::eval {

// `truth` encoded and decoded by the model card's tokenizer of `target` (class maps: the arg-max
// class); NaN where the truth is NaN. std::invalid_argument when the card has no such tokenizer.
Image tokenizer_reconstruction(const std::string& model, const std::string& target,
                               const Image& truth, std::int64_t diffusion_steps, std::int64_t seed);

}  // namespace terramind::eval
