// The process-wide table of open models.
#include "shared_model.h"

#include <map>
#include <stdexcept>

namespace terramind::gdal_plugin {
namespace {

struct ModelTable {
  std::mutex mutex;
  std::map<std::string, std::weak_ptr<SharedModel>> models;
  std::shared_ptr<SharedModel> most_recent;  // kept open while idle
};

// Leaked on purpose: destroying it at exit would call into a runtime whose own statics (LibTorch)
// may already be gone.
ModelTable& table() {
  static auto* instance = new ModelTable();
  return *instance;
}

}  // namespace

SharedModel::SharedModel(const RuntimeLibrary& runtime, WindowModel* model)
    : api_(runtime.api),
      model_(model),
      runtime_path_(runtime.path),
      description_(runtime.api->description ? runtime.api->description : "") {}

SharedModel::~SharedModel() { api_->close_model(model_); }

std::shared_ptr<SharedModel> acquire_model(const GenerationSettings& settings) {
  const RuntimeLibrary& runtime = load_runtime();
  const std::string json = runtime_settings_json(settings);
  const std::string key = runtime.path + '\n' + json;
  ModelTable& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  std::shared_ptr<SharedModel> model = t.models[key].lock();
  if (!model) {
    WindowModel* opened = open_runtime_model(runtime, json).release();
    model = std::make_shared<SharedModel>(runtime, opened);
    t.models[key] = model;
  }
  t.most_recent = model;
  return model;
}

void release_idle_models() {
  std::shared_ptr<SharedModel> idle;
  {
    ModelTable& t = table();
    std::lock_guard<std::mutex> lock(t.mutex);
    idle.swap(t.most_recent);
  }  // closed outside the lock if nobody else holds it
}

}  // namespace terramind::gdal_plugin
