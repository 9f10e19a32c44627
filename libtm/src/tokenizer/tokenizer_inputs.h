// What the tokenizers take as input (internal to tm_model), shared by ImageTokenizer and
// TrainableTokenizer.
#pragma once

#include <torch/torch.h>

#include <string>

namespace terramind::detail {

// Class indices [B, H, W] or [B, 1, H, W] -> one-hot float [B, K, H, W]; values must be whole
// numbers in [0, K). std::invalid_argument naming `who` otherwise.
at::Tensor one_hot_classes(const at::Tensor& indices, int64_t classes, const std::string& who);

}  // namespace terramind::detail
