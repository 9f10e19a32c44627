// Scenes <-> token rasters (tm/scene_tokenizing.h).
#include "tm/scene_tokenizing.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "tm/ascii_strings.h"
#include "tm/interrupt.h"
#include "tm/pipeline.h"
#include "tm/registry.h"
#include "tm/tile_grid.h"

namespace terramind {

namespace {

using Clock = std::chrono::steady_clock;

int ceil_div(int a, int b) { return (a + b - 1) / b; }

// Band-sequential values of `planes` [bands, size, size] cropped to the window's size.
template <typename T>
std::vector<T> cropped_planes(const at::Tensor& planes, const PixelWindow& w) {
  const at::Tensor part = planes.slice(1, 0, w.height).slice(2, 0, w.width).contiguous();
  const T* data = part.data_ptr<T>();
  return std::vector<T>(data, data + part.numel());
}

GeoReference scaled(GeoReference georef, double factor) {
  if (georef.has_geotransform)
    for (int i : {1, 2, 4, 5}) georef.geotransform[static_cast<std::size_t>(i)] *= factor;
  return georef;
}

void require_tile(int tile, const TokenizerCard& card) {
  const int64_t multiple = card.decode_size_multiple();
  if (tile <= 0 || tile % multiple != 0)
    throw std::invalid_argument("tile size " + std::to_string(tile) +
                                " is not a positive multiple of " + std::to_string(multiple) +
                                " (needed by the " + card.modality + " " + to_string(card.kind) +
                                " tokenizer)");
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

at::Tensor window_tensor(const WindowData& data) {
  return at::from_blob(const_cast<float*>(data.values.data()),
                       {1, data.bands, data.height, data.width}, at::kFloat)
      .clone();
}

// The card as it goes into token raster metadata: compact, its checkpoint an absolute path.
std::string recorded_card(const TokenizerCard& card) {
  TokenizerCard recorded = card;
  if (!recorded.checkpoint.empty())
    recorded.checkpoint =
        std::filesystem::absolute(recorded.checkpoint).lexically_normal().string();
  return nlohmann::json::parse(recorded.to_json()).dump();
}

}  // namespace

TokenRasterMetadata token_metadata_or_assumed(const std::string& tokens_path,
                                              const TokenizerCard& card) {
  const auto items = read_raster_metadata(tokens_path);
  if (items.count("TM_FORMAT")) return TokenRasterMetadata::from_metadata(items, tokens_path);
  // A bare token grid (e.g. from another tool): the tokenizer's facts, 16 px per token.
  const RasterInfo info = inspect_raster(tokens_path);
  TokenRasterMetadata meta;
  meta.modality = card.modality;
  meta.tokenizer = card.name;
  meta.fsq_levels = card.fsq_levels;
  meta.vocab_size = static_cast<long>(card.vocab_size());
  meta.patch_size = static_cast<int>(card.patch_size);
  meta.source_width = info.width * meta.patch_size;
  meta.source_height = info.height * meta.patch_size;
  return meta;
}

TokenizingSummary encode_scene(const std::string& scene_path, const std::string& modality,
                               const ImageTokenizer& tokenizer, const std::string& tokens_path,
                               const EncodeSceneOptions& options) {
  const auto start = Clock::now();
  const TokenizerCard& card = tokenizer.card();
  const Modality& m = ModalityRegistry::instance().get(modality);
  if (m.name != card.modality)
    throw std::invalid_argument("the tokenizer " + card.name + " is for " + card.modality +
                                ", not " + m.name);
  require_tile(options.tile_size, card);
  check_output_path(tokens_path, options.write.overwrite);
  OpenOptions open;
  open.allow_ungeoreferenced = options.allow_ungeoreferenced;
  const SceneReader reader = SceneReader::open(scene_path, open);
  const RasterInfo& info = reader.info();
  require_modality(info, m);

  const int patch = static_cast<int>(card.patch_size);
  const int grid_w = ceil_div(info.width, patch), grid_h = ceil_div(info.height, patch);
  TokenRasterMetadata meta;
  meta.modality = m.name;
  meta.tokenizer = card.name;
  meta.tokenizer_card = recorded_card(card);
  meta.fsq_levels = card.fsq_levels;
  meta.vocab_size = static_cast<long>(tokenizer.vocab_size());
  meta.patch_size = patch;
  meta.tile_size = options.tile_size;
  meta.source_width = info.width;
  meta.source_height = info.height;

  RasterSpec spec;
  spec.width = grid_w;
  spec.height = grid_h;
  spec.bands = 1;
  spec.data_type = tokenizer.vocab_size() <= 65536 ? "UInt16" : "UInt32";
  spec.georef = scaled(info.georef, patch);
  spec.band_descriptions = {m.name + " tokens"};
  spec.metadata = meta.to_metadata();
  const OutputProvenance provenance = tool_provenance(
      m.name + " tokens", "the tokenizer " + card.name, {{scene_path, m.name}}, {}, false);
  spec.provenance = provenance.tm_domain;
  for (const auto& [key, value] : provenance.tiff_tags) spec.metadata[key] = value;
  AtomicRasterWriter writer(tokens_path, spec, options.write);

  // The same tiles on the scene (pixels) and on the token raster (tile size / patch tokens).
  const TileGrid tiles(info.width, info.height, options.tile_size);
  const TileGrid token_tiles(grid_w, grid_h, options.tile_size / patch);
  std::vector<int> batch;
  std::vector<at::Tensor> images;
  auto flush = [&]() {
    if (batch.empty()) return;
    at::Tensor tokens;
    try {
      tokens = tokenizer.encode(at::cat(images)).to(at::kLong);
    } catch (const std::invalid_argument& e) {
      const PixelWindow w = tiles.tile(batch.front());
      throw std::invalid_argument(scene_path + (batch.size() > 1 ? ", tiles from" : ", tile at") +
                                  " pixel (" + std::to_string(w.x) + ", " + std::to_string(w.y) +
                                  "): " + e.what());
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const PixelWindow w = token_tiles.footprint(batch[i]);
      const auto ids = cropped_planes<int64_t>(tokens[static_cast<int64_t>(i)].unsqueeze(0), w);
      if (spec.data_type == "UInt16") {
        const std::vector<std::uint16_t> narrow(ids.begin(), ids.end());
        writer.write(w, narrow.data());
      } else {
        const std::vector<float> wide(ids.begin(), ids.end());  // exact below 2^24
        writer.write(w, wide.data());
      }
    }
    if (options.progress.tiles)
      options.progress.tiles(static_cast<std::size_t>(batch.back() + 1),
                             static_cast<std::size_t>(tiles.count()));
    batch.clear();
    images.clear();
  };
  for (int index = 0; index < tiles.count(); ++index) {
    throw_if_interrupted();
    const WindowData data = reader.read(tiles.tile(index), EdgePolicy::kReflect);
    const at::Tensor x = window_tensor(data);
    const at::Tensor valid = at::from_blob(const_cast<std::uint8_t*>(data.valid.data()),
                                           {1, 1, data.height, data.width}, at::kByte)
                                 .to(at::kBool);
    // Missing pixels: class 0 ("no data") for class inputs, the modality mean otherwise.
    images.push_back(at::where(valid, tokenizer.standardise(x), at::zeros_like(x)));
    batch.push_back(index);
    if (static_cast<int>(batch.size()) >= std::max(1, options.batch_size)) flush();
  }
  flush();
  writer.commit();
  TokenizingSummary summary;
  summary.tiles = tiles.count();
  summary.tile_size = options.tile_size;
  summary.width = grid_w;
  summary.height = grid_h;
  summary.data_type = spec.data_type;
  summary.seconds = seconds_since(start);
  return summary;
}

TokenizingSummary decode_scene(const std::string& tokens_path, const ImageTokenizer& tokenizer,
                               const std::string& output_path, const DecodeSceneOptions& options) {
  const auto start = Clock::now();
  const TokenizerCard& card = tokenizer.card();
  const TokenRasterMetadata meta = token_metadata_or_assumed(tokens_path, card);
  if (meta.fsq_levels != card.fsq_levels || meta.modality != card.modality)
    throw std::invalid_argument(tokens_path + " holds " + meta.modality + " tokens of FSQ " +
                                join(meta.fsq_levels, "-") + " (" + meta.tokenizer +
                                "); the tokenizer " + card.name + " is for " + card.modality +
                                " with FSQ " + join(card.fsq_levels, "-"));
  const int patch = static_cast<int>(card.patch_size);
  if (meta.patch_size != patch)
    throw std::invalid_argument(tokens_path + ": tokens of " + std::to_string(meta.patch_size) +
                                " px, the tokenizer uses " + std::to_string(patch));
  const int tile = options.tile_size.value_or(meta.tile_size);
  require_tile(tile, card);

  OpenOptions open;
  open.allow_ungeoreferenced = true;  // token rasters carry whatever georeferencing the scene had
  const SceneReader reader = SceneReader::open(tokens_path, open);
  const RasterInfo& info = reader.info();
  if (info.band_count != 1)
    throw RasterError(tokens_path + " has " + std::to_string(info.band_count) +
                      " bands; a token raster has one");
  const int width = meta.source_width, height = meta.source_height;
  if (ceil_div(width, patch) != info.width || ceil_div(height, patch) != info.height)
    throw RasterError(tokens_path + " is " + std::to_string(info.width) + "x" +
                      std::to_string(info.height) + " tokens, but its metadata describes a " +
                      std::to_string(width) + "x" + std::to_string(height) + " px scene");

  const Modality& m = ModalityRegistry::instance().get(card.modality);
  const bool classes = card.class_input;
  check_output_path(output_path, options.write.overwrite);
  if (!options.probabilities_path.empty()) {
    if (!classes)
      throw std::invalid_argument("class probabilities exist only for class tokenizers (LULC)");
    check_output_path(options.probabilities_path, options.write.overwrite);
  }
  RasterSpec spec;
  spec.width = width;
  spec.height = height;
  spec.georef = scaled(info.georef, 1.0 / patch);
  spec.metadata = {{"TM_DECODED_FROM", std::filesystem::path(tokens_path).filename().string()},
                   {"TM_TOKENIZER", card.name}};
  const int64_t steps = options.steps > 0 ? options.steps : card.diffusion.default_steps;
  if (!classes) spec.metadata["TM_DIFFUSION_STEPS"] = std::to_string(steps);
  std::map<std::string, std::string> items;
  if (!classes) {
    items["SEED"] = std::to_string(options.seed);
    items["CLAMP"] = options.clamp ? "YES" : "NO";
  }
  const OutputProvenance provenance =
      tool_provenance(m.name, "the tokenizer " + card.name, {{tokens_path, "TOKENS"}}, items, true);
  spec.provenance = provenance.tm_domain;
  for (const auto& [key, value] : provenance.tiff_tags) spec.metadata[key] = value;
  RasterSpec probabilities = spec;
  if (classes) {
    spec.bands = 1;
    spec.data_type = "Byte";
    spec.classes = ModalityRegistry::instance().lulc_classes();
    spec.band_descriptions = {m.name};
    probabilities.bands = static_cast<int>(card.channels);
    probabilities.data_type = "Float32";
    for (const auto& c : spec.classes) probabilities.band_descriptions.push_back(c.name);
    probabilities.band_descriptions.resize(static_cast<std::size_t>(probabilities.bands));
  } else {
    spec.bands = m.channels();
    spec.data_type = m.output_type.empty() ? "Float32" : m.output_type;
    for (const auto& b : m.bands) spec.band_descriptions.push_back(b.name);
  }
  AtomicRasterWriter writer(output_path, spec, options.write);
  std::unique_ptr<AtomicRasterWriter> probability_writer;
  if (!options.probabilities_path.empty())
    probability_writer = std::make_unique<AtomicRasterWriter>(options.probabilities_path,
                                                              probabilities, options.write);

  const TileGrid tiles(width, height, tile);
  const TileGrid token_tiles(info.width, info.height, tile / patch);
  std::vector<int> batch;
  std::vector<at::Tensor> grids, noises;
  auto flush = [&]() {
    if (batch.empty()) return;
    const at::Tensor tokens = at::cat(grids);
    at::Tensor decoded;
    try {
      DecodeOptions decode;
      decode.steps = steps;
      decode.clamp = options.clamp;
      if (!classes) decode.noise = at::cat(noises);
      decoded = tokenizer.destandardise(tokenizer.decode(tokens, decode));
    } catch (const std::invalid_argument& e) {
      const PixelWindow w = token_tiles.tile(batch.front());
      throw std::invalid_argument(tokens_path + ", tile at token (" + std::to_string(w.x) + ", " +
                                  std::to_string(w.y) + "): " + e.what());
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const PixelWindow w = tiles.footprint(batch[i]);
      const at::Tensor out = decoded[static_cast<int64_t>(i)];
      if (classes) {
        const auto ids = cropped_planes<std::uint8_t>(class_raster(out.unsqueeze(0)), w);
        writer.write(w, ids.data());
        if (probability_writer) {
          const auto p = cropped_planes<float>(class_probabilities(out.unsqueeze(0))[0], w);
          probability_writer->write(w, p.data());
        }
      } else {
        const auto values = cropped_planes<float>(out.contiguous(), w);
        writer.write(w, values.data());
      }
    }
    if (options.progress.tiles)
      options.progress.tiles(static_cast<std::size_t>(batch.back() + 1),
                             static_cast<std::size_t>(tiles.count()));
    batch.clear();
    grids.clear();
    noises.clear();
  };
  const int64_t T = tile;
  for (int index = 0; index < tiles.count(); ++index) {
    throw_if_interrupted();
    const WindowData data = reader.read(token_tiles.tile(index), EdgePolicy::kReplicate);
    if (data.valid_count() != data.valid.size())
      throw RasterError(tokens_path + ": nodata inside the token raster near token (" +
                        std::to_string(token_tiles.tile(index).x) + ", " +
                        std::to_string(token_tiles.tile(index).y) + ")");
    const at::Tensor values = window_tensor(data).squeeze(1);  // [1, h, w]
    if (!at::equal(values, values.round()))
      throw RasterError(tokens_path + ": token values must be whole numbers");
    grids.push_back(values.to(at::kLong));
    if (!classes) {
      // Per-tile noise: results do not depend on how tiles are batched.
      auto generator =
          at::make_generator<at::CPUGeneratorImpl>(options.seed + static_cast<uint64_t>(index));
      noises.push_back(
          at::randn({1, card.channels, T, T}, generator, at::TensorOptions(at::kFloat)));
    }
    batch.push_back(index);
    if (static_cast<int>(batch.size()) >= std::max(1, options.batch_size)) flush();
  }
  flush();
  writer.commit();
  if (probability_writer) probability_writer->commit();
  TokenizingSummary summary;
  summary.tiles = tiles.count();
  summary.tile_size = tile;
  summary.steps = classes ? 0 : steps;
  summary.width = width;
  summary.height = height;
  summary.data_type = spec.data_type;
  summary.seconds = seconds_since(start);
  return summary;
}

}  // namespace terramind
