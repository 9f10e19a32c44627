// TMDataset: opening connection strings and descriptors, georeferencing, metadata, subdatasets.
#include "tm_dataset.h"

#include <exception>
#include <map>
#include <string>

#include "connection_string.h"
#include "descriptor.h"

namespace terramind::gdal_plugin {
namespace {

// How overview pixels are made (gdal_plugin/README.md, "Overviews").
constexpr const char* kOverviewPolicy =
    "each overview level k runs the model on the inputs averaged down by 2^k";
// The metadata domain holding the provenance items without their TM_ prefix.
constexpr const char* kProvenanceDomain = "TM";

}  // namespace

int TMDataset::Identify(GDALOpenInfo* open_info) {
  if (has_connection_prefix(open_info->pszFilename)) return TRUE;
  return looks_like_descriptor(open_info->pszFilename,
                               reinterpret_cast<const char*>(open_info->pabyHeader),
                               open_info->nHeaderBytes)
             ? TRUE
             : FALSE;
}

GDALDataset* TMDataset::Open(GDALOpenInfo* open_info) {
  if (!Identify(open_info)) return nullptr;
  if (open_info->eAccess == GA_Update) {
    CPLError(CE_Failure, CPLE_NotSupported, "TM: generated rasters are read-only");
    return nullptr;
  }
  try {
    use_host_gdal_drivers();  // GDAL is running us: never GDALAllRegister() from inside a driver
    const std::string name = open_info->pszFilename;
    GenerationSettings settings =
        has_connection_prefix(name) ? parse_connection_string(name) : load_descriptor(name);
    for (char** option = open_info->papszOpenOptions; option && *option; ++option) {
      char* key = nullptr;
      const char* value = CPLParseNameValue(*option, &key);
      if (key && value) apply_setting(settings, key, value, "");
      CPLFree(key);
    }
    validate(settings);
    LevelInputs inputs = open_inputs(settings);  // missing or unfit inputs fail before the model
    const RasterInfo source = inputs.front().reader.info();
    if (settings.targets.size() != 1) return OpenSubdatasetList(settings, source);

    auto dataset =
        std::make_unique<TMDataset>(GeneratedScene::acquire(settings, source), 0, source);
    dataset->inputs_ = std::move(inputs);
    const GeneratedScene& scene = *dataset->scene_;
    for (int level = 1; level < scene.level_count(); ++level) {
      dataset->overviews_.push_back(std::make_unique<TMDataset>(dataset->scene_, level, source));
      dataset->overviews_.back()->SetDescriptiveMetadata();
    }
    dataset->SetDescription(name.c_str());
    dataset->SetDescriptiveMetadata();
    return dataset.release();
  } catch (const SettingsError& e) {
    CPLError(CE_Failure, CPLE_IllegalArg, "TM: %s", e.what());
  } catch (const std::exception& e) {
    CPLError(CE_Failure, CPLE_OpenFailed, "TM: %s", e.what());
  } catch (...) {
    CPLError(CE_Failure, CPLE_OpenFailed, "TM: opening %s failed", open_info->pszFilename);
  }
  return nullptr;
}

GDALDataset* TMDataset::OpenSubdatasetList(const GenerationSettings& settings,
                                           const RasterInfo& source) {
  std::vector<std::string> targets = settings.targets;
  std::string model_note;
  if (targets.empty()) {  // ask the runtime what the model can generate
    std::shared_ptr<SharedModel> model = acquire_model(settings);
    targets = model->locked([](WindowModel& m) { return m.targets(); });
    model_note = model->runtime_description();
  }
  auto dataset = std::unique_ptr<TMDataset>(new TMDataset());
  dataset->nRasterXSize = source.width;
  dataset->nRasterYSize = source.height;
  dataset->SetGeoreferencing(source, 1);
  std::string inputs;
  for (const SceneInput& input : settings.inputs)
    inputs += (inputs.empty() ? "" : ", ") + input.modality;
  CPLStringList list;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const std::string prefix = "SUBDATASET_" + std::to_string(i + 1);
    list.SetNameValue((prefix + "_NAME").c_str(),
                      connection_string_for(settings, targets[i]).c_str());
    list.SetNameValue((prefix + "_DESC").c_str(),
                      (targets[i] + " generated from " + inputs +
                       (settings.model.empty() ? "" : " by " + settings.model))
                          .c_str());
  }
  dataset->SetMetadata(list.List(), "SUBDATASETS");
  if (!model_note.empty()) dataset->SetMetadataItem("TM_RUNTIME", model_note.c_str());
  return dataset.release();
}

