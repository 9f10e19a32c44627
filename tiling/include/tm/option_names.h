// tm/option_names.h — names of the engine's choices (part of tm_tiling; included by tm/tiling.h).
#pragma once

#include <optional>
#include <string>

#include "tm/blending.h"      // BlendWeighting
#include "tm/pixel_window.h"  // EdgePolicy

namespace terramind {

// The option names of the engine's choices ("taper", "mean"; "reflect", "replicate", "fill"),
// for command lines, connection strings and metadata. Parsing ignores case; nullopt when the
// name is unknown.
const char* to_string(BlendWeighting weighting);
const char* to_string(EdgePolicy edge);
std::optional<BlendWeighting> blend_weighting_from(const std::string& name);
std::optional<EdgePolicy> edge_policy_from(const std::string& name);

}  // namespace terramind
