// embed_folder: image-level TerraMind embeddings of a labelled folder (tm/evaluation.h).
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include "eval_internal.h"
#include "tm/model.h"
#include "tm/model_cache.h"
#include "tm/registry.h"

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
  const auto& stats = modality.stats(stats_version_from_string(model.card().stats_version));
  FeatureOptions features;
  features.layers = {options.layer};
  std::vector<Embedded> out;
  torch::NoGradGuard no_grad;
  for (const auto& [path, label] : items) {
    Image image = read_image(path);
    if (image.bands != modality.channels())
      throw std::invalid_argument(path + ": " + std::to_string(image.bands) + " bands, " +
                                  modality.name + " has " + std::to_string(modality.channels()));
    if (image.height % 16 != 0 || image.width % 16 != 0)
      throw std::invalid_argument(path + ": " + std::to_string(image.width) + "x" +
                                  std::to_string(image.height) +
                                  " pixels; sides must be multiples of 16");
    const std::size_t plane = static_cast<std::size_t>(image.height) * image.width;
    for (int b = 0; b < image.bands; ++b)
      for (std::size_t i = 0; i < plane; ++i)
        if (std::isnan(image.values[b * plane + i]))
          image.values[b * plane + i] = static_cast<float>(stats.mean[b]);
    const at::Tensor x = torch::from_blob(
        image.values.data(), {1, image.bands, image.height, image.width}, torch::kFloat32);
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
