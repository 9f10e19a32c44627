// tm/evaluation.h — measuring generations against the truth (public header of tm_evaluation).
//
// Two layers: image metrics on plain float arrays (no GDAL, no model: MAE, RMSE, PSNR, SSIM,
// confusion matrices), and evaluate_generation(), which runs a model card over a folder of aligned
// samples through the same tiling engine as tm_generate and scores every input -> target pair.
// Definitions (as the README and the reports state them):
//   MAE, RMSE  over the pixels where truth and generation are both valid, in physical units
//   PSNR       20 log10(L / RMSE), L = the truth's dynamic range (max - min) of each band
//   SSIM       Wang et al. 2004: Gaussian window 11 x 11, sigma 1.5, K1 0.01, K2 0.03, the same L,
//              averaged over the windows lying fully inside the image with no invalid pixel
// Multi-band images: the mean over bands. Class maps: pixel accuracy and mean IoU instead.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tm/pixel_window.h"
#include "tm/settings.h"  // RuntimeSettings

namespace terramind {
class TerraMindModel;
class WordPieceTokenizer;
}  // namespace terramind

namespace terramind::eval {

// One band or a stack of bands, [band][row][col]; NaN marks invalid pixels.
struct Image {
  int bands = 0;
  int height = 0;
  int width = 0;
  std::vector<float> values;
  float at(int b, int r, int c) const {
    return values[(static_cast<std::size_t>(b) * height + r) * width + c];
  }
};

struct ImageMetrics {
  double mae = 0, rmse = 0, psnr = 0, ssim = 0;  // psnr: +inf for a perfect match
  std::int64_t pixels = 0;                       // valid pixels per band (counted once)
};

struct SsimOptions {
  int window = 11;
  double sigma = 1.5;
  double k1 = 0.01, k2 = 0.03;
};

// SSIM of one band (x: generation, y: truth) with data range `range`; NaN pixels excluded (windows
// holding one are skipped). NaN when no window is fully valid. std::invalid_argument on sizes.
double ssim(const float* x, const float* y, int height, int width, double range,
            const SsimOptions& options = {});

// All four metrics of `generated` against `truth` (same shape; std::invalid_argument otherwise,
// or when no pixel is valid in both).
ImageMetrics image_metrics(const Image& generated, const Image& truth,
                           const SsimOptions& options = {});

// Confusion counts of class maps; pixels whose truth is `ignore` are not counted.
class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int classes);
  void add(int truth, int predicted);  // std::out_of_range outside [0, classes)
  void add(const Image& predicted, const Image& truth, int ignore);
  int classes() const { return classes_; }
  std::int64_t count(int truth, int predicted) const;
  std::int64_t total() const { return total_; }
  double accuracy() const;        // NaN when empty
  double iou(int c) const;        // TP / (TP + FP + FN); NaN when the class never occurs
  double mean_iou() const;        // over classes that occur in truth or prediction
  double precision(int c) const;  // NaN when never predicted
  double recall(int c) const;     // NaN when absent from the truth
  double f1(int c) const;

 private:
  int classes_;
  std::vector<std::int64_t> counts_;  // [truth][predicted]
  std::int64_t total_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Generation quality over a folder of aligned samples.

// One input -> target pair, e.g. {"S2L2A"} -> "NDVI".
struct GenerationPair {
  std::vector<std::string> inputs;
  std::string target;
  std::string label() const;  // "S2L2A->NDVI", "S2L2A+S1GRD->LULC"
};
// "S2L2A->NDVI" or "S2L2A+S1GRD->LULC" (registry names or aliases); std::invalid_argument.
GenerationPair parse_pair(const std::string& text);

// What makes the predictions: a model card, or a constant per band (the baseline).
struct Predictor {
  std::string label;        // shown in the tables
  RuntimeSettings runtime;  // used when `constants` is empty
  std::map<std::string, std::vector<double>>
      constants;  // target -> per-band value (class map: the class)
  // The truth through the model's tokenizer of the target (encode, decode): the bound any
  // generation through that tokenizer is limited by.
  bool tokenizer_bound = false;
  bool is_constant() const { return !constants.empty(); }
};

struct GenerationEvalOptions {
  std::string data;  // TerraMesh layout: <data>/<MODALITY>/<sample>.tif
  std::vector<GenerationPair> pairs;
  std::vector<std::string> samples;  // empty: every sample holding the pair's modalities
  std::vector<Predictor> predictors;
  int mc_samples = 1;    // generations averaged per sample (seeds seed, seed+1, ...)
  std::string work_dir;  // generated rasters are written here (and kept, for quicklooks)
  std::function<void(int done, int total)> progress;
};

