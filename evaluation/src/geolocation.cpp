// tm_locate: coordinate draws of a TerraMind model counted on the 0.25 degree grid.
#include <gdal_priv.h>
#include <ogr_spatialref.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "eval_internal.h"
#include "tm/model.h"
#include "tm/model_cache.h"
#include "tm/registry.h"
#include "tm/tiling.h"

namespace terramind::eval {
namespace fs = std::filesystem;
namespace {

constexpr double kEarthRadiusKm = 6371.0088;
constexpr double kDegree = 3.14159265358979323846 / 180.0;

// The centre of a window of a georeferenced raster in EPSG:4326; nullopt without georeferencing.
std::optional<GeoPoint> window_centre(const RasterInfo& info, const PixelWindow& w) {
  if (!info.georef.is_georeferenced()) return std::nullopt;
  const auto& g = info.georef.geotransform;
  const double px = w.x + w.width / 2.0, py = w.y + w.height / 2.0;
  double x = g[0] + px * g[1] + py * g[2], y = g[3] + px * g[4] + py * g[5];
  OGRSpatialReference from, to;
  if (from.importFromWkt(info.georef.crs_wkt.c_str()) != OGRERR_NONE) return std::nullopt;
  to.importFromEPSG(4326);
  from.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  to.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  std::unique_ptr<OGRCoordinateTransformation> ct(OGRCreateCoordinateTransformation(&from, &to));
  if (!ct || !ct->Transform(1, &x, &y)) return std::nullopt;
  return GeoPoint{x, y};
}

// log-scaled "hot" ramp: black, red, yellow, white; 0 stays dark blue-grey (no mass).
void heat_colour(double t, GDALColorEntry& c) {
  t = std::clamp(t, 0.0, 1.0);
  c.c1 = static_cast<short>(255 * std::min(1.0, 3 * t));
  c.c2 = static_cast<short>(255 * std::clamp(3 * t - 1, 0.0, 1.0));
  c.c3 = static_cast<short>(255 * std::clamp(3 * t - 2, 0.0, 1.0));
  c.c4 = 255;
}

// The heat map as a paletted PNG through GDAL: cell probabilities on a log scale, graticule
// every 30 degrees.
void write_heat_png(const std::vector<double>& p, const std::string& path) {
  const int w = LocationHeatmap::kCols, h = LocationHeatmap::kRows;
  const double top = *std::max_element(p.begin(), p.end());
  std::vector<std::uint8_t> pixels(p.size(), 0);
  for (std::size_t i = 0; i < p.size(); ++i)
    if (p[i] > 0)
      pixels[i] =
          static_cast<std::uint8_t>(2 + 253 * std::clamp(1 + std::log10(p[i] / top) / 3, 0.0, 1.0));
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < w; ++c)
      if ((r % 120 == 0 || c % 120 == 0) && pixels[r * w + c] == 0) pixels[r * w + c] = 1;
  GDALDriver* mem = GetGDALDriverManager()->GetDriverByName("MEM");
  GDALDriver* png = GetGDALDriverManager()->GetDriverByName("PNG");
  if (!mem || !png) throw RasterError("GDAL lacks the MEM or PNG driver");
  GDALDatasetUniquePtr ds(mem->Create("", w, h, 1, GDT_Byte, nullptr));
  GDALColorTable table;
  GDALColorEntry background{40, 44, 52, 255}, grid{80, 86, 98, 255};
  table.SetColorEntry(0, &background);
  table.SetColorEntry(1, &grid);
  for (int k = 2; k < 256; ++k) {
    GDALColorEntry e;
    heat_colour((k - 2) / 253.0, e);
    table.SetColorEntry(k, &e);
  }
  GDALRasterBand* band = ds->GetRasterBand(1);
  band->SetColorTable(&table);
  if (band->RasterIO(GF_Write, 0, 0, w, h, pixels.data(), w, h, GDT_Byte, 0, 0) != CE_None)
    throw RasterError("cannot render the heat map");
  const std::string temp = path + ".tm-partial.png";
  GDALDatasetUniquePtr out(
      png->CreateCopy(temp.c_str(), ds.get(), FALSE, nullptr, nullptr, nullptr));
  if (!out) throw RasterError("cannot write " + path);
  out.reset();
  std::remove((temp + ".aux.xml").c_str());
  fs::rename(temp, path);
}

}  // namespace

double great_circle_km(const GeoPoint& a, const GeoPoint& b) {
  const double dlat = (b.lat - a.lat) * kDegree, dlon = (b.lon - a.lon) * kDegree;
  const double h = std::sin(dlat / 2) * std::sin(dlat / 2) +
                   std::cos(a.lat * kDegree) * std::cos(b.lat * kDegree) * std::sin(dlon / 2) *
                       std::sin(dlon / 2);
  return 2 * kEarthRadiusKm * std::asin(std::min(1.0, std::sqrt(h)));
}

LocationHeatmap::LocationHeatmap() : counts_(static_cast<std::size_t>(kCols) * kRows, 0) {}

