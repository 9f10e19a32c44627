// The TM driver's dataset and band: a generated modality as a read-only virtual raster on the
// source grid. Pixels are made on demand by GeneratedScene, block by block.
#pragma once

#include <gdal_priv.h>
#include <ogr_spatialref.h>

#include <memory>
#include <optional>
#include <vector>

#include "generated_scene.h"

namespace terramind::gdal_plugin {

class TMRasterBand;

class TMDataset final : public GDALDataset {
 public:
  static int Identify(GDALOpenInfo* open_info);
  static GDALDataset* Open(GDALOpenInfo* open_info);

  // Full resolution (level 0, which owns the overviews) or one overview level.
  TMDataset(std::shared_ptr<GeneratedScene> scene, int level, const RasterInfo& source);
  ~TMDataset() override;

  CPLErr GetGeoTransform(double* transform) override;
  const OGRSpatialReference* GetSpatialRef() const override;
  char** GetMetadataDomainList() override;
  char** GetMetadata(const char* domain = "") override;
  const char* GetMetadataItem(const char* name, const char* domain = "") override;

 protected:
  // Overviews are built in (generated on demand, overviews=auto|N): asking for levels the dataset
  // has succeeds without doing anything, with a warning saying so; any other request fails
  // naming the levels there are. Never writes an .ovr file.
  CPLErr IBuildOverviews(const char* resampling, int overview_count, const int* overview_list,
                         int band_count, const int* band_list, GDALProgressFunc progress,
                         void* progress_data, CSLConstList options) override;

 private:
  friend class TMRasterBand;

  // A dataset without bands listing one subdataset per target (no target, or several, given).
  static GDALDataset* OpenSubdatasetList(const GenerationSettings& settings,
                                         const RasterInfo& source);
  TMDataset() = default;
  void SetGeoreferencing(const RasterInfo& source, int factor);
  void SetDescriptiveMetadata();
  // The blended block (bx, by), all channels; the last one is kept for the other bands.
  const BlendedBlock& Block(int block_x, int block_y);
  const LevelInputs& Inputs();
  char** StatisticsMetadata();

  std::shared_ptr<GeneratedScene> scene_;
  int level_ = 0;
  std::optional<LevelInputs> inputs_;  // opened on first read (overviews) or at Open (level 0)
  std::vector<std::unique_ptr<TMDataset>> overviews_;
  double geotransform_[6] = {0.0, 1.0, 0.0, 0.0, 0.0, 1.0};
  bool has_geotransform_ = false;
  OGRSpatialReference srs_;
  bool has_srs_ = false;
  BlendedBlock last_block_;
  int last_block_x_ = -1;
  int last_block_y_ = -1;
  CPLStringList statistics_;  // TM_STATISTICS domain, refreshed on each query
};

class TMRasterBand final : public GDALRasterBand {
 public:
  TMRasterBand(TMDataset* dataset, int band);

  CPLErr IReadBlock(int block_x, int block_y, void* image) override;
  double GetNoDataValue(int* has_nodata = nullptr) override;
  GDALColorInterp GetColorInterpretation() override;
  GDALColorTable* GetColorTable() override;
  char** GetCategoryNames() override;
  int GetOverviewCount() override;
  GDALRasterBand* GetOverview(int index) override;

 private:
  void ReadClasses(const BlendedBlock& block, GByte* image) const;
  void ReadChannel(const BlendedBlock& block, void* image) const;

  std::shared_ptr<GeneratedScene> scene_;  // the bands outlive ~TMDataset (GDAL deletes them later)
  const TargetSpec& spec_;
  std::unique_ptr<GDALColorTable> colours_;
  CPLStringList category_names_;
};

}  // namespace terramind::gdal_plugin
