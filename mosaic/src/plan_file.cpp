// The plan file (JSON) and the hash of what decides a tile's pixels.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tm/checksum.h"
#include "tm/mosaic.h"

namespace terramind {
namespace {

using nlohmann::json;

json grid_json(const MosaicGrid& g) {
  return {{"crs", g.crs},
          {"crs_wkt", g.crs_wkt},
          {"res_x", g.res_x},
          {"res_y", g.res_y},
          {"tile_size", g.tile_size}};
}

// Everything but the tiles and the creation date: the part of the plan shared by every tile.
json settings_json(const MosaicPlan& p) {
  return {{"format", p.format},
          {"tm_version", p.tm_version},
          {"grid", grid_json(p.grid)},
          {"settings", p.settings},
          {"model", p.model},
          {"targets", p.targets},
          {"runtime_library", p.runtime_library},
          {"runtime_options", p.runtime_options},
          {"rule", to_string(p.rule)},
          {"resampling", p.resampling},
          {"tile_format", p.format_name},
          {"allow_any_resolution", p.allow_any_resolution}};
}

void write_text_atomically(const std::string& path, const std::string& text) {
  const std::string temp = path + ".tm-partial-" + std::to_string(getpid());
  {
    std::ofstream out(temp, std::ios::binary);
    out << text;
    out.flush();
    if (!out) {
      std::remove(temp.c_str());
      throw MosaicError("cannot write " + path);
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    std::remove(temp.c_str());
    throw MosaicError("cannot write " + path);
  }
}

}  // namespace

std::string MosaicPlan::tile_hash(const MosaicTile& tile) const {
  json j = settings_json(*this);
  j["tile"] = tile.index.name();
  json scenes_used = json::array();
  for (int s : tile.scenes) scenes_used.push_back({scenes[s].id, scenes[s].inputs});
  j["scenes"] = scenes_used;
  return sha256_hex(j.dump()).substr(0, 32);
}

void write_plan(const MosaicPlan& plan, const std::string& path) {
  json j = settings_json(plan);
  j["created"] = plan.created;
  j["window_size"] = plan.window_size;
  j["overlap"] = plan.overlap;
  j["warnings"] = plan.warnings;
  json scenes = json::array();
  for (const auto& s : plan.scenes)
    scenes.push_back({{"id", s.id},
                      {"datetime", s.datetime},
                      {"inputs", s.inputs},
                      {"footprint", s.footprint_wkt}});
  j["scenes"] = scenes;
  // One compact row per tile: [col, row, [scene indices]].
  json tiles = json::array();
  for (const auto& t : plan.tiles) tiles.push_back({t.index.col, t.index.row, t.scenes});
  j["tiles"] = tiles;
  write_text_atomically(path, j.dump(1) + "\n");
}

MosaicPlan read_plan(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw MosaicError("cannot read the plan " + path + " (make one with tm_mosaic plan)");
  json j;
  try {
    in >> j;
  } catch (const json::exception& e) {
    throw MosaicError(path + " is not a tm_mosaic plan (not valid JSON: " + e.what() + ")");
  }
  if (!j.is_object() || !j.contains("format") || !j.contains("tiles"))
    throw MosaicError(path + " is not a tm_mosaic plan (no format or tiles)");
  MosaicPlan p;
  try {
    p.format = j.at("format").get<int>();
    if (p.format != kMosaicPlanFormat)
      throw MosaicError(path + " is a plan of format " + std::to_string(p.format) +
                        "; this tm reads format " + std::to_string(kMosaicPlanFormat) +
                        ": make the plan again with tm_mosaic plan");
    p.tm_version = j.at("tm_version").get<std::string>();
    if (p.tm_version != tm_version())
      throw MosaicError(path + " was planned by tm " + p.tm_version + ", this is tm " +
                        tm_version() +
                        ": tiles of one mosaic must come from one version (pixels could "
                        "differ); make the plan again with this tm, or run the plan's version");
    const json& g = j.at("grid");
    p.grid.crs = g.at("crs").get<std::string>();
    p.grid.crs_wkt = g.at("crs_wkt").get<std::string>();
    p.grid.res_x = g.at("res_x").get<double>();
    p.grid.res_y = g.at("res_y").get<double>();
    p.grid.tile_size = g.at("tile_size").get<int>();
    p.created = j.at("created").get<std::string>();
    p.settings = j.at("settings").get<std::map<std::string, std::string>>();
    p.model = j.at("model").get<std::string>();
    p.targets = j.at("targets").get<std::vector<std::string>>();
    p.runtime_library = j.at("runtime_library").get<std::string>();
    p.runtime_options = j.at("runtime_options").get<std::map<std::string, std::string>>();
    p.rule = composite_rule_from_string(j.at("rule").get<std::string>());
    p.resampling = j.at("resampling").get<std::string>();
    p.format_name = j.at("tile_format").get<std::string>();
    p.allow_any_resolution = j.at("allow_any_resolution").get<bool>();
    p.window_size = j.at("window_size").get<int>();
    p.overlap = j.at("overlap").get<int>();
    p.warnings = j.at("warnings").get<std::vector<std::string>>();
    for (const json& s : j.at("scenes")) {
      MosaicScene scene;
      scene.id = s.at("id").get<std::string>();
      scene.datetime = s.at("datetime").get<std::string>();
      scene.inputs = s.at("inputs").get<std::map<std::string, std::string>>();
      scene.footprint_wkt = s.at("footprint").get<std::string>();
      p.scenes.push_back(std::move(scene));
    }
    for (const json& t : j.at("tiles")) {
      MosaicTile tile;
      tile.index = {t.at(0).get<std::int64_t>(), t.at(1).get<std::int64_t>()};
      tile.scenes = t.at(2).get<std::vector<int>>();
      for (int s : tile.scenes)
        if (s < 0 || static_cast<std::size_t>(s) >= p.scenes.size())
          throw MosaicError(path + ": tile " + tile.index.name() + " names scene " +
                            std::to_string(s) + " of " + std::to_string(p.scenes.size()));
      p.tiles.push_back(std::move(tile));
    }
  } catch (const json::exception& e) {
    throw MosaicError(path + " is not a complete tm_mosaic plan: " + e.what());
  } catch (const std::invalid_argument& e) {
    throw MosaicError(path + ": " + e.what());
  }
  if (p.grid.res_x <= 0 || p.grid.res_y <= 0 || p.grid.tile_size < 1)
    throw MosaicError(path + ": the grid's pixel size and tile size must be positive");
  return p;
}

}  // namespace terramind
