#include "ddim_sampler.h"

#include <stdexcept>
#include <string>

namespace terramind {

std::vector<int64_t> ddim_timesteps(int64_t steps, int64_t train_timesteps) {
  if (steps < 1 || steps > train_timesteps)
    throw std::invalid_argument("diffusion steps must be in [1, " +
                                std::to_string(train_timesteps) + "], got " +
                                std::to_string(steps));
  // "trailing": arange(T, 0, -T // N) - 1; N values that do not divide T give one extra step.
  const int64_t stride = train_timesteps / steps;
  std::vector<int64_t> out;
  for (int64_t t = train_timesteps; t > 0; t -= stride) out.push_back(t - 1);
  return out;
}

namespace net {

namespace {

// Lin et al. 2023, in the reference's float32 operation order.
torch::Tensor enforce_zero_terminal_snr(const torch::Tensor& betas) {
  const auto alphas = 1 - betas;
  const auto alphas_bar = alphas.cumprod(0);
  auto root = alphas_bar.sqrt();
  const auto first = root[0].clone();
  const auto last = root[-1].clone();
  root -= last;
  root *= first / (first - last);
  const auto bar = root.pow(2);
  const auto ratios = bar.slice(0, 1) / bar.slice(0, 0, -1);
  return 1 - torch::cat({bar.slice(0, 0, 1), ratios});
}

}  // namespace

DdimSampler::DdimSampler(const DiffusionConfig& config) : config_(config) {
  auto betas =
      torch::linspace(config.beta_start, config.beta_end, config.train_timesteps, torch::kFloat32);
  if (config.zero_terminal_snr) betas = enforce_zero_terminal_snr(betas);
  alphas_cumprod_ = torch::cumprod(1.0 - betas, 0);
}

std::vector<int64_t> DdimSampler::timesteps(int64_t steps) const {
  return ddim_timesteps(steps, config_.train_timesteps);
}

torch::Tensor DdimSampler::step(const torch::Tensor& model_output, int64_t timestep,
                                const torch::Tensor& x_t, int64_t steps, bool clamp) const {
  const int64_t prev = timestep - config_.train_timesteps / steps;
  // 0-dim float32 tensors as in the reference (set_alpha_to_one: 1 before the first timestep).
  const auto alpha_t = alphas_cumprod_[timestep];
  const auto alpha_prev = prev >= 0 ? alphas_cumprod_[prev] : torch::ones({}, torch::kFloat32);
  const auto beta_t = 1 - alpha_t;
  const auto x0 = model_output.to(torch::kFloat32);
  // The noise estimate comes from the unclamped x0, the update uses the clamped one.
  const auto eps =
      (x_t - alpha_t.pow(0.5).to(x_t.device()) * x0) / beta_t.pow(0.5).to(x_t.device());
  const auto x0_used = clamp ? x0.clamp(-1.0, 1.0) : x0;
  // eta = 0: no variance term and no fresh noise.
  const auto direction = (1 - alpha_prev).pow(0.5).to(x_t.device()) * eps;
  return alpha_prev.pow(0.5).to(x_t.device()) * x0_used + direction;
}

torch::Tensor DdimSampler::sample(const torch::Tensor& noise, int64_t steps,
                                  const Denoiser& denoise, bool clamp,
                                  const std::function<void(const DiffusionStep&)>& on_step) const {
  const auto schedule = timesteps(steps);
  torch::Tensor x = noise.to(torch::kFloat32);
  for (std::size_t i = 0; i < schedule.size(); ++i) {
    const int64_t t = schedule[i];
    const auto x0 = denoise(x, t);
    x = step(x0, t, x, steps, clamp);
    if (on_step) {
      DiffusionStep report;
      report.index = static_cast<int64_t>(i);
      report.count = static_cast<int64_t>(schedule.size());
      report.timestep = t;
      report.model_output = x0;
      report.sample = x;
      on_step(report);
    }
  }
  return x;
}

}  // namespace net
}  // namespace terramind
