// Files and folders through GDAL's virtual file systems (internal to tm_training_data): local
// paths, /vsitar/, /vsicurl/, /vsis3/ alike.
#pragma once

#include <cpl_string.h>
#include <cpl_vsi.h>

#include <algorithm>
#include <string>
#include <vector>

namespace terramind::shards {

inline bool vsi_exists(const std::string& path) {
  VSIStatBufL st;
  return VSIStatL(path.c_str(), &st) == 0;
}

inline bool vsi_is_dir(const std::string& path) {
  VSIStatBufL st;
  return VSIStatL(path.c_str(), &st) == 0 && VSI_ISDIR(st.st_mode);
}

// The folder's entries, sorted, without "." and ".." (and without hidden ones when asked).
inline std::vector<std::string> vsi_folder_entries(const std::string& folder,
                                                   bool skip_hidden = false) {
  std::vector<std::string> out;
  char** list = VSIReadDir(folder.c_str());
  for (int i = 0; list && list[i]; ++i) {
    const std::string name = list[i];
    if (name == "." || name == ".." || (skip_hidden && name[0] == '.')) continue;
    out.push_back(name);
  }
  CSLDestroy(list);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace terramind::shards