struct SampleScore {
  std::string sample, pair, predictor;
  bool classes = false;
  ImageMetrics metrics;           // continuous targets
  double accuracy = 0, miou = 0;  // class targets
  std::string generated;          // raster path (empty for constants)
};

struct PairSummary {
  std::string pair, predictor, target;
  bool classes = false;
  int samples = 0;
  ImageMetrics mean;              // mean over samples of the per-sample metrics
  double accuracy = 0, miou = 0;  // pooled over all pixels of all samples
};

struct GenerationEvalReport {
  std::vector<SampleScore> samples;
  std::vector<PairSummary> summary;
  std::vector<std::string> sample_ids;
};

// Runs every predictor on every sample of every pair. Throws std::invalid_argument naming the
// problem: a folder with no sample for a pair, a truth raster misaligned with the inputs (size,
// CRS or geotransform), a class raster with values outside the classes, a model that cannot
// produce a target.
GenerationEvalReport evaluate_generation(const GenerationEvalOptions& options);

// Where a sample's modality lives: <data>/<MODALITY>/<sample>.tif ("" when absent).
std::string sample_path(const std::string& data, const std::string& modality,
                        const std::string& sample);

// Writes report.json and report.html (self-contained: PNG quicklooks of input, generation and
// truth of the first `quicklook_samples` samples embedded) into `folder`, atomically (temporary
// names, renamed when complete). `title` and `note` head the page.
void write_generation_report(const GenerationEvalReport& report,
                             const GenerationEvalOptions& options, const std::string& folder,
                             const std::string& title, const std::string& note,
                             int quicklook_samples = 2);

// ---------------------------------------------------------------------------------------------
// Zero-shot water mapping (Sen1Floods11 style): LULC generated from S1 and/or S2 chips, its water
// class scored against hand labels (1 water, 0 not water, -1 or nodata: ignored).

struct WaterEvalOptions {
  // Input folders per modality: <folder>/<key>_<suffix>.tif; a file's key is its name without
  // the extension and a trailing "_<folder name>" (Sen1Floods11: S1Hand/Spain_7370579_S1Hand.tif
  // has key Spain_7370579), as tm_shards pairs files.
  std::map<std::string, std::string> inputs;  // modality -> folder
  std::string labels;                         // folder of label rasters, paired the same way
  RuntimeSettings runtime;                    // the model; targets are set to LULC
  int water_class = 1;                        // the LULC class taken as water
  std::string work_dir;                       // generated LULC rasters (kept)
  std::function<void(int done, int total)> progress;
};

struct WaterChipScore {
  std::string key;
  std::string status;  // "scored", "no valid label", "no valid input"
  std::int64_t tp = 0, fp = 0, fn = 0, tn = 0;
  std::int64_t ignored = 0;  // label -1/nodata, or no generation there (input nodata)
  double iou = 0, precision = 0, recall = 0, f1 = 0;  // NaN where undefined
  std::string generated;
};

struct WaterEvalReport {
  std::vector<WaterChipScore> chips;
  std::int64_t tp = 0, fp = 0, fn = 0, tn = 0;  // pooled over scored chips
  double iou = 0, precision = 0, recall = 0, f1 = 0;
  double mean_chip_iou = 0;  // over scored chips with a defined IoU
  int scored = 0;
};

// Pairs inputs and labels by key; chips missing an input or a label are an error naming them.
// Throws std::invalid_argument for no chip, label values other than -1/0/1, misaligned rasters.
WaterEvalReport evaluate_water(const WaterEvalOptions& options);

// water.json and water.html (tables; quicklooks of the first chips' inputs and generated LULC).
void write_water_report(const WaterEvalReport& report, const WaterEvalOptions& options,
                        const std::string& folder, const std::string& title,
                        const std::string& note);

// ---------------------------------------------------------------------------------------------
// Image embeddings and few-shot classification with prototypical networks.

struct EmbeddingOptions {
  std::string model;               // card or official name
  std::string modality = "S2L2A";  // what the images are
  int layer = -1;                  // encoder block (negative from the end)
};

struct Embedded {
  std::string path, label;
  std::vector<float> vector;  // mean of the patch features of `layer`
};

// Every raster of <folder>/<class>/ (sub-folder names are the labels), embedded: the mean over
// patches of the encoder features. Invalid pixels enter as the modality's mean. Sides must be
// multiples of 16. std::invalid_argument for a folder without class sub-folders or rasters.
std::vector<Embedded> embed_folder(const std::string& folder, const EmbeddingOptions& options,
                                   const std::function<void(int, int)>& progress = {});

