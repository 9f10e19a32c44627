// Names of the engine's options. Its own file: the GDAL plugin uses it without the TBB pipeline.
#include <algorithm>
#include <cctype>

#include "tm/tiling.h"

namespace terramind {
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

}  // namespace

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
    if (lower(name) == to_string(w)) return w;
  return std::nullopt;
}

std::optional<EdgePolicy> edge_policy_from(const std::string& name) {
  for (const auto e : {EdgePolicy::kReflect, EdgePolicy::kReplicate, EdgePolicy::kFill})
    if (lower(name) == to_string(e)) return e;
  return std::nullopt;
}

}  // namespace terramind
