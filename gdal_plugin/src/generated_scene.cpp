// On-demand generation: the windows covering a block, from the cache or the model, blended with
// generate_scene's weights and arithmetic.
#include "generated_scene.h"

#include <cpl_vsi.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <stdexcept>

namespace terramind::gdal_plugin {
namespace {

// Blocks narrower than this would make GDAL's per-block overhead dominate.
constexpr int kMinBlockSize = 64;

// Size and modification time, so a rewritten input never serves stale cached windows.
std::string file_stamp(const std::string& path) {
  VSIStatBufL st{};
  if (VSIStatL(path.c_str(), &st) != 0) return "?";
  return std::to_string(st.st_size) + "@" + std::to_string(static_cast<long long>(st.st_mtime));
}

std::string scene_key(const GenerationSettings& s, const std::string& runtime_path) {
  std::string key = runtime_path + '\n' + runtime_settings_json(s) + '\n' + s.targets.at(0);
  for (const SceneInput& input : s.inputs)
    key += '\n' + input.modality + '=' + input.path + '#' + file_stamp(input.path);
  key += '\n' + std::to_string(s.window_size) + '/' + std::to_string(s.overlap) + '/' +
         to_string(s.weighting) + '/' + to_string(s.edge) + '/' + std::to_string(s.overview_levels);
  return key;
}

struct SceneTable {
  std::mutex mutex;
  std::map<std::string, std::weak_ptr<GeneratedScene>> scenes;
};

SceneTable& scene_table() {
  static auto* table = new SceneTable();  // leaked: scenes own models (see shared_model.cpp)
  return *table;
}

// Grid rows (or columns) whose windows reach into [begin, begin + length).
std::vector<int> covering(const std::vector<int>& origins, int window, int begin, int length) {
  std::vector<int> out;
  for (int i = 0; i < static_cast<int>(origins.size()); ++i)
    if (origins[i] < begin + length && origins[i] + window > begin) out.push_back(i);
  return out;
}

}  // namespace

// One window read and prepared for the model, waiting for its batch.
struct GeneratedScene::PreparedWindow {
  std::size_t slot;  // index in fetch()'s output
  WindowKey key;
  PixelWindow window;
  std::vector<std::vector<float>> values;         // per input: [channel][row][col]
  std::vector<std::vector<std::uint8_t>> valids;  // per input: [row][col]
  std::vector<std::uint8_t> valid;                // any input holds data
};

std::vector<int> overview_factors(int width, int height, int window_size, int levels) {
  auto largest_side = [&](int factor) {
    return std::max((width + factor - 1) / factor, (height + factor - 1) / factor);
  };
  std::vector<int> factors;
  int factor = 1;
  if (levels < 0) {
    while (largest_side(factor) > window_size && factor < (1 << 20)) factors.push_back(factor *= 2);
  } else {
    for (int i = 0; i < levels && largest_side(factor) > 1; ++i) factors.push_back(factor *= 2);
  }
  return factors;
}

std::shared_ptr<GeneratedScene> GeneratedScene::acquire(const GenerationSettings& settings,
                                                        const RasterInfo& source) {
  std::shared_ptr<SharedModel> model = acquire_model(settings);
  const std::string key = scene_key(settings, model->runtime_path());
  SceneTable& table = scene_table();
  std::lock_guard<std::mutex> lock(table.mutex);
  std::shared_ptr<GeneratedScene> scene = table.scenes[key].lock();
  if (!scene) {
    scene = std::make_shared<GeneratedScene>(settings, source, std::move(model));
    table.scenes[key] = scene;
  }
  scene->cache_.reserve(static_cast<std::size_t>(settings.cache_mb) << 20);
  return scene;
}

GeneratedScene::GeneratedScene(const GenerationSettings& settings, const RasterInfo& source,
                               std::shared_ptr<SharedModel> model)
    : settings_(settings),
      model_(std::move(model)),
      block_size_(settings.window_size - settings.overlap),
      cache_(static_cast<std::size_t>(settings.cache_mb) << 20) {
  const std::string& target = settings_.targets.at(0);
  model_->locked([&](WindowModel& m) {
    // The checks of generate_scene: inputs, target and window size.
    RunPlan plan = validate_run(m, settings_.inputs, {target}, settings_.window_size);
    standardise_ = plan.standardise;
    spec_ = std::move(plan.targets.front());
    provenance_ = output_provenance(m, settings_.inputs, engine_options(settings_), target);
  });
  if (spec_.name.empty()) spec_.name = target;

  const int w = source.width, h = source.height, size = settings_.window_size;
  std::vector<int> factors = overview_factors(w, h, size, settings_.overview_levels);
  factors.insert(factors.begin(), 1);
  for (const int f : factors) {
    const WindowGrid grid((w + f - 1) / f, (h + f - 1) / f, size, settings_.overlap);
    levels_.push_back({f, grid, BlendWeights(grid, settings_.weighting)});
  }
  while (block_size_ < kMinBlockSize) block_size_ += settings_.window_size - settings_.overlap;
  generated_ = std::make_unique<std::atomic<std::size_t>[]>(levels_.size());
  for (std::size_t i = 0; i < levels_.size(); ++i) generated_[i] = 0;
}

BlendedBlock GeneratedScene::blend(int level_index, const PixelWindow& area,
                                   const LevelInputs& inputs) {
  const DetailLevel& level = levels_.at(level_index);
  const WindowGrid& grid = level.grid;
  const int size = grid.window_size();
  std::vector<GridCell> cells;  // row-major, the order BlendAccumulator adds windows in
  for (const int r : covering(grid.row_origins(), size, area.y, area.height))
    for (const int c : covering(grid.col_origins(), size, area.x, area.width))
      cells.push_back({r, c});
  const auto windows = fetch(level_index, cells, inputs);

  // The blend arithmetic of generate_scene (blend_add, blend_normalise), in the same window order.
  const int channels = spec_.channels;
  const std::size_t plane = static_cast<std::size_t>(area.width) * area.height;
  std::vector<double> sums(plane * channels, 0.0), weights(plane, 0.0);
  const BlendSums into{area, channels, 0, sums.data(), weights.data()};
  for (std::size_t k = 0; k < cells.size(); ++k) {
    const GeneratedWindow& window = *windows[k];
    if (window.skipped) continue;
    blend_add(into, grid, level.weights, cells[k].row, cells[k].col, window.values.data(),
              window.valid.data());
  }

  BlendedBlock out;
  out.area = area;
  out.channels = channels;
  out.values.resize(plane * channels);
  out.valid.resize(plane);
  blend_normalise(into, area.y, area.height, out.values.data(), out.valid.data(), false);
  return out;
}

std::vector<std::shared_ptr<const GeneratedWindow>> GeneratedScene::fetch(
    int level, const std::vector<GridCell>& cells, const LevelInputs& inputs) {
  const WindowGrid& grid = levels_.at(level).grid;
  const std::size_t plane = static_cast<std::size_t>(grid.window_size()) * grid.window_size();
  std::vector<std::shared_ptr<const GeneratedWindow>> out(cells.size());
  std::vector<PreparedWindow> pending;
  CellReader reader(inputs, settings_.edge, standardise_);  // generate_scene's read stage
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const WindowKey key{level, cells[i].row, cells[i].col};
    if ((out[i] = cache_.find(key))) continue;
    const PixelWindow window = grid.window(cells[i].row, cells[i].col);
    if (!reader.read(window)) {  // nothing to generate from: the window adds nothing
      auto skipped = std::make_shared<GeneratedWindow>();
      skipped->skipped = true;
      cache_.insert(key, skipped);
      out[i] = std::move(skipped);
      ++skipped_;
      continue;
    }
    PreparedWindow prepared{i, key, window, {}, {}, std::vector<std::uint8_t>(plane)};
    for (std::size_t j = 0; j < inputs.size(); ++j) {
      prepared.values.emplace_back(static_cast<std::size_t>(inputs[j].modality->channels()) *
                                   plane);
      prepared.valids.emplace_back(plane);
      reader.prepare(j, prepared.values[j].data(), prepared.valids[j].data());
    }
    reader.any_valid(prepared.valid.data());
    pending.push_back(std::move(prepared));
    if (pending.size() == static_cast<std::size_t>(settings_.batch_size)) {
      generate(level, pending, out);
      pending.clear();
    }
  }
  if (!pending.empty()) generate(level, pending, out);
  return out;
}