TMDataset::TMDataset(std::shared_ptr<GeneratedScene> scene, int level, const RasterInfo& source)
    : scene_(std::move(scene)), level_(level) {
  const WindowGrid& grid = scene_->level(level).grid;
  nRasterXSize = grid.raster_width();
  nRasterYSize = grid.raster_height();
  SetGeoreferencing(source, scene_->level(level).factor);
  const int bands = scene_->spec().is_classes ? 1 : scene_->spec().channels;
  for (int b = 1; b <= bands; ++b) SetBand(b, new TMRasterBand(this, b));
}

TMDataset::~TMDataset() { FlushCache(true); }

// The source grid bit for bit; an overview covers the same extent with coarser pixels.
void TMDataset::SetGeoreferencing(const RasterInfo& source, int factor) {
  has_geotransform_ = source.georef.has_geotransform;
  for (int i = 0; i < 6; ++i) geotransform_[i] = source.georef.geotransform[i];
  if (factor > 1) {
    const double sx = static_cast<double>(source.width) / nRasterXSize;
    const double sy = static_cast<double>(source.height) / nRasterYSize;
    geotransform_[1] *= sx;
    geotransform_[2] *= sy;
    geotransform_[4] *= sx;
    geotransform_[5] *= sy;
  }
  has_srs_ = !source.georef.crs_wkt.empty() &&
             srs_.importFromWkt(source.georef.crs_wkt.c_str()) == OGRERR_NONE;
  srs_.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
}

// tm_generate's provenance for the same settings (output_provenance: TM_<KEY> items and
// TIFFTAG_*), plus the runtime and the overview policy; the TM_<KEY> items also as <KEY> in the
// "TM" domain. Default-domain items survive gdal_translate into the copy, custom domains do not.
void TMDataset::SetDescriptiveMetadata() {
  const OutputProvenance& provenance = scene_->provenance();
  std::map<std::string, std::string> items = provenance.tm_domain;
  // A runtime without provenance(): at least the model as the settings name it.
  if (!scene_->settings().model.empty()) items.emplace("MODEL_SOURCE", scene_->settings().model);
  items["RUNTIME"] = scene_->model().runtime_description();
  items["OVERVIEWS"] = kOverviewPolicy;
  CPLStringList domain;
  for (const auto& [key, value] : items) {
    SetMetadataItem(("TM_" + key).c_str(), value.c_str());
    domain.SetNameValue(key.c_str(), value.c_str());
  }
  for (const auto& [tag, value] : provenance.tiff_tags) SetMetadataItem(tag.c_str(), value.c_str());
  SetMetadata(domain.List(), kProvenanceDomain);
}

CPLErr TMDataset::GetGeoTransform(double* transform) {
  std::copy(geotransform_, geotransform_ + 6, transform);
  return has_geotransform_ ? CE_None : CE_Failure;
}

const OGRSpatialReference* TMDataset::GetSpatialRef() const { return has_srs_ ? &srs_ : nullptr; }

char** TMDataset::GetMetadataDomainList() {
  return BuildMetadataDomainList(GDALDataset::GetMetadataDomainList(), TRUE, "TM_STATISTICS",
                                 nullptr);
}

char** TMDataset::GetMetadata(const char* domain) {
  if (domain && EQUAL(domain, "TM_STATISTICS")) return StatisticsMetadata();
  return GDALDataset::GetMetadata(domain);
}

const char* TMDataset::GetMetadataItem(const char* name, const char* domain) {
  if (domain && EQUAL(domain, "TM_STATISTICS"))
    return CSLFetchNameValue(StatisticsMetadata(), name);
  return GDALDataset::GetMetadataItem(name, domain);
}

