// One model instance per runtime and model settings, shared by every dataset that uses it.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "generation_settings.h"
#include "runtime_loader.h"

namespace terramind::gdal_plugin {

class SharedModel {
 public:
  SharedModel(const RuntimeLibrary& runtime, WindowModel* model);
  ~SharedModel();
  SharedModel(const SharedModel&) = delete;
  SharedModel& operator=(const SharedModel&) = delete;

  // Runs fn(model) with the model locked: WindowModel::infer is called from one thread at a time,
  // and the other members are serialised with it for runtimes that are not thread-safe at all.
  template <typename Fn>
  auto locked(Fn&& fn) {
    std::lock_guard<std::mutex> lock(mutex_);
    return fn(*model_);
  }
  const std::string& runtime_path() const { return runtime_path_; }
  const std::string& runtime_description() const { return description_; }

 private:
  const TmRuntimeApi* api_;
  WindowModel* model_;
  std::string runtime_path_;
  std::string description_;
  std::mutex mutex_;
};

// The model for `settings` (runtime_settings_json), opened through the runtime on first use and
// shared while any dataset holds it; the most recently used one also stays open when idle, so a
// layer closed and reopened (QGIS does that) does not reload it. Throws std::runtime_error with
// the runtime's reason.
std::shared_ptr<SharedModel> acquire_model(const GenerationSettings& settings);

// Drops the idle model kept open (driver unload).
void release_idle_models();

}  // namespace terramind::gdal_plugin