void LocationHeatmap::add(const GeoPoint& draw) {
  ++samples_;
  if (!draw.valid()) return;
  const int col = std::clamp(static_cast<int>(std::floor((draw.lon + 180) / kCell)), 0, kCols - 1);
  const int row = std::clamp(static_cast<int>(std::floor((90 - draw.lat) / kCell)), 0, kRows - 1);
  ++counts_[static_cast<std::size_t>(row) * kCols + col];
  ++located_;
}

std::vector<double> LocationHeatmap::probabilities() const {
  if (located_ == 0)
    throw std::invalid_argument("none of the " + std::to_string(samples_) +
                                " draws decoded to a coordinate: no location to map");
  std::vector<double> p(counts_.size());
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<double>(counts_[i]) / located_;
  return p;
}

GeoPoint LocationHeatmap::cell_centre(int row, int col) {
  return {-180 + (col + 0.5) * kCell, 90 - (row + 0.5) * kCell};
}

GeoPoint LocationHeatmap::peak() const {
  const auto it = std::max_element(counts_.begin(), counts_.end());
  if (located_ == 0) return {};
  const auto i = static_cast<int>(it - counts_.begin());
  return cell_centre(i / kCols, i % kCols);
}

double LocationHeatmap::peak_probability() const {
  return located_
             ? static_cast<double>(*std::max_element(counts_.begin(), counts_.end())) / located_
             : 0.0;
}

double LocationHeatmap::expected_distance_km(const GeoPoint& truth) const {
  if (located_ == 0) return std::numeric_limits<double>::quiet_NaN();
  double sum = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i)
    if (counts_[i])
      sum += counts_[i] * great_circle_km(truth, cell_centre(static_cast<int>(i / kCols),
                                                             static_cast<int>(i % kCols)));
  return sum / located_;
}

LocateResult locate_scene(const std::string& scene, const LocateOptions& options,
                          const std::function<void(int, int)>& progress) {
  if (options.vocabulary.empty())
    throw std::invalid_argument(
        "no text vocabulary: give the TerraMind v1 WordPiece tokenizer (--vocabulary, or "
        "TM_TEXT_VOCABULARY)");
  const TerraMindModel model = TerraMindModel::open(resolve_model_argument(options.model, {}));
  const WordPieceTokenizer vocabulary = WordPieceTokenizer::from_file(options.vocabulary);
  return locate_scene(scene, model, vocabulary, options, progress);
}

LocateResult locate_scene(const std::string& scene, const TerraMindModel& model,
                          const WordPieceTokenizer& vocabulary, const LocateOptions& options,
                          const std::function<void(int, int)>& progress) {
  if (options.samples < 1 || options.batch < 1)
    throw std::invalid_argument("--samples and --batch must be at least 1");
  const Modality& modality = ModalityRegistry::instance().get(options.modality);
  std::string key;
  try {
    key = model.output_key("coords");
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument("the model " + model.card().name +
                                " has no coordinates decoder (its card's decoder_modalities lack "
                                "\"coords\"): geolocation needs a model that generates them, as "
                                "the official TerraMind v1 models do");
  }
  const SceneReader reader = SceneReader::open(scene);
  const RasterInfo& info = reader.info();
  require_modality(info, modality);
  const int size = static_cast<int>(model.card().image_size);
  if (info.width < size || info.height < size)
    throw std::invalid_argument(scene + " is " + std::to_string(info.width) + "x" +
                                std::to_string(info.height) + " pixels, smaller than the model's " +
                                std::to_string(size) + "-px window");
  LocateResult result;
  result.scene = scene;
  result.window = {(info.width - size) / 2, (info.height - size) / 2, size, size};
  result.truth = window_centre(info, result.window);
  const StatsVersion version = stats_version_from_string(model.card().stats_version);
  const WindowData data = read_input_window(reader, modality, result.window, EdgePolicy::kFill);
  if (data.valid_count() == 0)
    throw std::invalid_argument(scene + ": the centre window holds no valid pixel");
  std::vector<float> values(static_cast<std::size_t>(data.bands) * size * size);
  std::vector<std::uint8_t> valid(static_cast<std::size_t>(size) * size);
  prepare_window(data, modality, version, values.data(), valid.data());
  torch::NoGradGuard no_grad;
  const at::Tensor x =
      torch::from_blob(values.data(), {1, data.bands, size, size}, torch::kFloat32);
  GenerationOptions generation;
  generation.temperature = options.temperature;
  generation.top_p = options.top_p;
  generation.inputs_standardised = true;
  for (int done = 0; done < options.samples;) {
    const int n = std::min(options.batch, options.samples - done);
    generation.seed = options.seed + done;  // draws depend on the seed and their index only
    const at::Tensor ids =
        model.generate({{modality.name, x.expand({n, -1, -1, -1})}}, {"coords"}, generation)
            .at(key)
            .to(at::kLong)
            .contiguous();
    for (int k = 0; k < n; ++k) {
      const at::Tensor row = ids[k];
      const std::vector<int64_t> seq(row.data_ptr<int64_t>(),
                                     row.data_ptr<int64_t>() + row.numel());
      const auto [lon, lat] = decode_coordinates(vocabulary, seq);
      result.draws.push_back({lon, lat});
      result.map.add(result.draws.back());
    }
    done += n;
    if (progress) progress(done, options.samples);
  }
  return result;
}

