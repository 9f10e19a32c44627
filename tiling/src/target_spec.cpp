// Target descriptions: the registry's defaults and their checks. Its own file: the GDAL plugin
// uses it without pulling in the TBB pipeline (the plugin must not load TBB into every GDAL
// process).
#include <cmath>
#include <stdexcept>

#include "tm/tiling.h"

namespace terramind {

TargetSpec target_spec_for(const std::string& modality) {
  const Modality& m = ModalityRegistry::instance().get(modality);
  TargetSpec spec;
  spec.name = m.name;
  if (m.is_class_map()) {
    spec.is_classes = true;
    spec.classes = ModalityRegistry::instance().lulc_classes();
    spec.channels = static_cast<int>(spec.classes.size());
    spec.data_type = "Byte";
    spec.nodata = 0;  // class 0 is "No data"
    spec.band_descriptions = {m.name};
    return spec;
  }
  spec.channels = m.channels();
  spec.data_type = m.output_type.empty() ? "Float32" : m.output_type;
  spec.nodata = spec.data_type == "UInt16" ? 0.0 : -9999.0;
  for (const auto& b : m.bands) spec.band_descriptions.push_back(b.name);
  spec.units = m.units;
  return spec;
}

void validate_target_spec(const TargetSpec& spec, const std::string& target) {
  if (spec.channels <= 0)
    throw std::invalid_argument("model target " + target + " declares no channels");
  if (spec.is_classes) {
    if (!spec.classes.empty() && static_cast<int>(spec.classes.size()) != spec.channels)
      throw std::invalid_argument("model target " + target + " has " +
                                  std::to_string(spec.channels) + " class channels but " +
                                  std::to_string(spec.classes.size()) + " class descriptions");
    for (const auto& c : spec.classes)
      if (c.index < 0 || c.index > 255)
        throw std::invalid_argument("class index " + std::to_string(c.index) + " of " + target +
                                    " does not fit a Byte raster");
    if (spec.channels > 256 && spec.classes.empty())
      throw std::invalid_argument(target + " has more classes than a Byte raster holds");
    if (spec.nodata < 0 || spec.nodata > 255 || spec.nodata != std::floor(spec.nodata))
      throw std::invalid_argument("class nodata of " + target + " must be an integer 0..255");
  } else if (!is_known_raster_type(spec.data_type)) {
    throw std::invalid_argument("model target " + target + " has unknown data type " +
                                spec.data_type);
  }
}

}  // namespace terramind
