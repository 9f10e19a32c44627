// Shared helpers of the tokenizer tests: fixture files (TM_FIXTURES), the fixture tokenizers'
// cards built from their JSON configurations, and comparisons.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "tm/model.h"

namespace terramind::testing {

// The image tokenizer fixtures.
constexpr char kDiVAE[] = "tokenizer_divae_s1grd";
constexpr char kVQVAE[] = "tokenizer_vqvae_lulc";

std::string fixture_path(const std::string& file);
// The fixture's `<name>.pt` tensors, read once per process. Throws when the file is missing, so
// parity tests fail (not skip) without their fixtures.
const TensorMap& fixture_tensors(const std::string& name);
// The fixture's `<name>.json` (configuration, settings, tolerances), read once per process.
const nlohmann::json& fixture_json(const std::string& name);
// The suggested tolerance of output `key` from the fixture's "tolerance" table: the number after
// "max abs" of the entry that lists the key (entries list names separated by ", ", may end in
// "*" and carry a parenthesised remark). Throws when the table has none, so the test fails.
double fixture_tolerance(const std::string& name, const std::string& key);
// The FSQ margin above which fixture tokens are exact ("exact where aux/tokens_margin > X").
double fixture_token_margin(const std::string& name);
// The reference configuration of a tokenizer fixture as a card (checkpoint: _state_dict.pt).
TokenizerCard fixture_card(const std::string& name);
// The fixture tokenizer with its official-format weights, loaded once per process.
const ImageTokenizer& fixture_tokenizer(const std::string& name);

double max_abs_diff(const at::Tensor& a, const at::Tensor& b);

// Class maps against the reference's arg-max: `classes` [N, H, W] must equal `reference` wherever
// the reference logits [N, C, H, W] separate their best class from the runner-up by more than
// twice `tolerance` (the logits' own bound); where two classes tie within it, either may win on
// another CPU's BLAS kernels. Returns a description of the disagreements, empty when none.
std::string argmax_disagreements(const at::Tensor& classes, const at::Tensor& reference,
                                 const at::Tensor& reference_logits, double tolerance);

// The published WordPiece vocabulary ($TM_SHARED/data/text_tokenizer/...).
std::string text_vocabulary_path();

}  // namespace terramind::testing