void write_locate_report(const LocateResult& result, const LocateOptions& options,
                         const std::string& folder) {
  fs::create_directories(folder);
  const std::vector<double> p = result.map.probabilities();
  // The probability raster, EPSG:4326 on the 0.25 degree grid.
  RasterSpec spec;
  spec.width = LocationHeatmap::kCols;
  spec.height = LocationHeatmap::kRows;
  spec.bands = 1;
  spec.data_type = "Float32";
  spec.georef.crs_wkt = crs_to_wkt("EPSG:4326");
  spec.georef.geotransform = {-180.0, LocationHeatmap::kCell, 0.0, 90.0,
                              0.0,    -LocationHeatmap::kCell};
  spec.georef.has_geotransform = true;
  spec.band_descriptions = {"probability"};
  spec.provenance = {{"AI_GENERATED", "YES"},
                     {"TARGET", "coords"},
                     {"MODEL", options.model},
                     {"SAMPLES", std::to_string(result.map.samples())},
                     {"SEED", std::to_string(options.seed)}};
  WriteOptions write;
  write.format = OutputFormat::kGTiff;
  write.overwrite = true;
  {
    AtomicRasterWriter writer(folder + "/location.tif", spec, write);
    const std::vector<float> values(p.begin(), p.end());
    writer.write(PixelWindow{0, 0, spec.width, spec.height}, values.data());
    writer.commit();
  }
  write_heat_png(p, folder + "/location.png");
  const GeoPoint peak = result.map.peak();
  nlohmann::json j = {{"scene", result.scene},
                      {"model", options.model},
                      {"samples", result.map.samples()},
                      {"located", result.map.located()},
                      {"seed", options.seed},
                      {"temperature", options.temperature},
                      {"top_p", options.top_p},
                      {"window", {result.window.x, result.window.y, result.window.width}},
                      {"peak", {{"lon", peak.lon}, {"lat", peak.lat}}},
                      {"peak_probability", result.map.peak_probability()},
                      {"grid_degrees", LocationHeatmap::kCell}};
  if (result.truth) {
    j["truth"] = {{"lon", result.truth->lon}, {"lat", result.truth->lat}};
    j["distance_km"] = great_circle_km(peak, *result.truth);
    j["expected_distance_km"] = result.map.expected_distance_km(*result.truth);
  }
  nlohmann::json draws = nlohmann::json::array();
  for (const auto& d : result.draws)
    draws.push_back(d.valid() ? nlohmann::json{d.lon, d.lat} : nlohmann::json(nullptr));
  j["draws"] = draws;
  write_atomically(folder + "/location.json", j.dump(1) + "\n");

  std::ostringstream html;
  html << "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>tm_locate: "
       << html_escape(fs::path(result.scene).filename().string())
       << "</title><style>body{font-family:sans-serif;margin:2em;max-width:80em}"
          "td,th{padding:.2em .8em;text-align:left}img{width:100%;image-rendering:pixelated}"
          "</style></head><body><h1>Where was this image taken?</h1>"
       << "<p>" << html_escape(result.scene) << ": " << result.map.samples()
       << " coordinate draws of " << html_escape(options.model) << " (temperature "
       << fixed_text(options.temperature, 2) << ", top-p " << fixed_text(options.top_p, 2)
       << ", seed " << options.seed << ") from the centre " << result.window.width
       << "-px window, counted on the 0.25&deg; grid. A model's guess, not a measurement.</p>"
       << "<table><tr><th>located draws</th><td>" << result.map.located() << " of "
       << result.map.samples() << "</td></tr><tr><th>most likely cell</th><td>"
       << fixed_text(peak.lat, 3) << "&deg; N, " << fixed_text(peak.lon, 3)
       << "&deg; E (p = " << fixed_text(result.map.peak_probability(), 3) << ")</td></tr>";
  if (result.truth)
    html << "<tr><th>scene centre</th><td>" << fixed_text(result.truth->lat, 3) << "&deg; N, "
         << fixed_text(result.truth->lon, 3) << "&deg; E</td></tr><tr><th>distance</th><td>"
         << fixed_text(great_circle_km(peak, *result.truth), 0) << " km (expected over the map: "
         << fixed_text(result.map.expected_distance_km(*result.truth), 0) << " km)</td></tr>";
  html << "</table>"
       << inline_png(folder + "/location.png",
                     "probability of the draws (log scale, graticule every 30°)")
       << "</body></html>\n";
  write_atomically(folder + "/location.html", html.str());
}

}  // namespace terramind::eval
