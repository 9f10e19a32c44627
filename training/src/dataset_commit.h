// Writing a tm shards dataset all or nothing (internal to tm_training_data): shards are staged
// in a hidden folder inside the output, moved to their names when complete, the manifest last.
#pragma once

#include <string>
#include <vector>

#include "tm/shards.h"

namespace terramind::shards {

void make_dirs(const std::string& path);
std::string utc_now();  // "2026-12-03T08:15:00Z"

// The staging folder of one write; removes it (and an output folder the write created, when
// still empty) unless committed.
struct Staging {
  std::string path;
  std::vector<std::string> temporary;  // other files to remove (e.g. /vsimem/ copies)
  std::string created_out;
  bool committed = false;

  // Creates `out` (remembering whether it existed) and an empty staging folder inside it.
  void begin(const std::string& out);
  ~Staging();
};

// Moves the staged shards of `manifest` into `out` and writes its manifest: an old manifest goes
// first (no manifest ever describes a mix of old and new shards), then the shards, then the new
// manifest (temporary name, rename). Shards of the old dataset not in the new one are removed.
void commit_dataset(const std::string& out, Staging& staging, const Manifest& manifest);

}  // namespace terramind::shards
