#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tm/ascii_strings.h"
#include "tm/runtime.h"

namespace terramind {
namespace {

// An options key the runtime does not know; passed on as it is, not as a bad number.
class UnknownRuntimeOption : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace

void validate(const RuntimeSettings& s) {
  auto refuse = [](const std::string& what) { throw std::invalid_argument(what); };
  if (s.model.empty()) refuse("no model given");
  if (!std::isfinite(s.temperature) || s.temperature < 0)
    refuse("temperature must be a finite number >= 0 (0: greedy), got " +
           std::to_string(s.temperature));
  if (!(s.top_p >= 0 && s.top_p <= 1))  // also refuses NaN
    refuse("top-p must be in [0, 1] (0: off), got " + std::to_string(s.top_p));
  if (s.top_k < 0) refuse("top-k must be >= 0 (0: off), got " + std::to_string(s.top_k));
  if (s.diffusion_steps < 1 || s.diffusion_steps > 1000)
    refuse("steps (diffusion decoder) must be in [1, 1000], got " +
           std::to_string(s.diffusion_steps));
  if (s.decoding_steps < 1 || s.decoding_steps > 4096)
    refuse("decoding steps must be in [1, 4096], got " + std::to_string(s.decoding_steps));
  if (s.threads < 0 || s.threads > 4096)
    refuse("threads must be in [0, 4096] (0: all cores), got " + std::to_string(s.threads));
  if (s.head_dim < 1 || s.head_dim > 4096)
    refuse("head dim must be in [1, 4096], got " + std::to_string(s.head_dim));
  for (const auto& t : s.targets)
    if (t.empty()) refuse("an empty target name was given");
}

RuntimeSettings runtime_settings_from_json(const std::string& json_text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("runtime settings are not valid JSON: ") + e.what());
  }
  RuntimeSettings s;
  try {
    s.model = j.value("model", "");
    s.diffusion_steps = j.value("steps", s.diffusion_steps);
    s.seed = j.value("seed", s.seed);
    s.device = j.value("device", s.device);
    s.threads = j.value("threads", s.threads);
    const nlohmann::json options = j.value("options", nlohmann::json::object());
    for (const auto& [key, value] : options.items()) {
      const std::string v = value.is_string() ? value.get<std::string>() : value.dump();
      if (key == "temperature")
        s.temperature = std::stod(v);
      else if (key == "top_p")
        s.top_p = std::stod(v);
      else if (key == "top_k")
        s.top_k = std::stoll(v);
      else if (key == "decoding_steps")
        s.decoding_steps = std::stoll(v);
      else if (key == "head_dim")
        s.head_dim = std::stoll(v);
      else if (key == "clamp")
        s.clamp = v == "true" || v == "1" || v == "yes";
      else if (key == "chain")
        s.chain_targets = v == "true" || v == "1" || v == "yes";
      else if (key == "targets")
        s.targets = split(v, ',');
      else
        throw UnknownRuntimeOption("unknown runtime option '" + key +
                                   "' (temperature, top_p, top_k, decoding_steps, head_dim, "
                                   "clamp, chain, targets)");
    }
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("runtime settings: ") + e.what());
  } catch (const UnknownRuntimeOption&) {
    throw;
  } catch (const std::logic_error& e) {  // stod/stoll
    throw std::invalid_argument(std::string("runtime settings: bad number: ") + e.what());
  }
  return s;
}

}  // namespace terramind