struct FewShotOptions {
  int ways = 5;
  int shots = 1;
  int queries = 15;  // per class and episode, at most what is left after the support set
  int episodes = 200;
  std::uint64_t seed = 0;
};

struct FewShotResult {
  int ways = 0, shots = 0, episodes = 0;
  double accuracy = 0;  // mean over episodes
  double ci95 = 0;      // 1.96 standard errors of that mean
  double chance = 0;    // 1 / ways
};

// Prototypical networks (Snell et al. 2017) on fixed embeddings: per seeded episode, `ways`
// classes, `shots` support samples each whose mean is the class prototype, queries classified
// by the nearest prototype (Euclidean). std::invalid_argument when fewer than `ways` classes
// exist or a class has no sample beyond the shots (naming it).
FewShotResult prototypical_few_shot(const std::vector<std::vector<float>>& embeddings,
                                    const std::vector<std::string>& labels,
                                    const FewShotOptions& options);

// fewshot.json and fewshot.html (a table per shot count: accuracy, 95 % interval, chance)
// into `folder`, atomically; `meta` (embeddings file, model, ways, episodes ...) heads both.
void write_few_shot_report(const std::vector<FewShotResult>& results,
                           const std::map<std::string, std::string>& meta,
                           const std::string& folder, const std::string& title);

// ---------------------------------------------------------------------------------------------
// Geolocation (tm_locate): where a model thinks an image was taken, by sampling the coordinates
// modality many times and counting the draws on TerraMind's own 0.25 degree grid.

struct GeoPoint {
  double lon = std::numeric_limits<double>::quiet_NaN();
  double lat = std::numeric_limits<double>::quiet_NaN();
  bool valid() const {
    return std::isfinite(lon) && std::isfinite(lat) && std::abs(lat) <= 90 && std::abs(lon) <= 180;
  }
};

// Great-circle distance on the mean Earth sphere (6371.0088 km).
double great_circle_km(const GeoPoint& a, const GeoPoint& b);

// Counts of located draws on the global 0.25 degree grid: 1440 columns from 180 W, 720 rows from
// 90 N (cell centres at x.125, x.375 ...). Draws that decoded to no coordinate count as samples,
// not as locations.
class LocationHeatmap {
 public:
  static constexpr double kCell = 0.25;
  static constexpr int kCols = 1440, kRows = 720;
  LocationHeatmap();
  void add(const GeoPoint& draw);
  std::size_t samples() const { return samples_; }
  std::size_t located() const { return located_; }
  // Probability per cell, row-major, summing to 1; std::invalid_argument when nothing located.
  std::vector<double> probabilities() const;
  GeoPoint peak() const;  // centre of the most likely cell (the first of equals)
  double peak_probability() const;
  // Expected great-circle distance from `truth` under the map.
  double expected_distance_km(const GeoPoint& truth) const;
  static GeoPoint cell_centre(int row, int col);

 private:
  std::vector<std::uint32_t> counts_;
  std::size_t samples_ = 0, located_ = 0;
};

struct LocateOptions {
  std::string model;               // card or official name, with a coordinates decoder
  std::string vocabulary;          // the v1 WordPiece vocabulary (tokenizer JSON)
  std::string modality = "S2L2A";  // what the scene is
  int samples = 128;               // coordinate draws
  int batch = 16;                  // draws per generate call
  std::int64_t seed = 0;
  double temperature = 1.0;
  double top_p = 0.8;
};

struct LocateResult {
  std::string scene;
  LocationHeatmap map;
  std::vector<GeoPoint> draws;    // in order; invalid where a draw decoded to no coordinate
  std::optional<GeoPoint> truth;  // the window's centre when the scene is georeferenced
  PixelWindow window;             // the part of the scene the model saw
};

// Samples the coordinates modality `samples` times from the centre window (the card's image
// size) of `scene`. std::invalid_argument for a model without a coordinates decoder, a scene
// smaller than the window or of another band count; RasterError for unreadable scenes.
LocateResult locate_scene(const std::string& scene, const LocateOptions& options,
                          const std::function<void(int, int)>& progress = {});
// The same with a model and vocabulary already open (options.model and .vocabulary unused).
LocateResult locate_scene(const std::string& scene, const TerraMindModel& model,
                          const WordPieceTokenizer& vocabulary, const LocateOptions& options,
                          const std::function<void(int, int)>& progress = {});

// Into `folder`, atomically: location.tif (probabilities, Float32, EPSG:4326, 0.25 degree),
// location.png (the heat map on a latitude/longitude graticule), location.json (peak, its
// probability, truth, distance, expected distance, draws) and location.html (all of it).
void write_locate_report(const LocateResult& result, const LocateOptions& options,
                         const std::string& folder);

}  // namespace terramind::eval
