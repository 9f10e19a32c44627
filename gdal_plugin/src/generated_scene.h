// A generated scene: one target of one model over one set of inputs, at full resolution and at
// each overview level. Shared by every dataset opened with the same settings (window cache and
// model included); the datasets bring their own input readers.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "generation_settings.h"
#include "level_inputs.h"
#include "shared_model.h"
#include "window_cache.h"

namespace terramind::gdal_plugin {

// Blended values of a pixel rectangle, all channels: as BlendAccumulator hands them out.
struct BlendedBlock {
  PixelWindow area;
  int channels = 0;
  std::vector<float> values;        // [channel][row][col], NaN where no window contributed
  std::vector<std::uint8_t> valid;  // [row][col]
};

// One level of detail: level 0 is the source grid, level k the source averaged down by 2^k.
struct DetailLevel {
  int factor;
  WindowGrid grid;
  BlendWeights weights;
};

struct SceneStatistics {
  std::vector<std::size_t> generated_per_level;  // windows passed to the model
  std::size_t skipped = 0;                       // windows without any input data
  std::size_t model_calls = 0;
  std::size_t cache_hits = 0;
  std::size_t cache_entries = 0;
  std::size_t cache_bytes = 0;
};

class GeneratedScene {
 public:
  // The scene for the settings' single target on the grid of `source` (the first input), created
  // on first use: loads the runtime and model and checks that the model takes every input and
  // offers the target. Throws std::exception with a message naming the problem.
  static std::shared_ptr<GeneratedScene> acquire(const GenerationSettings& settings,
                                                 const RasterInfo& source);

  GeneratedScene(const GenerationSettings& settings, const RasterInfo& source,
                 std::shared_ptr<SharedModel> model);

  const GenerationSettings& settings() const { return settings_; }
  const TargetSpec& spec() const { return spec_; }
  const SharedModel& model() const { return *model_; }
  // What tm_generate writes into its output for the same settings (output_provenance), made
  // when the scene is created.
  const OutputProvenance& provenance() const { return provenance_; }
  int level_count() const { return static_cast<int>(levels_.size()); }
  const DetailLevel& level(int index) const { return levels_.at(index); }
  // Block edge in pixels: the window stride, so blocks start where windows start.
  int block_size() const { return block_size_; }

  // Blends `area` (inside the level's raster) from the windows covering it, generating the ones
  // not cached with `inputs` (the caller's readers for that level). Bit-identical to what
  // generate_scene writes. Thread-safe; the model runs one batch at a time.
  BlendedBlock blend(int level, const PixelWindow& area, const LevelInputs& inputs);

  SceneStatistics statistics() const;

 private:
  struct PreparedWindow;
  std::vector<std::shared_ptr<const GeneratedWindow>> fetch(int level,
                                                            const std::vector<GridCell>& cells,
                                                            const LevelInputs& inputs);
  void generate(int level, std::vector<PreparedWindow>& pending,
                std::vector<std::shared_ptr<const GeneratedWindow>>& out);

  GenerationSettings settings_;
  std::shared_ptr<SharedModel> model_;
  TargetSpec spec_;
  OutputProvenance provenance_;
  std::optional<StatsVersion> standardise_;
  std::vector<DetailLevel> levels_;
  int block_size_;
  WindowCache cache_;
  std::unique_ptr<std::atomic<std::size_t>[]> generated_;  // per level
  std::atomic<std::size_t> skipped_{0};
  std::atomic<std::size_t> model_calls_{0};
};

// Overview factors for a raster of width x height: 2, 4, ... while a level is larger than one
// window (automatic), or exactly `levels` of them.
std::vector<int> overview_factors(int width, int height, int window_size, int levels);

}  // namespace terramind::gdal_plugin
