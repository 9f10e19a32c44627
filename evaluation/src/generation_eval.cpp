// evaluate_generation: a model card over a folder of aligned samples, scored per input -> target
// pair through the tiling engine that tm_generate uses (tm/evaluation.h).
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <set>
#include <stdexcept>

#include "eval_internal.h"
#include "tm/evaluation.h"
#include "tm/registry.h"
#include "tm/runtime.h"
#include "tm/tiling.h"

namespace terramind::eval {
namespace fs = std::filesystem;
namespace {

bool is_file(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::vector<std::string> sample_ids(const std::string& data, const GenerationPair& pair) {
  std::vector<std::string> ids;
  const fs::path folder = fs::path(data) / pair.target;
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return ids;
  for (const auto& e : fs::directory_iterator(folder, ec)) {
    if (e.path().extension() != ".tif") continue;
    const std::string id = e.path().stem().string();
    bool complete = true;
    for (const auto& m : pair.inputs) complete = complete && !sample_path(data, m, id).empty();
    if (complete) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

Image constant_image(const std::vector<double>& values, const Image& like, bool classes) {
  Image image{classes ? 1 : static_cast<int>(values.size()), like.height, like.width, {}};
  const std::size_t plane = static_cast<std::size_t>(like.height) * like.width;
  image.values.resize(plane * image.bands);
  for (int b = 0; b < image.bands; ++b)
    std::fill(image.values.begin() + b * plane, image.values.begin() + (b + 1) * plane,
              static_cast<float>(values.at(b)));
  return image;
}

// Per-pixel mode of class maps, or mean of continuous images.
Image combine(const std::vector<Image>& runs, bool classes, int class_count) {
  if (runs.size() == 1) return runs.front();
  Image out = runs.front();
  for (std::size_t i = 0; i < out.values.size(); ++i) {
    if (classes) {
      std::vector<int> votes(static_cast<std::size_t>(class_count), 0);
      bool any = false;
      for (const auto& r : runs)
        if (!std::isnan(r.values[i])) ++votes[static_cast<std::size_t>(r.values[i])], any = true;
      out.values[i] =
          any ? static_cast<float>(std::max_element(votes.begin(), votes.end()) - votes.begin())
              : std::numeric_limits<float>::quiet_NaN();
    } else {
      double sum = 0;
      for (const auto& r : runs) sum += r.values[i];
      out.values[i] = static_cast<float>(sum / static_cast<double>(runs.size()));
    }
  }
  return out;
}

}  // namespace

Image read_image(const std::string& path) {
  const SceneReader reader = SceneReader::open(path);
  const RasterInfo& info = reader.info();
  WindowData data = reader.read({0, 0, info.width, info.height});
  Image image{data.bands, data.height, data.width, std::move(data.values)};
  const std::size_t plane = static_cast<std::size_t>(image.height) * image.width;
  for (int b = 0; b < image.bands; ++b)
    for (std::size_t i = 0; i < plane; ++i)
      if (!data.valid[i]) image.values[b * plane + i] = std::numeric_limits<float>::quiet_NaN();
  return image;
}

void check_aligned(const std::string& truth, const std::vector<std::string>& inputs) {
  const RasterInfo t = inspect_raster(truth);
  for (const auto& input : inputs) {
    const RasterInfo i = inspect_raster(input);
    if (i.width != t.width || i.height != t.height)
      throw std::invalid_argument("misaligned: " + truth + " is " + std::to_string(t.width) + "x" +
                                  std::to_string(t.height) + " pixels, the input " + input +
                                  " is " + std::to_string(i.width) + "x" +
                                  std::to_string(i.height));
    // Geotransforms agree within 1/1000 pixel (files written by different tools round
    // differently, as tm_shards allows); the CRS by meaning.
    GeoReference grid = i.georef;
    const auto& a = t.georef.geotransform;
    const double tolerance = 1e-3 * std::max(std::abs(a[1]), std::abs(a[5]));
    bool close = true;
    for (int k = 0; k < 6; ++k) close = close && std::abs(a[k] - grid.geotransform[k]) <= tolerance;
    if (close) grid.geotransform = a;
    if (t.georef.is_georeferenced() && grid.is_georeferenced() && !t.georef.same_grid_as(grid))
      throw std::invalid_argument("misaligned: " + truth + " and the input " + input +
                                  " differ in CRS or geotransform");
  }
}

std::string GenerationPair::label() const {
  std::string s;
  for (const auto& m : inputs) s += (s.empty() ? "" : "+") + m;
  return s + "->" + target;
}

GenerationPair parse_pair(const std::string& text) {
  const auto arrow = text.find("->");
  if (arrow == std::string::npos || arrow == 0 || arrow + 2 >= text.size())
    throw std::invalid_argument("a pair is INPUT->TARGET (e.g. S2L2A->NDVI), not '" + text + "'");
  GenerationPair pair;
  const auto& registry = ModalityRegistry::instance();
  std::string inputs = text.substr(0, arrow);
  for (std::size_t start = 0; start <= inputs.size();) {
    const auto plus = inputs.find('+', start);
    const std::string name =
        inputs.substr(start, plus == std::string::npos ? std::string::npos : plus - start);
    pair.inputs.push_back(registry.get(name).name);
    if (plus == std::string::npos) break;
    start = plus + 1;
  }
  pair.target = registry.get(text.substr(arrow + 2)).name;
  if (std::find(pair.inputs.begin(), pair.inputs.end(), pair.target) != pair.inputs.end())
    throw std::invalid_argument("pair " + text + ": the target is also an input");
  return pair;
}

std::string sample_path(const std::string& data, const std::string& modality,
                        const std::string& sample) {
  for (const char* ext : {".tif", ".tiff"}) {
    const std::string p = data + "/" + modality + "/" + sample + ext;
    if (is_file(p)) return p;
  }
  return {};
}

GenerationEvalReport evaluate_generation(const GenerationEvalOptions& options) {
  if (options.pairs.empty()) throw std::invalid_argument("no input -> target pair to evaluate");
  if (options.predictors.empty()) throw std::invalid_argument("no model to evaluate");
  if (options.mc_samples < 1) throw std::invalid_argument("--samples must be at least 1");
  if (options.work_dir.empty()) throw std::invalid_argument("no work folder");
  const auto& registry = ModalityRegistry::instance();
  const int class_count = static_cast<int>(registry.lulc_classes().size());

  // The samples of each pair, and the work list.
  std::map<std::string, std::vector<std::string>> ids_of;
  std::set<std::string> all_ids;
  int total = 0;
  for (const auto& pair : options.pairs) {
    std::vector<std::string> ids =
        options.samples.empty() ? sample_ids(options.data, pair) : options.samples;
    for (const auto& id : ids) {
      if (sample_path(options.data, pair.target, id).empty())
        throw std::invalid_argument(options.data + ": sample " + id + " has no " + pair.target +
                                    " truth (" + options.data + "/" + pair.target + "/" + id +
                                    ".tif)");
      for (const auto& m : pair.inputs)
        if (sample_path(options.data, m, id).empty())
          throw std::invalid_argument(options.data + ": sample " + id + " has no " + m + " input");
    }
    if (ids.empty())
      throw std::invalid_argument(options.data + ": no sample holds both " + pair.target +
                                  " and the inputs of " + pair.label() + " (<folder>/" +
                                  pair.target + "/<id>.tif)");
    ids_of[pair.label()] = ids;
    all_ids.insert(ids.begin(), ids.end());
    total += static_cast<int>(ids.size() * options.predictors.size());
  }

  GenerationEvalReport report;
  report.sample_ids.assign(all_ids.begin(), all_ids.end());
  // Opened once per predictor|target: window models (one per MC draw), tokenizer bounds.
  std::map<std::string, std::vector<std::unique_ptr<WindowModel>>> models;
  std::map<std::string, std::unique_ptr<TokenizerBound>> bounds;
  int done = 0;
  for (const auto& pair : options.pairs) {
    const Modality& target = registry.get(pair.target);
    const bool classes = target.is_class_map();
    for (const auto& predictor : options.predictors) {
      if (predictor.is_constant() && !predictor.constants.count(pair.target))
        throw std::invalid_argument(predictor.label + ": no constant for " + pair.target);
      PairSummary summary;
      summary.pair = pair.label();
      summary.predictor = predictor.label;
      summary.target = pair.target;
      summary.classes = classes;
      ConfusionMatrix pooled(class_count);
      for (const auto& id : ids_of[pair.label()]) {
        const std::string truth_path = sample_path(options.data, pair.target, id);
        std::vector<std::string> input_paths;
        for (const auto& m : pair.inputs) input_paths.push_back(sample_path(options.data, m, id));
        check_aligned(truth_path, input_paths);
        const Image truth = read_image(truth_path);
        if (truth.bands != target.channels())
          throw std::invalid_argument(truth_path + ": " + std::to_string(truth.bands) + " bands, " +
                                      pair.target + " has " + std::to_string(target.channels()));
        if (classes)
          for (const float v : truth.values)
            if (!std::isnan(v) && (v < 0 || v >= class_count || v != std::floor(v)))
              throw std::invalid_argument(truth_path + ": value " + std::to_string(v) +
                                          " is not a " + pair.target + " class (0.." +
                                          std::to_string(class_count - 1) + ")");
        SampleScore score;
        score.sample = id;
        score.pair = pair.label();
        score.predictor = predictor.label;
        score.classes = classes;
        Image generated;
        if (predictor.is_constant()) {
          generated = constant_image(predictor.constants.at(pair.target), truth, classes);
        } else if (predictor.tokenizer_bound) {
          auto& bound = bounds[predictor.label + "|" + pair.target];
          if (!bound)
            bound = std::make_unique<TokenizerBound>(predictor.runtime.model, pair.target);
          generated =
              bound->reconstruct(truth, predictor.runtime.diffusion_steps, predictor.runtime.seed);
        } else {
          // One window model per draw (draw k runs with seed + k), opened once for all samples.
          auto& draws = models[predictor.label + "|" + pair.target];
          std::vector<Image> runs;
          for (int k = 0; k < options.mc_samples; ++k) {
            if (static_cast<int>(draws.size()) <= k) {
              RuntimeSettings settings = predictor.runtime;
              settings.targets = {pair.target};
              settings.seed += k;
              draws.push_back(open_terramind_window_model(settings));
            }
            const fs::path out = fs::path(options.work_dir) / predictor.label / pair.label() /
                                 (id + (k ? "_mc" + std::to_string(k) : "") + ".tif");
            fs::create_directories(out.parent_path());
            fs::remove(out);  // the work folder is ours: an earlier run's raster is replaced
            std::vector<SceneInput> inputs;
            for (std::size_t i = 0; i < pair.inputs.size(); ++i)
              inputs.emplace_back(input_paths[i], pair.inputs[i]);
            generate_scene(inputs, *draws[k], {TargetRequest(pair.target, out.string())});
            if (k == 0) score.generated = out.string();
            runs.push_back(read_image(out.string()));
          }
          generated = combine(runs, classes, class_count);
        }
        if (classes) {
          ConfusionMatrix m(class_count);
          m.add(generated, truth, /*ignore=*/0);
          pooled.add(generated, truth, 0);
          score.accuracy = m.accuracy();
          score.miou = m.mean_iou();
        } else {
          score.metrics = image_metrics(generated, truth);
          summary.mean.mae += score.metrics.mae;
          summary.mean.rmse += score.metrics.rmse;
          summary.mean.psnr += score.metrics.psnr;
          summary.mean.ssim += score.metrics.ssim;
          summary.mean.pixels += score.metrics.pixels;
        }
        ++summary.samples;
        report.samples.push_back(score);
        if (options.progress) options.progress(++done, total);
      }
      if (classes) {
        summary.accuracy = pooled.accuracy();
        summary.miou = pooled.mean_iou();
      } else {
        const double n = summary.samples;
        summary.mean.mae /= n, summary.mean.rmse /= n, summary.mean.psnr /= n,
            summary.mean.ssim /= n;
      }
      report.summary.push_back(summary);
    }
  }
  return report;
}

}  // namespace terramind::eval