// Work done so far for the scene shared by all datasets with these settings: windows generated
// per level, cache use. For tests and for users wondering why a view is slow.
char** TMDataset::StatisticsMetadata() {
  statistics_.Clear();
  if (!scene_) return nullptr;
  const SceneStatistics s = scene_->statistics();
  std::size_t total = 0;
  for (std::size_t level = 0; level < s.generated_per_level.size(); ++level) {
    total += s.generated_per_level[level];
    statistics_.SetNameValue(("WINDOWS_GENERATED_LEVEL_" + std::to_string(level)).c_str(),
                             std::to_string(s.generated_per_level[level]).c_str());
  }
  statistics_.SetNameValue("WINDOWS_GENERATED", std::to_string(total).c_str());
  statistics_.SetNameValue("WINDOWS_SKIPPED", std::to_string(s.skipped).c_str());
  statistics_.SetNameValue("MODEL_CALLS", std::to_string(s.model_calls).c_str());
  statistics_.SetNameValue("CACHE_HITS", std::to_string(s.cache_hits).c_str());
  statistics_.SetNameValue("CACHE_ENTRIES", std::to_string(s.cache_entries).c_str());
  statistics_.SetNameValue("CACHE_BYTES", std::to_string(s.cache_bytes).c_str());
  return statistics_.List();
}

CPLErr TMDataset::IBuildOverviews(const char*, int overview_count, const int* overview_list, int,
                                  const int*, GDALProgressFunc progress, void* progress_data,
                                  CSLConstList) {
  if (!scene_ || level_ != 0) {
    CPLError(CE_Failure, CPLE_NotSupported,
             "TM: this dataset lists subdatasets and has no pixels: open one of them; TM "
             "datasets have built-in overviews (overviews=auto|N), there is nothing to build");
    return CE_Failure;
  }
  std::string levels;
  for (int k = 1; k < scene_->level_count(); ++k) {
    const WindowGrid& grid = scene_->level(k).grid;
    levels += (levels.empty() ? "" : ", ") + std::to_string(scene_->level(k).factor) + " (" +
              std::to_string(grid.raster_width()) + "x" + std::to_string(grid.raster_height()) +
              ")";
  }
  const std::string have = levels.empty() ? "none" : "factors " + levels;
  if (overview_count == 0) {  // gdaladdo -clean
    CPLError(CE_Failure, CPLE_NotSupported,
             "TM: TM datasets have built-in overviews (overviews=auto|N; here %s), generated on "
             "demand; there is nothing to clean (open with overviews=0 for none)",
             have.c_str());
    return CE_Failure;
  }
  std::string missing;
  for (int i = 0; i < overview_count; ++i) {
    bool built_in = false;
    for (int k = 1; k < scene_->level_count(); ++k)
      built_in = built_in || scene_->level(k).factor == overview_list[i];
    if (!built_in) missing += (missing.empty() ? "" : ", ") + std::to_string(overview_list[i]);
  }
  if (!missing.empty()) {
    CPLError(CE_Failure, CPLE_NotSupported,
             "TM: TM datasets have built-in overviews (overviews=auto|N; here %s); nothing to "
             "build, and none can be added: factor %s is not one of them (overviews=N gives "
             "factors 2 to 2^N)",
             have.c_str(), missing.c_str());
    return CE_Failure;
  }
  CPLError(CE_Warning, CPLE_AppDefined,
           "TM: TM datasets have built-in overviews (overviews=auto|N; here %s), generated on "
           "demand by the model; nothing to build",
           have.c_str());
  if (progress) progress(1.0, nullptr, progress_data);
  return CE_None;
}

const LevelInputs& TMDataset::Inputs() {
  if (!inputs_) {
    const WindowGrid& grid = scene_->level(level_).grid;
    inputs_ =
        open_downsampled_inputs(scene_->settings(), grid.raster_width(), grid.raster_height());
  }
  return *inputs_;
}

const BlendedBlock& TMDataset::Block(int block_x, int block_y) {
  if (block_x == last_block_x_ && block_y == last_block_y_) return last_block_;
  int bw = 0, bh = 0;
  GetRasterBand(1)->GetBlockSize(&bw, &bh);
  PixelWindow area{block_x * bw, block_y * bh, 0, 0};
  area.width = std::min(bw, nRasterXSize - area.x);
  area.height = std::min(bh, nRasterYSize - area.y);
  last_block_x_ = last_block_y_ = -1;  // a failure leaves no stale block behind
  last_block_ = scene_->blend(level_, area, Inputs());
  last_block_x_ = block_x;
  last_block_y_ = block_y;
  return last_block_;
}

}  // namespace terramind::gdal_plugin