void GeneratedScene::generate(int level, std::vector<PreparedWindow>& pending,
                              std::vector<std::shared_ptr<const GeneratedWindow>>& out) {
  const int size = levels_.at(level).grid.window_size();
  const std::size_t plane = static_cast<std::size_t>(size) * size;
  model_->locked([&](WindowModel& model) {
    // Another dataset may have generated some of them while this one was reading.
    std::vector<PreparedWindow*> todo;
    for (PreparedWindow& p : pending)
      if (!(out[p.slot] = cache_.find(p.key))) todo.push_back(&p);
    if (todo.empty()) return;

    InputBatch batch;
    batch.count = static_cast<int>(todo.size());
    batch.window_size = size;
    for (const PreparedWindow* p : todo) batch.windows.push_back(p->window);
    batch.inputs.resize(settings_.inputs.size());
    for (std::size_t j = 0; j < batch.inputs.size(); ++j) {
      InputTensor& tensor = batch.inputs[j];
      tensor.modality = settings_.inputs[j].modality;
      tensor.channels = static_cast<int>(todo.front()->values[j].size() / plane);
      for (const PreparedWindow* p : todo) {
        tensor.values.insert(tensor.values.end(), p->values[j].begin(), p->values[j].end());
        tensor.valid.insert(tensor.valid.end(), p->valids[j].begin(), p->valids[j].end());
      }
    }
    OutputBatch outputs;
    outputs.targets.resize(1);
    OutputTensor& tensor = outputs.targets.front();
    tensor.target = spec_.name;
    tensor.channels = spec_.channels;
    const std::size_t per_window = static_cast<std::size_t>(spec_.channels) * plane;
    tensor.values.assign(todo.size() * per_window, 0.0f);

    model.infer(batch, outputs);
    ++model_calls_;
    if (outputs.targets.size() != 1 ||
        outputs.targets.front().values.size() != todo.size() * per_window)
      throw std::logic_error("the model resized its output for " + spec_.name);

    const std::vector<float>& values = outputs.targets.front().values;
    for (std::size_t k = 0; k < todo.size(); ++k) {
      auto window = std::make_shared<GeneratedWindow>();
      window->values.assign(values.begin() + k * per_window, values.begin() + (k + 1) * per_window);
      window->valid = std::move(todo[k]->valid);
      cache_.insert(todo[k]->key, window);
      out[todo[k]->slot] = std::move(window);
    }
    generated_[level] += todo.size();
  });
}

SceneStatistics GeneratedScene::statistics() const {
  SceneStatistics s;
  for (std::size_t i = 0; i < levels_.size(); ++i) s.generated_per_level.push_back(generated_[i]);
  s.skipped = skipped_;
  s.model_calls = model_calls_;
  s.cache_hits = cache_.hits();
  s.cache_entries = cache_.entries();
  s.cache_bytes = cache_.bytes();
  return s;
}

}  // namespace terramind::gdal_plugin
