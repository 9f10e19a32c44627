// embed_folder: image-level TerraMind embeddings of a labelled folder (tm/evaluation.h).
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "eval_internal.h"
#include "tm/model.h"
#include "tm/model_cache.h"
#include "tm/registry.h"
#include "tm/tiling.h"

namespace terramind::eval {
namespace fs = std::filesystem;

std::vector<Embedded> embed_folder(const std::string& folder, const EmbeddingOptions& options,
                                   const std::function<void(int, int)>& progress) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw std::invalid_argument(folder + ": not a folder");
  std::vector<std::pair<std::string, std::string>> items;  // path, label
  for (const auto& c : fs::directory_iterator(folder, ec)) {
    if (!c.is_directory()) continue;
    for (const auto& f : fs::directory_iterator(c.path(), ec)) {
      const auto ext = f.path().extension().string();
      if (ext == ".tif" || ext == ".tiff")
        items.emplace_back(f.path().string(), c.path().filename().string());
    }
  }
  if (items.empty())
    throw std::invalid_argument(folder + ": no rasters in class sub-folders (<class>/<image>.tif)");
  std::sort(items.begin(), items.end());
  const Modality& modality = ModalityRegistry::instance().get(options.modality);
  const TerraMindModel model = TerraMindModel::open(resolve_model_argument(options.model, {}));
  const StatsVersion version = stats_version_from_string(model.card().stats_version);
  FeatureOptions features;
  features.layers = {options.layer};
  features.inputs_standardised = true;  // prepare_window standardises, as tm_generate does
  std::vector<Embedded> out;
  torch::NoGradGuard no_grad;
  for (const auto& [path, label] : items) {
    const SceneReader reader = SceneReader::open(path);
    const RasterInfo& info = reader.info();
    if (info.band_count != modality.channels())
      throw std::invalid_argument(path + ": " + std::to_string(info.band_count) + " bands, " +
                                  modality.name + " has " + std::to_string(modality.channels()));
    if (info.height % 16 != 0 || info.width % 16 != 0)
      throw std::invalid_argument(path + ": " + std::to_string(info.width) + "x" +
                                  std::to_string(info.height) +
                                  " pixels; sides must be multiples of 16");
    // The tiling engine's reading and filling: invalid and implausible pixels enter as the
    // modality's mean, values are standardised with the card's statistics.
    const WindowData data =
        read_input_window(reader, modality, {0, 0, info.width, info.height}, EdgePolicy::kFill);
    std::vector<float> values(static_cast<std::size_t>(data.bands) * data.height * data.width);
    std::vector<std::uint8_t> valid(static_cast<std::size_t>(data.height) * data.width);
    prepare_window(data, modality, version, values.data(), valid.data());
    const at::Tensor x =
        torch::from_blob(values.data(), {1, data.bands, data.height, data.width}, torch::kFloat32);
    const at::Tensor f = model.features({{modality.name, x}}, features).front();  // [1, n, D]
    const at::Tensor mean = f.mean(1).squeeze(0).contiguous().to(at::kFloat);
    Embedded e;
    e.path = path;
    e.label = label;
    e.vector.assign(mean.data_ptr<float>(), mean.data_ptr<float>() + mean.numel());
    out.push_back(std::move(e));
    if (progress) progress(static_cast<int>(out.size()), static_cast<int>(items.size()));
  }
  return out;
}

}  // namespace terramind::eval
