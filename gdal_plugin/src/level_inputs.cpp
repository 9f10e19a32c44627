// Opening inputs, and their averaged-down versions for overviews.
#include "level_inputs.h"

#include <gdal_priv.h>
#include <gdal_utils.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>

namespace terramind::gdal_plugin {
namespace {

// Class maps cannot be averaged: the most frequent class stands for the coarse pixel.
const char* resampling_for(const Modality& modality) {
  return modality.is_class_map() ? "mode" : "average";
}

// Writes a VRT of `path` resampled to width x height into /vsimem and returns its name.
std::string write_downsampled_vrt(const std::string& path, const Modality& modality, int width,
                                  int height) {
  static std::atomic<unsigned> counter{0};
  const std::string vrt =
      "/vsimem/tm_gdal_plugin/overview_" + std::to_string(++counter) + "_" + modality.name + ".vrt";
  std::unique_ptr<GDALDataset, void (*)(GDALDataset*)> source(
      GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY),
      [](GDALDataset* ds) { GDALClose(ds); });
  if (!source) throw RasterError("cannot reopen " + path + " for an overview");
  const std::string w = std::to_string(width), h = std::to_string(height);
  const char* argv[] = {
      "-of", "VRT", "-outsize", w.c_str(), h.c_str(), "-r", resampling_for(modality), nullptr};
  GDALTranslateOptions* options = GDALTranslateOptionsNew(const_cast<char**>(argv), nullptr);
  GDALDatasetH out = GDALTranslate(vrt.c_str(), source.get(), options, nullptr);
  GDALTranslateOptionsFree(options);
  if (!out)
    throw RasterError("cannot resample " + path + " for an overview: " + CPLGetLastErrorMsg());
  GDALClose(out);  // flushes the VRT into /vsimem
  return vrt;
}

}  // namespace

LevelInputs open_inputs(const GenerationSettings& settings) {
  OpenOptions options;  // georeferencing required, as tm_generate without --pixel-grid
  options.allow_any_resolution = settings.allow_resolution;  // tm_generate --allow-resolution
  return open_scene_inputs(settings.inputs, options, " (opt.allow_resolution=YES)");
}

LevelInputs open_downsampled_inputs(const GenerationSettings& settings, int width, int height) {
  LevelInputs inputs;
  for (const SceneInput& input : settings.inputs) {
    const Modality& modality = ModalityRegistry::instance().get(input.modality);
    const std::string vrt = write_downsampled_vrt(input.path, modality, width, height);
    // The open dataset keeps what it needs; the in-memory file can go at once.
    struct Unlink {
      std::string path;
      ~Unlink() { VSIUnlink(path.c_str()); }
    } unlink{vrt};
    inputs.push_back({&modality, SceneReader::open(vrt), input.path});
  }
  return inputs;
}

}  // namespace terramind::gdal_plugin
