// The state of every tile, from the markers in the mosaic folder.
#include <fstream>
#include <nlohmann/json.hpp>

#include "tm/mosaic.h"

namespace terramind {
namespace {

using nlohmann::json;

json read_marker(const std::string& path) {
  std::ifstream in(path);
  if (!in) return nullptr;
  try {
    json j;
    in >> j;
    return j.is_object() ? j : nullptr;
  } catch (const json::exception&) {
    return nullptr;
  }
}

}  // namespace

MosaicStatus mosaic_status(const MosaicPlan& plan, const MosaicPaths& paths, int shard_count) {
  if (shard_count < 1) throw MosaicError("the number of shards must be at least 1");
  MosaicStatus status;
  status.shards.resize(shard_count);
  for (int s = 0; s < shard_count; ++s) status.shards[s].shard = s;
  status.total.shard = -1;
  for (std::size_t k = 0; k < plan.tiles.size(); ++k) {
    const MosaicTile& tile = plan.tiles[k];
    const int shard = MosaicPlan::shard_of(k, shard_count);
    ShardStatus& s = status.shards[shard];
    ++s.tiles;
    ++status.total.tiles;
    auto count = [&](std::size_t ShardStatus::*field) {
      ++(s.*field);
      ++(status.total.*field);
    };
    if (tile.scenes.empty()) {
      count(&ShardStatus::no_input);
      continue;
    }
    const std::string hash = plan.tile_hash(tile);
    const json done = read_marker(paths.marker(tile.index, "done"));
    const json empty = read_marker(paths.marker(tile.index, "empty"));
    const json failed = read_marker(paths.marker(tile.index, "failed"));
    if (done.is_object() && done.value("hash", "") == hash) {
      count(&ShardStatus::done);
    } else if (empty.is_object() && empty.value("hash", "") == hash) {
      count(&ShardStatus::empty);
    } else if (failed.is_object() && failed.value("hash", "") == hash) {
      count(&ShardStatus::failed);
      status.failures.push_back({tile.index, shard, failed.value("error", "")});
    } else if (done.is_object() || empty.is_object()) {
      count(&ShardStatus::stale);  // made with other settings: the next run makes it again
    } else {
      count(&ShardStatus::pending);
    }
  }
  return status;
}

}  // namespace terramind
