// AdamW (Loshchilov & Hutter) in torch.optim.AdamW's operation order, with state by name.
#include "tm/trainer.h"

namespace terramind::training {

AdamW::AdamW(std::vector<Group> groups, double beta1, double beta2, double eps)
    : groups_(std::move(groups)), beta1_(beta1), beta2_(beta2), eps_(eps) {}

void AdamW::zero_grad() {
  for (auto& g : groups_)
    for (auto& p : g.params)
      if (p.grad().defined()) p.mutable_grad() = at::Tensor();
}

void AdamW::step(double lr) {
  torch::NoGradGuard no_grad;
  ++steps_;
  const double bias1 = 1 - std::pow(beta1_, double(steps_));
  const double bias2 = 1 - std::pow(beta2_, double(steps_));
  for (auto& g : groups_)
    for (std::size_t i = 0; i < g.params.size(); ++i) {
      auto& p = g.params[i];
      if (!p.grad().defined()) continue;
      const auto& grad = p.grad();
      auto& m = exp_avg_[g.names[i]];
      auto& v = exp_avg_sq_[g.names[i]];
      if (!m.defined()) {
        m = torch::zeros_like(p);
        v = torch::zeros_like(p);
      }
      p.mul_(1 - lr * g.weight_decay);
      m.lerp_(grad, 1 - beta1_);
      v.mul_(beta2_).addcmul_(grad, grad, 1 - beta2_);
      const auto denom = (v.sqrt() / std::sqrt(bias2)).add_(eps_);
      p.addcdiv_(m, denom, -lr / bias1);
    }
}

std::map<std::string, at::Tensor> AdamW::state() const {
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, t] : exp_avg_) out["exp_avg/" + name] = t;
  for (const auto& [name, t] : exp_avg_sq_) out["exp_avg_sq/" + name] = t;
  out["step"] = torch::tensor(steps_, torch::kLong);
  return out;
}

void AdamW::load_state(const std::map<std::string, at::Tensor>& state) {
  const auto step = state.find("step");
  if (step == state.end()) throw TrainingError("optimiser state without 'step'");
  steps_ = step->second.item<std::int64_t>();
  exp_avg_.clear();
  exp_avg_sq_.clear();
  for (const auto& g : groups_)
    for (std::size_t i = 0; i < g.params.size(); ++i) {
      const auto m = state.find("exp_avg/" + g.names[i]);
      const auto v = state.find("exp_avg_sq/" + g.names[i]);
      if (m == state.end() || v == state.end()) {
        if (steps_ > 0 && (m != state.end() || v != state.end()))
          throw TrainingError("optimiser state incomplete for " + g.names[i]);
        continue;  // never had a gradient
      }
      if (m->second.sizes() != g.params[i].sizes())
        throw TrainingError("optimiser state of " + g.names[i] + " has shape " +
                            c10::str(m->second.sizes()) + ", the parameter " +
                            c10::str(g.params[i].sizes()));
      exp_avg_[g.names[i]] = m->second.to(g.params[i].device()).clone();
      exp_avg_sq_[g.names[i]] = v->second.to(g.params[i].device()).clone();
    }
}

}  // namespace terramind::training
