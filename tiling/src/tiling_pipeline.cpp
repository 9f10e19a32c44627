// The streaming tiled-inference pipeline: read -> fill/normalise -> infer -> blend -> write as a
// TBB pipeline of batches in three stages (read, infer, blend + write), so reading the next batch
// and blending/writing the previous one overlap inference of the current one.
#include <oneapi/tbb/parallel_pipeline.h>
#include <oneapi/tbb/task_arena.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>

#include "run_checkpoint.h"
#include "run_resources.h"
#include "target_output.h"
#include "tm/checksum.h"
#include "tm/tiling.h"
#include "tm/window_engine.h"

namespace terramind {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Drops the rows of `strip` above `first_row` (an earlier run wrote them), in place.
void trim_rows_above(FinishedRows& strip, int first_row) {
  const int drop = std::clamp(first_row - strip.y0, 0, strip.rows);
  if (drop == 0) return;
  const std::size_t width = strip.width;
  const std::size_t old_plane = static_cast<std::size_t>(strip.rows) * width;
  const std::size_t new_plane = old_plane - static_cast<std::size_t>(drop) * width;
  for (int ch = 0; ch < strip.channels; ++ch) {
    const auto from = strip.values.begin() + ch * old_plane + (old_plane - new_plane);
    std::copy(from, from + new_plane, strip.values.begin() + ch * new_plane);
  }
  strip.values.resize(new_plane * strip.channels);
  strip.valid.erase(strip.valid.begin(), strip.valid.begin() + (old_plane - new_plane));
  strip.y0 += drop;
  strip.rows -= drop;
}

// One batch travelling through the pipeline. Tokens are recycled with their buffers: fresh
// multi-megabyte buffers per batch would cost more in page faults than a cheap model computes.
struct BatchToken {
  std::size_t end_index = 0;    // grid cells consumed up to here (skipped ones included)
  std::vector<GridCell> cells;  // cells passed to the model, row-major
  InputBatch inputs;
  std::vector<std::uint8_t> valid;  // per window: pixels where any input holds data
  OutputBatch outputs;
};
using Token = std::shared_ptr<BatchToken>;

// Tokens given back by the last pipeline stage (or dropped on cancellation) wait here for reuse.
class TokenPool : public std::enable_shared_from_this<TokenPool> {
 public:
  Token take() {
    std::unique_ptr<BatchToken> token;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!free_.empty()) {
        token = std::move(free_.back());
        free_.pop_back();
      }
    }
    if (!token) token = std::make_unique<BatchToken>();
    // The deleter keeps the pool alive, whoever drops the token last.
    return Token(token.release(), [pool = shared_from_this()](BatchToken* t) noexcept {
      std::unique_ptr<BatchToken> owned(t);
      try {
        std::lock_guard<std::mutex> lock(pool->mutex_);
        pool->free_.push_back(std::move(owned));
      } catch (...) {  // no room to keep it: let it go
      }
    });
  }

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<BatchToken>> free_;
};

class TiledRun {
 public:
  TiledRun(const std::vector<SceneInput>& inputs, WindowModel& model,
           const std::vector<TargetRequest>& targets, const TilingOptions& options);
  TilingSummary run();

 private:
  void size_batches();
  void prepare_targets(const std::vector<TargetRequest>& targets,
                       const std::vector<SceneInput>& inputs);
  Token read_batch();
  void infer(BatchToken& token);
  void blend_and_write(BatchToken& token);
  void finish_window_row(int row);
  std::string fingerprint(const std::vector<TargetRequest>& targets,
                          const std::vector<SceneInput>& inputs,
                          const std::vector<OutputProvenance>& provenance) const;
  bool load_checkpoint(const std::vector<TargetRequest>& targets);
  void start_after_resumed_rows();

