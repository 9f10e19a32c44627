// Names of the engine's options. Its own file: the GDAL plugin uses it without the TBB pipeline.
#include "tm/ascii_strings.h"
#include "tm/tiling.h"

namespace terramind {

const char* to_string(BlendWeighting weighting) {
  return weighting == BlendWeighting::kMean ? "mean" : "taper";
}

const char* to_string(EdgePolicy edge) {
  switch (edge) {
    case EdgePolicy::kFill:
      return "fill";
    case EdgePolicy::kReplicate:
      return "replicate";
    case EdgePolicy::kReflect:
      break;
  }
  return "reflect";
}

std::optional<BlendWeighting> blend_weighting_from(const std::string& name) {
  for (const auto w : {BlendWeighting::kTaper, BlendWeighting::kMean})
    if (to_lower(name) == to_string(w)) return w;
  return std::nullopt;
}

std::optional<EdgePolicy> edge_policy_from(const std::string& name) {
  for (const auto e : {EdgePolicy::kReflect, EdgePolicy::kReplicate, EdgePolicy::kFill})
    if (to_lower(name) == to_string(e)) return e;
  return std::nullopt;
}

}  // namespace terramind
