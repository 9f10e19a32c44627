// Finite scalar quantization (TerraMind tokenizers), matching the reference float32 arithmetic:
// torch.round is round-half-to-even, and codes are n / (L - 1) as a float32 division.
#include <limits>

#include "tm/ascii_strings.h"
#include "tm/model.h"

namespace terramind {

FsqQuantizer::FsqQuantizer(std::vector<int> levels) : levels_(std::move(levels)) {
  if (levels_.empty()) throw std::invalid_argument("FSQ: no levels given");
  for (int level : levels_) {
    if (level < 2)
      throw std::invalid_argument("FSQ: every level must be >= 2, got " + join(levels_, "-"));
    basis_.push_back(codebook_size_);
    codebook_size_ *= level;
    if (codebook_size_ > std::numeric_limits<int32_t>::max())
      throw std::invalid_argument("FSQ: codebook " + join(levels_, "-") + " exceeds int32");
  }
}

at::Tensor FsqQuantizer::basis() const { return at::tensor(basis_, at::kLong).to(at::kInt); }

at::Tensor FsqQuantizer::codebook() const {
  return indices_to_codes(at::arange(codebook_size_, at::kLong));
}

at::Tensor FsqQuantizer::steps(const at::Device& device) const {
  std::vector<float> steps(levels_.begin(), levels_.end());
  for (float& step : steps) step -= 1.0f;
  return at::tensor(steps, at::kFloat).to(device);
}

at::Tensor FsqQuantizer::basis_float(const at::Device& device) const {
  return at::tensor(basis_, at::kLong).to(device, at::kFloat);
}

FsqQuantizer::Result FsqQuantizer::forward(const at::Tensor& latent) const {
  if (latent.dim() != 4 || latent.size(1) != num_channels())
    throw std::invalid_argument("FSQ " + join(levels_, "-") + ": latent must be [B, " +
                                std::to_string(num_channels()) + ", H, W], got " +
                                c10::str(latent.sizes()));
  if (!at::isFloatingType(latent.scalar_type()))
    throw std::invalid_argument("FSQ: latent must be floating point");
  const int64_t channels = num_channels();
  const at::Tensor steps_c = steps(latent.device()).view({1, channels, 1, 1});
  // Same op order as the reference: sigmoid, scale, round, then divide back.
  const at::Tensor digits = at::round(at::sigmoid(latent.to(at::kFloat)) * steps_c);
  Result result;
  result.codes = digits / steps_c;
  result.tokens =
      (digits * basis_float(latent.device()).view({1, channels, 1, 1})).sum(1).to(at::kInt);
  return result;
}

void FsqQuantizer::check_indices(const at::Tensor& indices) const {
  if (!at::isIntegralType(indices.scalar_type(), /*includeBool=*/false))
    throw std::invalid_argument("FSQ: token indices must be integers, got " +
                                std::string(c10::toString(indices.scalar_type())));
  if (indices.numel() == 0) return;
  const int64_t low = indices.min().item<int64_t>();
  const int64_t high = indices.max().item<int64_t>();
  if (low < 0 || high >= codebook_size_)
    throw std::out_of_range("FSQ " + join(levels_, "-") + ": token index " +
                            std::to_string(low < 0 ? low : high) + " outside the vocabulary [0, " +
                            std::to_string(codebook_size_) + ")");
}

at::Tensor FsqQuantizer::indices_to_codes(const at::Tensor& indices) const {
  check_indices(indices);
  const at::Device device = indices.device();
  const at::Tensor basis_long = at::tensor(basis_, at::kLong).to(device);
  const at::Tensor levels_long =
      at::tensor(std::vector<int64_t>(levels_.begin(), levels_.end()), at::kLong).to(device);
  const at::Tensor digits =
      at::remainder(at::div(indices.to(at::kLong).unsqueeze(-1), basis_long, "floor"), levels_long);
  return digits.to(at::kFloat) / steps(device);
}

at::Tensor FsqQuantizer::indices_to_embedding(const at::Tensor& indices) const {
  if (indices.dim() != 3)
    throw std::invalid_argument("FSQ: token grid must be [B, H, W], got " +
                                c10::str(indices.sizes()));
  return indices_to_codes(indices).permute({0, 3, 1, 2}).contiguous();
}

at::Tensor FsqQuantizer::codes_to_indices(const at::Tensor& codes) const {
  if (codes.dim() < 1 || codes.size(-1) != num_channels())
    throw std::invalid_argument("FSQ " + join(levels_, "-") + ": codes must be [..., " +
                                std::to_string(num_channels()) + "], got " +
                                c10::str(codes.sizes()));
  if (!at::isFloatingType(codes.scalar_type()))
    throw std::invalid_argument("FSQ: codes must be floating point");
  const at::Tensor steps_c = steps(codes.device());
  const at::Tensor digits = at::round(codes.to(at::kFloat) * steps_c);
  // Written so that NaN codes fail too.
  if (!((digits >= 0) & (digits <= steps_c)).all().item<bool>())
    throw std::invalid_argument("FSQ: codes outside [0, 1]");
  return (digits * basis_float(codes.device())).sum(-1).to(at::kInt);
}

}  // namespace terramind
