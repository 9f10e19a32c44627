// The shared pieces of the window engine: run checks, input opening, one grid cell's read, and
// the blend arithmetic. Its own file without TBB: the GDAL plugin links it.
#include "tm/window_engine.h"

#include <algorithm>
#include <limits>
#include <set>
#include <stdexcept>

#include "tm/ascii_strings.h"

namespace terramind {

std::vector<const Modality*> input_modalities(const std::vector<SceneInput>& inputs) {
  if (inputs.empty()) throw std::invalid_argument("no input scene given");
  std::vector<const Modality*> modalities;
  std::set<std::string> seen;
  for (const SceneInput& input : inputs) {
    const Modality& modality = ModalityRegistry::instance().get(input.modality);
    if (!seen.insert(modality.name).second)
      throw std::invalid_argument("modality " + modality.name + " is given twice as input");
    modalities.push_back(&modality);
  }
  return modalities;
}

RunPlan validate_run(const WindowModel& model, const std::vector<SceneInput>& inputs,
                     const std::vector<std::string>& targets, int window_size) {
  RunPlan plan;
  const int multiple = std::max(1, model.window_size_multiple());
  if (window_size % multiple != 0)
    throw std::invalid_argument("window size " + std::to_string(window_size) +
                                " is not a multiple of " + std::to_string(multiple) +
                                ", which the model needs");
  plan.standardise = model.input_standardisation();
  plan.inputs = input_modalities(inputs);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Modality& modality = *plan.inputs[i];
    if (!model.accepts_input(modality.name)) {
      std::vector<std::string> taken;
      for (const Modality& m : ModalityRegistry::instance().modalities())
        if (model.accepts_input(m.name)) taken.push_back(m.name);
      throw std::invalid_argument("the model does not take " + modality.name + " as input (" +
                                  inputs[i].path + "); it takes " +
                                  (taken.empty() ? std::string("none") : join(taken, ", ")));
    }
    require_standardisation(modality, plan.standardise);
  }
  if (targets.empty()) throw std::invalid_argument("no output target requested");
  const std::vector<std::string> offered = model.targets();
  std::set<std::string> requested;
  for (const std::string& target : targets) {
    if (std::find(offered.begin(), offered.end(), target) == offered.end())
      throw std::invalid_argument("the model cannot generate " + target + " (it offers " +
                                  join(offered, ", ") + ")");
    if (!requested.insert(target).second)
      throw std::invalid_argument("target " + target + " is requested twice");
    plan.targets.push_back(model.spec(target));
    validate_target_spec(plan.targets.back(), target);
  }
  return plan;
}

std::vector<OpenedInput> open_scene_inputs(const std::vector<SceneInput>& inputs,
                                           const OpenOptions& options,
                                           const std::string& resolution_hint,
                                           std::vector<std::string>* warnings) {
  const std::vector<const Modality*> modalities = input_modalities(inputs);
  std::vector<OpenedInput> opened;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const SceneInput& input = inputs[i];
    const Modality& modality = *modalities[i];
    SceneReader reader = SceneReader::open(input.path, options);
    require_modality(reader.info(), modality);
    // The model only knows its native resolution.
    if (!options.allow_any_resolution) {
      const std::string mismatch = resolution_mismatch(reader.info(), modality);
      if (!mismatch.empty())
        throw RasterError(input.path + " cannot be read as " + modality.name + ": " + mismatch +
                          resolution_hint);
    }
    if (!opened.empty()) require_same_grid(opened.front().reader.info(), reader.info());
    if (warnings)
      for (const std::string& w : reader.info().warnings) warnings->push_back(w);
    opened.push_back(
        {&modality, std::move(reader), input.origin.empty() ? input.path : input.origin});
  }
  return opened;
}

CellReader::CellReader(const std::vector<OpenedInput>& inputs, EdgePolicy edge,
                       std::optional<StatsVersion> standardise)
    : inputs_(&inputs), edge_(edge), standardise_(standardise), reads_(inputs.size()) {}