  Clock::time_point start_ = Clock::now();  // opening and checks count as run time
  WindowModel& model_;
  TilingOptions options_;
  RunPlan plan_;  // the checked model, inputs and targets
  std::vector<OpenedInput> inputs_;
  std::optional<CellReader> cells_;  // read stage
  std::optional<WindowGrid> grid_;
  std::vector<TargetOutput> outputs_;
  std::vector<BlendAccumulator> accumulators_;
  std::vector<FinishedRows> strips_;  // per target, reused for every finished window row
  std::vector<std::string> warnings_;
  std::shared_ptr<TokenPool> pool_ = std::make_shared<TokenPool>();

  std::size_t next_index_ = 0;  // read stage
  std::size_t skipped_ = 0;
  std::size_t inferred_ = 0;
  std::size_t batches_ = 0;
  double model_seconds_ = 0.0;                 // infer stage
  int next_row_to_finish_ = 0;                 // blend stage
  std::unique_ptr<RunCheckpoint> checkpoint_;  // resume only
  int resumed_rows_ = 0;                       // raster rows an earlier run wrote
};

TiledRun::TiledRun(const std::vector<SceneInput>& inputs, WindowModel& model,
                   const std::vector<TargetRequest>& targets, const TilingOptions& options)
    : model_(model), options_(options) {
  if (options_.batch_size < 1)
    throw std::invalid_argument("batch size must be at least 1, got " +
                                std::to_string(options_.batch_size));
  std::vector<std::string> names;
  for (const TargetRequest& request : targets) names.push_back(request.target);
  plan_ = validate_run(model_, inputs, names, options_.window_size);
  options_.max_batches_in_flight = std::max(1, options_.max_batches_in_flight);
  inputs_ = open_scene_inputs(inputs, options_.open, "", &warnings_);
  cells_.emplace(inputs_, options_.edge, plan_.standardise);
  const RasterInfo& info = inputs_.front().reader.info();
  grid_.emplace(info.width, info.height, options_.window_size, options_.overlap);
  prepare_targets(targets, inputs);
  size_batches();
  start_after_resumed_rows();
}

// Windows are regenerated from the first window row that reaches below the rows already written:
// the rows it shares with earlier windows are blended anew but not written again.
void TiledRun::start_after_resumed_rows() {
  if (resumed_rows_ == 0) return;
  const WindowGrid& grid = *grid_;
  int first = 0;
  while (first < grid.rows()) {
    const PixelWindow fp = grid.footprint(first, 0);
    if (fp.y + fp.height > resumed_rows_) break;
    ++first;
  }
  for (BlendAccumulator& accumulator : accumulators_) accumulator.start_at(first);
  next_index_ = static_cast<std::size_t>(first) * grid.cols();
  next_row_to_finish_ = first;
}

// A batch larger than the scene only wastes memory; one whose buffers cannot fit is refused before
// any work (not a bad_alloc mid-run).
void TiledRun::size_batches() {
  options_.batch_size =
      static_cast<int>(std::min<std::size_t>(options_.batch_size, grid_->count()));
  const double plane = double(grid_->window_size()) * grid_->window_size();
  double per_window = plane;  // validity
  for (const auto& input : inputs_) per_window += plane * (4.0 * input.modality->channels() + 1);
  for (const auto& accumulator : accumulators_) per_window += plane * 4.0 * accumulator.channels();
  const double need = per_window * options_.batch_size * options_.max_batches_in_flight;
  const double have = physical_memory_bytes();
  if (have > 0 && need > 0.5 * have)
    throw std::invalid_argument(
        "batch " + std::to_string(options_.batch_size) + " needs " +
        std::to_string(static_cast<long long>(need / 1e6)) + " MB of window buffers (" +
        std::to_string(options_.max_batches_in_flight) +
        " batches in flight), more than half of "
        "this machine's " +
        std::to_string(static_cast<long long>(have / 1e6)) + " MB: use a smaller batch");
}

