// Provenance of generated rasters: what made the pixels, written into every output.
#include <cstdlib>
#include <ctime>
#include <filesystem>

#include "tm/tiling.h"

namespace terramind {
namespace {

// SOURCE_DATE_EPOCH (reproducible-builds.org) pins the date, so reruns can be byte-identical.
std::time_t creation_time() {
  if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH")) {
    char* end = nullptr;
    const long long value = std::strtoll(epoch, &end, 10);
    if (end != epoch && *end == '\0' && value >= 0) return static_cast<std::time_t>(value);
  }
  return std::time(nullptr);
}

std::string format_time(std::time_t t, const char* format) {
  std::tm utc{};
  gmtime_r(&t, &utc);
  char text[32];
  std::strftime(text, sizeof text, format, &utc);
  return text;
}

std::string absolute(const std::string& path) {
  if (path.rfind("/vsi", 0) == 0 || path.find(':') != std::string::npos) return path;
  std::error_code ec;
  const auto full = std::filesystem::absolute(path, ec);
  return ec ? path : full.lexically_normal().string();
}

}  // namespace

OutputProvenance tool_provenance(const std::string& target, const std::string& made_by,
                                 const std::vector<SceneInput>& inputs,
                                 const std::map<std::string, std::string>& items,
                                 bool ai_generated) {
  const std::time_t now = creation_time();
  OutputProvenance p;
  auto& tm = p.tm_domain;
  if (ai_generated) tm["AI_GENERATED"] = "YES";
  tm["TARGET"] = target;
  tm["VERSION"] = tm_version();
  tm["CREATED"] = format_time(now, "%Y-%m-%dT%H:%M:%SZ");
  for (const SceneInput& input : inputs) {
    const Modality* m = ModalityRegistry::instance().find(input.modality);
    tm["INPUT_" + (m ? m->name : input.modality)] =
        absolute(input.origin.empty() ? input.path : input.origin);
  }
  for (const auto& [key, value] : items) tm[key] = value;
  p.tiff_tags["TIFFTAG_SOFTWARE"] = std::string("tm ") + tm_version() + " (TerraMind for GDAL)";
  p.tiff_tags["TIFFTAG_DATETIME"] = format_time(now, "%Y:%m:%d %H:%M:%S");
  p.tiff_tags["TIFFTAG_IMAGEDESCRIPTION"] =
      ai_generated ? "AI-generated " + target + " by " + made_by + " (tm " + tm_version() +
                         "): a model's output, not a measurement"
                   : target + " by " + made_by + " (tm " + tm_version() + ")";
  return p;
}

OutputProvenance output_provenance(const WindowModel& model, const std::vector<SceneInput>& inputs,
                                   const TilingOptions& options, const std::string& target) {
  std::map<std::string, std::string> items{{"WINDOW_SIZE", std::to_string(options.window_size)},
                                           {"WINDOW_OVERLAP", std::to_string(options.overlap)},
                                           {"BLENDING", to_string(options.weighting)},
                                           {"EDGE", to_string(options.edge)}};
  if (options.grid_offset_x != 0 || options.grid_offset_y != 0)
    items["GRID_OFFSET"] =
        std::to_string(options.grid_offset_x) + "," + std::to_string(options.grid_offset_y);
  for (const auto& [key, value] : model.provenance()) items[key] = value;
  const std::string model_name =
      items.count("MODEL") ? items.at("MODEL") : std::string("a TerraMind model");
  return tool_provenance(target, model_name, inputs, items, true);
}

}  // namespace terramind
