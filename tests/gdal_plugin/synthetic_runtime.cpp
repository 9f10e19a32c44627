// libtm_runtime_synthetic.so: the runtime API (gdal_plugin/tm_runtime_api.h) over SyntheticModel,
// plus counters the tests read to check model sharing.
#include <atomic>
#include <cstring>
#include <exception>
#include <nlohmann/json.hpp>
#include <string>

#include "synthetic_model.h"
#include "tm_runtime_api.h"

namespace {

std::atomic<int> open_models{0};
std::atomic<int> models_opened{0};

void set_error(char* error, std::size_t size, const std::string& message) {
  if (!error || size == 0) return;
  const std::size_t n = std::min(size - 1, message.size());
  std::memcpy(error, message.data(), n);
  error[n] = '\0';
}

// Settings: model must be "synthetic"; steps, device and threads are accepted and ignored; seed
// shifts the outputs; options "fail" and "delay_ms" drive the error and concurrency tests.
terramind::WindowModel* open_model(const char* settings_json, char* error,
                                   std::size_t error_size) noexcept {
  try {
    const auto settings = nlohmann::json::parse(settings_json);
    const std::string model = settings.value("model", "");
    if (model != "synthetic") {
      set_error(error, error_size,
                model.empty() ? "no model given (the synthetic runtime serves model=synthetic)"
                              : "unknown model '" + model +
                                    "' (the synthetic runtime serves "
                                    "model=synthetic)");
      return nullptr;
    }
    terramind::testing::SyntheticSettings synthetic;
    synthetic.seed = static_cast<double>(settings.value("seed", std::int64_t{0}));
    if (const auto options = settings.find("options"); options != settings.end())
      for (const auto& [key, value] : options->items()) {
        if (key == "fail") {
          synthetic.fail = value.get<std::string>() == "1";
        } else if (key == "delay_ms") {
          synthetic.delay_ms = std::stoi(value.get<std::string>());
        } else {
          // The value as it arrived, for the tests of option spelling.
          set_error(error, error_size,
                    "unknown runtime option '" + key + "' (value '" +
                        (value.is_string() ? value.get<std::string>() : value.dump()) +
                        "'; the synthetic runtime takes fail, delay_ms)");
          return nullptr;
        }
      }
    ++open_models;
    ++models_opened;
    return new terramind::testing::SyntheticModel(synthetic);
  } catch (const std::exception& e) {
    set_error(error, error_size, std::string("bad settings: ") + e.what());
    return nullptr;
  }
}

void close_model(terramind::WindowModel* model) noexcept {
  delete model;
  --open_models;
}

}  // namespace

TM_RUNTIME_EXPORT const TmRuntimeApi* tm_runtime_get_api(std::uint32_t wanted_version) {
  static const TmRuntimeApi api =
      terramind::make_runtime_api("synthetic test runtime", open_model, close_model);
  return wanted_version == TM_RUNTIME_API_VERSION ? &api : nullptr;
}

// For the tests: models open now, and opened in total.
TM_RUNTIME_EXPORT int tm_synthetic_open_models() { return open_models; }
TM_RUNTIME_EXPORT int tm_synthetic_models_opened() { return models_opened; }