void TiledRun::prepare_targets(const std::vector<TargetRequest>& targets,
                               const std::vector<SceneInput>& inputs) {
  // validate_run has checked the targets themselves; here what the run makes of them.
  std::set<std::string> paths;
  for (const SceneInput& input : inputs) paths.insert(input.path);
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const TargetRequest& request = targets[i];
    const TargetSpec& spec = plan_.targets[i];
    if (!request.probabilities_path.empty() && !spec.is_classes)
      throw std::invalid_argument(request.target +
                                  " is not a class target: it has no "
                                  "probabilities to write");
    if (request.harmonise_offsets && spec.is_classes)
      throw std::invalid_argument(
          "offset harmonisation applies to continuous targets, not to "
          "the classes of " +
          request.target);
    if (request.path.empty()) throw std::invalid_argument("no output path for " + request.target);
    for (const std::string* path : {&request.path, &request.probabilities_path})
      if (!path->empty() && !paths.insert(*path).second)
        throw std::invalid_argument("output path " + *path + " is used twice (or is an input)");
  }
  // Destinations are all checked before any temporary file is created; what killed runs left
  // beside them is cleaned up first.
  for (const TargetRequest& request : targets)
    for (const std::string* path : {&request.path, &request.probabilities_path})
      if (!path->empty())
        for (const std::string& stale : remove_stale_partials(*path))
          warnings_.push_back("removed " + stale + ", left by a run that was killed");
  for (const TargetRequest& request : targets) {
    check_output_path(request.path, options_.write.overwrite);
    if (!request.probabilities_path.empty())
      check_output_path(request.probabilities_path, options_.write.overwrite);
  }
  std::vector<OutputProvenance> provenance;
  for (const TargetRequest& request : targets)
    provenance.push_back(output_provenance(model_, inputs, options_, request.target));
  bool continuing = false;
  if (options_.resume) {
    for (const TargetRequest& request : targets)
      if (request.harmonise_offsets)
        throw std::invalid_argument("resuming cannot be combined with offset harmonisation (" +
                                    request.target +
                                    "): its alignment chains every window of the scene");
    checkpoint_ = std::make_unique<RunCheckpoint>(targets.front().path,
                                                  fingerprint(targets, inputs, provenance));
    continuing = load_checkpoint(targets);
  } else {
    for (const TargetRequest& request : targets)
      for (const std::string* path : {&request.path, &request.probabilities_path})
        if (!path->empty() && access(resumable_working_path(*path).c_str(), F_OK) == 0)
          warnings_.push_back("kept " + resumable_working_path(*path) +
                              ", the work of an interrupted resumable run: pass --resume to "
                              "continue it, or delete it");
  }
  const RasterInfo& info = inputs_.front().reader.info();
  const auto open_outputs = [&](bool continue_files) {
    outputs_.clear();
    for (std::size_t i = 0; i < targets.size(); ++i)
      outputs_.emplace_back(targets[i], plan_.targets[i], info, options_, provenance[i],
                            continue_files);
  };
  try {
    open_outputs(continuing);
  } catch (const RasterError& e) {
    if (!continuing) throw;
    warnings_.push_back(std::string("not resuming the earlier run: ") + e.what() +
                        "; starting over");
    resumed_rows_ = 0;
    open_outputs(false);
  }
  for (const TargetSpec& spec : plan_.targets) {
    accumulators_.emplace_back(*grid_, spec.channels, options_.weighting);
    strips_.emplace_back();
  }
}

