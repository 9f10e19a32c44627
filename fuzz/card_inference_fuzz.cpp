// Fuzz target: model and tokenizer cards inferred from a checkpoint's keys and shapes
// (infer_model_card, infer_tokenizer_card), which tm_convert and tm_info run on untrusted files.
// Input: a first line naming the tokenizer modality, then one tensor per line, "name d0 d1 ...".
// An inferred card must be one from_json accepts back.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <stdexcept>

#include "fuzz_support.h"
#include "tm/model.h"

namespace {

// Only shapes matter to the inference: every tensor is a zero-stride view of one element, made
// once per shape (most executions reuse the seeds' shapes; LibTorch calls dominate otherwise).
at::Tensor view_of(const std::vector<int64_t>& shape) {
  static const at::Tensor element = at::zeros({1});
  static std::map<std::vector<int64_t>, at::Tensor> views;
  if (views.size() > 100000) views.clear();
  auto found = views.find(shape);
  if (found == views.end())
    found = views.emplace(shape, element.as_strided(shape, std::vector<int64_t>(shape.size(), 0)))
                .first;
  return found->second;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  std::string modality, line;
  std::getline(in, modality);
  terramind::TensorMap checkpoint;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string name;
    fields >> name;
    std::vector<int64_t> shape;
    int64_t numel = 1;
    long long dim;
    while (shape.size() < 6 && fields >> dim) {
      // A real tensor's numel fits in memory, but with a zero dimension any other size is real.
      if (dim < 0 || dim > (int64_t{1} << 40)) return 0;
      shape.push_back(dim);
      if (dim && numel > (int64_t{1} << 40) / dim) return 0;
      numel *= dim ? dim : 1;
    }
    if (name.empty() || checkpoint.contains(name)) continue;
    checkpoint.insert(name, view_of(shape));
  }
  try {
    const terramind::ModelCard card = terramind::infer_model_card(checkpoint);
    try {
      terramind::ModelCard::from_json(card.to_json());
    } catch (const std::invalid_argument& e) {
      tm_fuzz::invariant_failed("inferred model card does not parse", card.to_json() + e.what());
    }
  } catch (const std::exception& e) {
    if (std::getenv("TM_FUZZ_VERBOSE")) std::fprintf(stderr, "model card: %s\n", e.what());
  }
  try {
    const terramind::TokenizerCard card = terramind::infer_tokenizer_card(checkpoint, modality);
    try {
      terramind::TokenizerCard::from_json(card.to_json());
    } catch (const std::invalid_argument& e) {
      tm_fuzz::invariant_failed("inferred tokenizer card does not parse",
                                card.to_json() + e.what());
    }
  } catch (const std::exception& e) {
    if (std::getenv("TM_FUZZ_VERBOSE")) std::fprintf(stderr, "tokenizer card: %s\n", e.what());
  }
  return 0;
}
