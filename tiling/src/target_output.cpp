// Writing blended rows of one target: continuous values or arg-maxed classes.
#include "target_output.h"

#include <algorithm>
#include <cmath>

namespace terramind {
namespace {

// Probabilities are written as whole percentages (Byte); 255 marks pixels without data.
constexpr std::uint8_t kProbabilityNodata = 255;

RasterSpec base_spec(const RasterInfo& grid, const OutputProvenance& provenance) {
  RasterSpec spec;
  spec.metadata = provenance.tiff_tags;
  spec.provenance = provenance.tm_domain;
  spec.width = grid.width;
  spec.height = grid.height;
  spec.georef = grid.georef;
  return spec;
}

// Nodata where no window contributed, in place.
void fill_invalid(FinishedRows& rows, float nodata) {
  const std::size_t plane = rows.valid.size();
  for (int ch = 0; ch < rows.channels; ++ch)
    for (std::size_t i = 0; i < plane; ++i)
      if (!rows.valid[i]) rows.values[ch * plane + i] = nodata;
}

}  // namespace

TargetOutput::TargetOutput(const TargetRequest& request, const TargetSpec& spec,
                           const RasterInfo& grid, const TilingOptions& options,
                           const OutputProvenance& provenance, bool continue_working_files)
    : request_(request), spec_(spec) {
  RasterSpec main = base_spec(grid, provenance);
  main.nodata = spec.nodata;
  if (spec.is_classes) {
    main.bands = 1;
    main.data_type = "Byte";
    main.classes = spec.classes;
    main.band_descriptions = {spec.name};
  } else {
    main.bands = spec.channels;
    main.data_type = spec.data_type;
    main.band_descriptions = spec.band_descriptions;
    main.band_units.assign(spec.channels, spec.units);
    if (request.harmonise_offsets) main.provenance["OFFSETS_HARMONISED"] = "YES";
  }
  main_ = std::make_unique<AtomicRasterWriter>(request.path, main, options.write,
                                               continue_working_files);
  if (!request.probabilities_path.empty()) {
    RasterSpec probabilities = base_spec(grid, provenance);
    // One band per real class: the "No data" class (the class map's nodata) has no band.
    for (int ch = 0; ch < spec.channels; ++ch) {
      const int index = spec.classes.empty() ? ch : spec.classes[ch].index;
      if (index == static_cast<int>(spec.nodata)) continue;
      probability_channels_.push_back(ch);
      probabilities.band_descriptions.push_back(spec.classes.empty() ? "class " + std::to_string(ch)
                                                                     : spec.classes[ch].name);
    }
    probabilities.bands = static_cast<int>(probability_channels_.size());
    probabilities.data_type = "Byte";
    probabilities.nodata = kProbabilityNodata;
    probabilities.band_units.assign(probabilities.bands, "percent");
    probabilities_ = std::make_unique<AtomicRasterWriter>(request.probabilities_path, probabilities,
                                                          options.write, continue_working_files);
  }
}

void TargetOutput::write(FinishedRows& rows) {
  if (rows.rows == 0) return;
  if (spec_.is_classes) return write_classes(rows);
  fill_invalid(rows, static_cast<float>(spec_.nodata));
  main_->write(PixelWindow{0, rows.y0, rows.width, rows.rows}, rows.values.data());
}

void TargetOutput::write_classes(FinishedRows& rows) {
  const std::size_t plane = rows.valid.size();
  const auto nodata = static_cast<std::uint8_t>(spec_.nodata);
  std::vector<std::uint8_t> classes(plane, nodata);
  for (std::size_t i = 0; i < plane; ++i) {
    if (!rows.valid[i]) continue;
    int best = 0;  // first maximum wins on ties
    for (int ch = 1; ch < rows.channels; ++ch)
      if (rows.values[ch * plane + i] > rows.values[best * plane + i]) best = ch;
    classes[i] =
        static_cast<std::uint8_t>(spec_.classes.empty() ? best : spec_.classes[best].index);
  }
  const PixelWindow where{0, rows.y0, rows.width, rows.rows};
  main_->write(where, classes.data());
  if (probabilities_) {
    std::vector<std::uint8_t> percent(probability_channels_.size() * plane, kProbabilityNodata);
    for (std::size_t b = 0; b < probability_channels_.size(); ++b) {
      const float* p = rows.values.data() + probability_channels_[b] * plane;
      for (std::size_t i = 0; i < plane; ++i)
        if (rows.valid[i])
          percent[b * plane + i] =
              static_cast<std::uint8_t>(std::lround(std::clamp(p[i], 0.0f, 1.0f) * 100.0f));
    }
    probabilities_->write(where, percent.data());
  }
}

void TargetOutput::flush() {
  main_->flush();
  if (probabilities_) probabilities_->flush();
}

void TargetOutput::finish() {
  main_->finish();
  if (probabilities_) probabilities_->finish();
}

void TargetOutput::publish(std::vector<std::string>& published) {
  main_->publish();
  published.push_back(main_->path());
  if (probabilities_) {
    probabilities_->publish();
    published.push_back(probabilities_->path());
  }
}

std::vector<std::string> TargetOutput::paths() const {
  std::vector<std::string> out{main_->path()};
  if (probabilities_) out.push_back(probabilities_->path());
  return out;
}

}  // namespace terramind