// The run's identity for resuming: the inputs (files, sizes, times, grids), every output with its
// provenance (model checksum, seed, sampling, window settings; not the date) and the write options.
// The batch size and thread count are left out: they do not change a pixel.
std::string TiledRun::fingerprint(const std::vector<TargetRequest>& targets,
                                  const std::vector<SceneInput>& inputs,
                                  const std::vector<OutputProvenance>& provenance) const {
  std::ostringstream text;
  text.precision(17);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::string& file = inputs[i].origin.empty() ? inputs[i].path : inputs[i].origin;
    text << "input " << inputs_[i].modality->name << ' ' << file;
    struct stat st {};
    if (stat(file.c_str(), &st) == 0)
      text << ' ' << st.st_size << ' ' << st.st_mtim.tv_sec << '.' << st.st_mtim.tv_nsec;
    const RasterInfo& info = inputs_[i].reader.info();
    text << ' ' << info.width << 'x' << info.height;
    for (const double g : info.georef.geotransform) text << ' ' << g;
    text << '\n';
  }
  for (std::size_t i = 0; i < targets.size(); ++i) {
    text << "target " << targets[i].target << ' ' << targets[i].path << ' '
         << targets[i].probabilities_path << '\n';
    for (const auto& [key, value] : provenance[i].tm_domain)
      if (key != "CREATED") text << key << '=' << value << '\n';
  }
  const WriteOptions& write = options_.write;
  text << "write " << static_cast<int>(write.format) << ' ' << write.block_size << ' '
       << write.grid.crs << ' ' << write.grid.resolution_x << ' ' << write.grid.resolution_y;
  for (const std::string& option : write.creation_options) text << ' ' << option;
  return sha256_hex(text.str());
}

// True when an earlier run's working files and checkpoint can be continued.
bool TiledRun::load_checkpoint(const std::vector<TargetRequest>& targets) {
  std::string mismatch;
  std::optional<int> rows = checkpoint_->load(mismatch);
  if (rows) {
    for (const TargetRequest& request : targets)
      for (const std::string* path : {&request.path, &request.probabilities_path})
        if (!path->empty() && access(resumable_working_path(*path).c_str(), F_OK) != 0) {
          mismatch = "its working file " + resumable_working_path(*path) + " is missing";
          rows.reset();
        }
  }
  if (!rows) {
    if (!mismatch.empty())
      warnings_.push_back("not resuming the earlier run: " + mismatch + "; starting over");
    return false;
  }
  resumed_rows_ = std::min(*rows, grid_->raster_height());
  return true;
}

Token TiledRun::read_batch() {
  const WindowGrid& grid = *grid_;
  if (next_index_ >= grid.count()) return nullptr;
  throw_if_interrupted();
  Token token = pool_->take();
  const int size = grid.window_size();
  const std::size_t plane = static_cast<std::size_t>(size) * size;
  token->cells.clear();
  token->inputs.windows.clear();
  token->inputs.window_size = size;
  // Every slot of the batch is sized at once (a recycled token keeps its buffers) and cut to the
  // windows kept at the end; the cell reader overwrites each slot it fills.
  const std::size_t batch = options_.batch_size;
  token->valid.resize(batch * plane);
  token->inputs.inputs.resize(inputs_.size());
  for (std::size_t i = 0; i < inputs_.size(); ++i) {
    InputTensor& tensor = token->inputs.inputs[i];
    tensor.modality = inputs_[i].modality->name;
    tensor.channels = inputs_[i].modality->channels();
    tensor.values.resize(batch * tensor.channels * plane);
    tensor.valid.resize(batch * plane);
  }

  std::vector<float*> values(inputs_.size());
  std::vector<std::uint8_t*> valids(inputs_.size());
  while (token->cells.size() < batch && next_index_ < grid.count()) {
    const std::size_t index = next_index_++;
    const GridCell cell{static_cast<int>(index / grid.cols()),
                        static_cast<int>(index % grid.cols())};
    const PixelWindow window = grid.window(cell.row, cell.col);
    const std::size_t slot = token->cells.size();
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
      InputTensor& tensor = token->inputs.inputs[i];
      values[i] = tensor.values.data() + slot * tensor.channels * plane;
      valids[i] = tensor.valid.data() + slot * plane;
    }
    if (!cells_->read_prepared(window, values.data(), valids.data(),
                               token->valid.data() + slot * plane)) {
      ++skipped_;  // nothing to generate from: the outputs stay nodata here
      continue;
    }
    token->cells.push_back(cell);
    token->inputs.windows.push_back({window.x + options_.grid_offset_x,
                                     window.y + options_.grid_offset_y, window.width,
                                     window.height});
  }
  const std::size_t kept = token->cells.size();
  token->valid.resize(kept * plane);
  for (InputTensor& tensor : token->inputs.inputs) {
    tensor.values.resize(kept * tensor.channels * plane);
    tensor.valid.resize(kept * plane);
  }
  token->inputs.count = static_cast<int>(token->cells.size());
  token->end_index = next_index_;
  return token;
}