bool CellReader::read(const PixelWindow& window) {
  bool any = false;
  for (std::size_t i = 0; i < inputs_->size(); ++i) {
    const OpenedInput& input = (*inputs_)[i];
    reads_[i] = read_input_window(input.reader, *input.modality, window, edge_);
    any = any || reads_[i].valid_count() > 0;
  }
  return any;
}

void CellReader::prepare(std::size_t input, float* values, std::uint8_t* valid) const {
  prepare_window(reads_.at(input), *(*inputs_)[input].modality, standardise_, values, valid);
}

void CellReader::any_valid(std::uint8_t* mask) const {
  if (reads_.empty()) return;
  const std::vector<std::uint8_t>& first = reads_.front().valid;
  std::copy(first.begin(), first.end(), mask);
  for (std::size_t i = 1; i < reads_.size(); ++i) {
    const std::vector<std::uint8_t>& valid = reads_[i].valid;
    for (std::size_t p = 0; p < valid.size(); ++p) mask[p] |= valid[p];
  }
}

bool CellReader::read_prepared(const PixelWindow& window, float* const* values,
                               std::uint8_t* const* valids, std::uint8_t* mask) {
  if (!read(window)) return false;
  for (std::size_t i = 0; i < reads_.size(); ++i) prepare(i, values[i], valids[i]);
  any_valid(mask);
  return true;
}

void blend_add(const BlendSums& into, const WindowGrid& grid, const BlendWeights& weights, int row,
               int col, const float* values, const std::uint8_t* valid) {
  const PixelWindow fp = grid.footprint(row, col);
  const PixelWindow& area = into.area;
  const int x0 = std::max(fp.x, area.x), x1 = std::min(fp.x + fp.width, area.x + area.width);
  const int y0 = std::max(fp.y, area.y), y1 = std::min(fp.y + fp.height, area.y + area.height);
  const int size = grid.window_size();
  const std::size_t plane = static_cast<std::size_t>(size) * size;
  const std::size_t width = area.width;
  const int channels = into.channels;
  const std::vector<float>& wy = weights.row_weights(row);
  const std::vector<float>& wx = weights.col_weights(col);
  for (int y = y0; y < y1; ++y) {
    const int r = y - fp.y;
    const int stored = into.ring_rows > 0 ? (y - area.y) % into.ring_rows : y - area.y;
    const std::size_t s = static_cast<std::size_t>(stored);
    double* weight_row = into.weights + s * width;
    double* sum_rows = into.sums + s * channels * width;
    for (int x = x0; x < x1; ++x) {
      const int c = x - fp.x;
      const std::size_t pixel = static_cast<std::size_t>(r) * size + c;
      if (valid && !valid[pixel]) continue;
      const double w = static_cast<double>(wy[r]) * wx[c];
      const std::size_t column = static_cast<std::size_t>(x - area.x);
      weight_row[column] += w;
      for (int ch = 0; ch < channels; ++ch)
        sum_rows[ch * width + column] += w * values[ch * plane + pixel];
    }
  }
}

void blend_normalise(const BlendSums& from, int y0, int rows, float* values, std::uint8_t* valid,
                     bool recycle) {
  const std::size_t width = from.area.width;
  const std::size_t plane = static_cast<std::size_t>(rows) * width;
  const int channels = from.channels;
  for (int r = 0; r < rows; ++r) {
    const int row = y0 + r - from.area.y;
    const std::size_t s = static_cast<std::size_t>(from.ring_rows > 0 ? row % from.ring_rows : row);
    double* weight_row = from.weights + s * width;
    double* sum_rows = from.sums + s * channels * width;
    for (std::size_t c = 0; c < width; ++c) {
      const std::size_t p = r * width + c;
      const double weight = weight_row[c];
      if (weight <= 0.0) {  // nothing added here
        valid[p] = 0;
        for (int ch = 0; ch < channels; ++ch)
          values[ch * plane + p] = std::numeric_limits<float>::quiet_NaN();
        continue;
      }
      valid[p] = 1;
      for (int ch = 0; ch < channels; ++ch) {
        double& sum = sum_rows[ch * width + c];
        values[ch * plane + p] = static_cast<float>(sum / weight);
        if (recycle) sum = 0.0;
      }
      if (recycle) weight_row[c] = 0.0;
    }
  }
}

}  // namespace terramind
