// TMRasterBand: one channel of a continuous target, or the class map of a class target.
#include <algorithm>
#include <exception>
#include <vector>

#include "tm_dataset.h"

namespace terramind::gdal_plugin {

TMRasterBand::TMRasterBand(TMDataset* dataset, int band)
    : scene_(dataset->scene_), spec_(scene_->spec()) {
  poDS = dataset;
  nBand = band;
  nRasterXSize = dataset->GetRasterXSize();
  nRasterYSize = dataset->GetRasterYSize();
  const int block = scene_->block_size();
  nBlockXSize = std::min(block, nRasterXSize);
  nBlockYSize = std::min(block, nRasterYSize);
  if (spec_.is_classes) {
    // As generate_scene writes class maps: Byte, colour table and category names by class index.
    eDataType = GDT_Byte;
    SetDescription(spec_.name.c_str());
    colours_ = std::make_unique<GDALColorTable>();
    int max_index = 0;
    for (const auto& c : spec_.classes) max_index = std::max(max_index, c.index);
    std::vector<std::string> names(spec_.classes.empty() ? 0 : max_index + 1);
    for (const auto& c : spec_.classes) {
      const GDALColorEntry entry{c.rgb[0], c.rgb[1], c.rgb[2], 255};
      colours_->SetColorEntry(c.index, &entry);
      names[c.index] = c.name;
    }
    for (const auto& name : names) category_names_.AddString(name.c_str());
  } else {
    eDataType = GDALGetDataTypeByName(spec_.data_type.c_str());
    if (static_cast<std::size_t>(band) <= spec_.band_descriptions.size())
      SetDescription(spec_.band_descriptions[band - 1].c_str());
  }
}

double TMRasterBand::GetNoDataValue(int* has_nodata) {
  if (has_nodata) *has_nodata = TRUE;
  return spec_.nodata;
}

GDALColorInterp TMRasterBand::GetColorInterpretation() {
  return colours_ ? GCI_PaletteIndex : GCI_GrayIndex;
}

GDALColorTable* TMRasterBand::GetColorTable() { return colours_.get(); }

char** TMRasterBand::GetCategoryNames() {
  return category_names_.empty() ? nullptr : category_names_.List();
}

int TMRasterBand::GetOverviewCount() {
  return static_cast<int>(static_cast<TMDataset*>(poDS)->overviews_.size());
}

GDALRasterBand* TMRasterBand::GetOverview(int index) {
  auto* dataset = static_cast<TMDataset*>(poDS);
  if (index < 0 || index >= static_cast<int>(dataset->overviews_.size())) return nullptr;
  return dataset->overviews_[index]->GetRasterBand(nBand);
}

CPLErr TMRasterBand::IReadBlock(int block_x, int block_y, void* image) {
  try {
    const BlendedBlock& block = static_cast<TMDataset*>(poDS)->Block(block_x, block_y);
    if (spec_.is_classes) {
      ReadClasses(block, static_cast<GByte*>(image));
    } else {
      ReadChannel(block, image);
    }
    return CE_None;
  } catch (const std::exception& e) {  // never let an exception into the host application
    CPLError(CE_Failure, CPLE_AppDefined, "TM: generating block (%d, %d) of %s failed: %s", block_x,
             block_y, spec_.name.c_str(), e.what());
  } catch (...) {
    CPLError(CE_Failure, CPLE_AppDefined, "TM: generating block (%d, %d) of %s failed", block_x,
             block_y, spec_.name.c_str());
  }
  return CE_Failure;
}

// The arg-max class of the blended probabilities, as generate_scene writes it: first maximum wins,
// nodata where no input holds data. Pixels of a partial edge block outside the raster: nodata.
void TMRasterBand::ReadClasses(const BlendedBlock& block, GByte* image) const {
  const auto nodata = static_cast<GByte>(spec_.nodata);
  std::fill(image, image + static_cast<std::size_t>(nBlockXSize) * nBlockYSize, nodata);
  const std::size_t plane = block.valid.size();
  for (int r = 0; r < block.area.height; ++r)
    for (int c = 0; c < block.area.width; ++c) {
      const std::size_t i = static_cast<std::size_t>(r) * block.area.width + c;
      if (!block.valid[i]) continue;
      int best = 0;
      for (int ch = 1; ch < block.channels; ++ch)
        if (block.values[ch * plane + i] > block.values[best * plane + i]) best = ch;
      image[static_cast<std::size_t>(r) * nBlockXSize + c] =
          static_cast<GByte>(spec_.classes.empty() ? best : spec_.classes[best].index);
    }
}

// One channel with nodata where no input holds data, converted to the band type as GDAL converts
// the Float32 rows generate_scene writes.
void TMRasterBand::ReadChannel(const BlendedBlock& block, void* image) const {
  const auto nodata = static_cast<float>(spec_.nodata);
  std::vector<float> values(static_cast<std::size_t>(nBlockXSize) * nBlockYSize, nodata);
  const std::size_t plane = block.valid.size();
  const float* channel = block.values.data() + (nBand - 1) * plane;
  for (int r = 0; r < block.area.height; ++r)
    for (int c = 0; c < block.area.width; ++c) {
      const std::size_t i = static_cast<std::size_t>(r) * block.area.width + c;
      if (block.valid[i]) values[static_cast<std::size_t>(r) * nBlockXSize + c] = channel[i];
    }
  const int size = GDALGetDataTypeSizeBytes(eDataType);
  GDALCopyWords64(values.data(), GDT_Float32, sizeof(float), image, eDataType, size,
                  static_cast<GPtrDiff_t>(values.size()));
}

}  // namespace terramind::gdal_plugin