void TiledRun::infer(BatchToken& token) {
  throw_if_interrupted();
  const std::size_t plane =
      static_cast<std::size_t>(token.inputs.window_size) * token.inputs.window_size;
  token.outputs.targets.resize(outputs_.size());
  for (std::size_t j = 0; j < outputs_.size(); ++j) {
    OutputTensor& tensor = token.outputs.targets[j];
    tensor.target = outputs_[j].request().target;
    tensor.channels = outputs_[j].spec().channels;
    tensor.values.assign(token.cells.size() * tensor.channels * plane, 0.0f);
  }
  if (token.cells.empty()) return;
  const auto start = Clock::now();
  model_.infer(token.inputs, token.outputs);
  model_seconds_ += seconds_since(start);
  ++batches_;
  inferred_ += token.cells.size();
  for (std::size_t j = 0; j < outputs_.size(); ++j) {
    const OutputTensor& tensor = token.outputs.targets.at(j);
    if (tensor.values.size() != token.cells.size() * outputs_[j].spec().channels * plane)
      throw std::logic_error("the model resized its output for " + tensor.target);
  }
}

void TiledRun::finish_window_row(int row) {
  bool wrote = false;
  for (std::size_t j = 0; j < accumulators_.size(); ++j) {
    accumulators_[j].finish_through(row, strips_[j]);
    trim_rows_above(strips_[j], resumed_rows_);
    wrote = wrote || strips_[j].rows > 0;
    outputs_[j].write(strips_[j]);
  }
  if (checkpoint_ && wrote) {
    // Rows count as done only once they are on disk.
    for (TargetOutput& output : outputs_) output.flush();
    checkpoint_->save(accumulators_.front().finished_rows());
  }
}

// Blending and writing share a stage: writes go to an uncompressed working file through GDAL's
// cache and cost little, and one reused strip per target keeps memory independent of the number
// of batches in flight. The stage still runs concurrently with reading and inference.
void TiledRun::blend_and_write(BatchToken& token) {
  const WindowGrid& grid = *grid_;
  const std::size_t plane = static_cast<std::size_t>(grid.window_size()) * grid.window_size();
  for (std::size_t k = 0; k < token.cells.size(); ++k) {
    const GridCell cell = token.cells[k];
    while (next_row_to_finish_ < cell.row) finish_window_row(next_row_to_finish_++);
    const std::uint8_t* valid = token.valid.data() + k * plane;
    for (std::size_t j = 0; j < outputs_.size(); ++j) {
      const int channels = outputs_[j].spec().channels;
      float* values = token.outputs.targets[j].values.data() + k * channels * plane;
      if (outputs_[j].request().harmonise_offsets) {
        // Sequential alignment: shift the window onto what its left and upper neighbours already
        // blended, so per-window offsets (DEM levels) do not show as a patch grid.
        const std::vector<double> offset =
            accumulators_[j].alignment_offset(cell.row, cell.col, values, valid);
        for (int ch = 0; ch < channels; ++ch)
          for (std::size_t p = 0; p < plane; ++p)
            values[ch * plane + p] += static_cast<float>(offset[ch]);
      }
      accumulators_[j].add(cell.row, cell.col, values, valid);
    }
  }
  // Window rows whose every cell has been consumed are complete.
  const std::size_t cols = grid.cols();
  while (next_row_to_finish_ < grid.rows() &&
         (static_cast<std::size_t>(next_row_to_finish_) + 1) * cols <= token.end_index)
    finish_window_row(next_row_to_finish_++);
  if (options_.progress) options_.progress(token.end_index, grid.count());
}

