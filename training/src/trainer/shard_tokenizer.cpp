// Image tokenizers behind tokenize_dataset's TokenEncoder: Array -> standardised tensor -> ids.
#include "tm/shard_tokenizer.h"

#include <torch/torch.h>

#include <filesystem>
#include <memory>

#include "masked_batches.h"
#include "tm/registry.h"
#include "tm/tokenizer.h"

namespace terramind::training {

shards::TokenEncoder image_token_encoder(const std::string& card_or_checkpoint,
                                         const std::string& modality, std::int64_t head_dim) {
  const std::string name = ModalityRegistry::instance().get(modality).name;
  auto tokenizer =
      std::make_shared<ImageTokenizer>(ImageTokenizer::open(card_or_checkpoint, name, head_dim));
  const std::string card_modality =
      ModalityRegistry::instance().get(tokenizer->card().modality).name;
  if (card_modality != name)
    throw std::invalid_argument(card_or_checkpoint + ": a " + card_modality +
                                " tokenizer, given for " + name);
  shards::TokenEncoder encoder;
  encoder.tokenizer_name = std::filesystem::path(card_or_checkpoint).filename().string() + " (" +
                           tokenizer->card().name + ")";
  encoder.vocabulary = tokenizer->vocab_size();
  encoder.encode = [tokenizer](const shards::Array& pixels, int& grid_h, int& grid_w) {
    torch::NoGradGuard no_grad;
    const at::Tensor x = array_tensor(pixels, true).unsqueeze(0);  // [1, C, H, W]
    const at::Tensor valid = at::isfinite(x);
    const at::Tensor z = at::where(
        valid, tokenizer->standardise(at::where(valid, x, at::zeros_like(x))), at::zeros_like(x));
    const at::Tensor tokens = tokenizer->encode(z).to(at::kLong).contiguous();  // [1, h, w]
    grid_h = static_cast<int>(tokens.size(1));
    grid_w = static_cast<int>(tokens.size(2));
    const auto* p = tokens.data_ptr<int64_t>();
    return std::vector<std::int64_t>(p, p + tokens.numel());
  };
  return encoder;
}

}  // namespace terramind::training
