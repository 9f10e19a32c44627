// tm_generate's scenes: one scene from files, or a batch from folders and lists of files.
#pragma once
#include <string>
#include <vector>

#include "tm/tiling.h"

namespace terramind {

struct SceneJob {
  std::string name;                // output names are <name>_<TARGET>.tif
  std::vector<SceneInput> inputs;  // or empty with stac_item set
  std::string stac_item;           // a STAC item JSON: its assets are the inputs
};

// `MODALITY=PATH` arguments to scenes. PATH is a raster file (one scene), a folder (every raster
// file in it, sorted: one scene each) or @LIST (a text file with a path per line; '#' comments).
// Several modalities in a batch pair their files by name (folders) or by line (lists).
// `stac` is the same for STAC item JSON files (a file, a folder of .json, or @LIST).
// Throws std::invalid_argument naming what does not pair up.
std::vector<SceneJob> scene_jobs(const std::vector<std::string>& input_args,
                                 const std::string& stac);

// True when the arguments name more than one scene or a folder/list (batch reporting).
bool is_batch(const std::vector<std::string>& input_args, const std::string& stac);

}  // namespace terramind