TilingSummary TiledRun::run() {
  const int threads = options_.threads > 0 ? options_.threads : tbb::task_arena::automatic;
  tbb::task_arena arena(threads);
  arena.execute([&] {
    using tbb::filter_mode;
    tbb::parallel_pipeline(
        static_cast<std::size_t>(options_.max_batches_in_flight),
        tbb::make_filter<void, Token>(filter_mode::serial_in_order,
                                      [&](tbb::flow_control& control) {
                                        Token token = read_batch();
                                        if (!token) control.stop();
                                        return token;
                                      }) &
            tbb::make_filter<Token, Token>(filter_mode::serial_in_order,
                                           [&](Token token) {
                                             infer(*token);
                                             return token;
                                           }) &
            tbb::make_filter<Token, void>(filter_mode::serial_in_order,
                                          [&](Token token) { blend_and_write(*token); }));
  });
  for (const BlendAccumulator& acc : accumulators_)
    if (acc.finished_rows() != grid_->raster_height())
      throw std::logic_error("tiling finished with unwritten rows");
  if (inferred_ == 0 && resumed_rows_ == 0) {
    // Outputs of nothing but nodata would look like results; say what is wrong instead.
    std::string names;
    for (const OpenedInput& input : inputs_) names += (names.empty() ? "" : ", ") + input.name;
    throw RasterError(names + (inputs_.size() > 1 ? " hold" : " holds") +
                      " no valid pixel (every pixel is nodata or not a finite number"
                      "): nothing to generate from; no output written");
  }
  TilingSummary summary;
  for (const BlendAccumulator& acc : accumulators_) {
    summary.peak_band_rows = std::max(summary.peak_band_rows, acc.peak_active_rows());
    summary.accumulator_bytes += acc.bytes();
  }
  // The commits (COG conversion, overviews) need memory of their own: the streaming buffers and
  // the inputs' cached blocks are not needed any more.
  accumulators_.clear();
  strips_.clear();
  pool_.reset();
  inputs_.clear();
  throw_if_interrupted();
  // All outputs are finished before any is published: an interrupt or a full disk leaves none.
  for (TargetOutput& output : outputs_) output.finish();
  throw_if_interrupted();
  std::vector<std::string> published;
  try {
    for (TargetOutput& output : outputs_) output.publish(published);
  } catch (const std::exception& e) {
    std::string list;
    for (const auto& p : published) list += (list.empty() ? "" : ", ") + p;
    throw RasterError(std::string(e.what()) + (published.empty()
                                                   ? std::string("; no output was written")
                                                   : "; already in place: " + list));
  }

  if (checkpoint_) checkpoint_->remove();
  summary.windows = grid_->count();
  summary.resumed_rows = resumed_rows_;
  summary.raster_rows = grid_->raster_height();
  summary.inferred = inferred_;
  summary.skipped = skipped_;
  summary.batches = batches_;
  summary.model_seconds = model_seconds_;
  for (const TargetOutput& output : outputs_)
    for (const std::string& path : output.paths()) summary.outputs.push_back(path);
  summary.warnings = warnings_;
  summary.seconds = seconds_since(start_);
  summary.peak_rss_bytes = process_peak_rss_bytes();
  return summary;
}

}  // namespace

const InputTensor* InputBatch::find(const std::string& modality) const {
  for (const InputTensor& t : inputs)
    if (t.modality == modality) return &t;
  return nullptr;
}

OutputTensor* OutputBatch::find(const std::string& target) {
  for (OutputTensor& t : targets)
    if (t.target == target) return &t;
  return nullptr;
}

TilingSummary generate_scene(const std::vector<SceneInput>& inputs, WindowModel& model,
                             const std::vector<TargetRequest>& targets,
                             const TilingOptions& options) {
  const GdalCacheLimit cache_limit(options.gdal_cache_bytes);
  TiledRun run(inputs, model, targets, options);
  return run.run();
}

}  // namespace terramind
