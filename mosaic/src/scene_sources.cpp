// Scenes of a mosaic from files, folders, text lists and JSON item lists.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tm/ascii_strings.h"
#include "tm/mosaic.h"
#include "tm/registry.h"

namespace terramind {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string trim(const std::string& text) {
  const auto b = text.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return text.substr(b, text.find_last_not_of(" \t\r\n") - b + 1);
}

bool is_raster_name(const fs::path& p) {
  const std::string ext = to_lower(p.extension().string());
  return ext == ".tif" || ext == ".tiff" || ext == ".vrt";
}

std::string registry_name(const std::string& modality, const std::string& where) {
  const Modality* m = ModalityRegistry::instance().find(modality);
  if (!m || !m->is_image())
    throw MosaicError(where + ": '" + modality + "' is not an image modality of the registry");
  return m->name;
}

MosaicScene file_scene(const std::string& path, const std::string& modality) {
  MosaicScene s;
  s.id = fs::path(path).stem().string();
  s.inputs[modality] = path;
  return s;
}

std::string resolve(const std::string& href, const fs::path& base) {
  if (href.empty() || href.front() == '/' || href.rfind("/vsi", 0) == 0 ||
      href.find("://") != std::string::npos)
    return href;
  return (base / href).lexically_normal().string();
}

// One item of a JSON list: {"id", "properties": {"datetime"}, "geometry", "assets": {key: {href,
// "tm:modality"?}}} (a STAC-like Feature), or flat {"id", "datetime", "inputs": {MOD: path}}.
MosaicScene item_scene(const json& item, const fs::path& base, const std::string& where) {
  MosaicScene s;
  s.id = item.value("id", "");
  if (s.id.empty()) throw MosaicError(where + ": an item has no \"id\"");
  if (item.contains("properties") && item["properties"].is_object())
    s.datetime = item["properties"].value("datetime", "");
  if (item.contains("datetime") && item["datetime"].is_string())
    s.datetime = item["datetime"].get<std::string>();
  if (item.contains("geometry") && item["geometry"].is_object())
    s.footprint_source_wkt = item["geometry"].dump();  // GeoJSON, read by OGR in make_plan
  if (item.contains("inputs"))
    for (const auto& [key, value] : item["inputs"].items())
      s.inputs[registry_name(key, where + " item " + s.id)] =
          resolve(value.get<std::string>(), base);
  if (item.contains("assets"))
    for (const auto& [key, asset] : item["assets"].items()) {
      const std::string modality = asset.value("tm:modality", key);
      const Modality* m = ModalityRegistry::instance().find(modality);
      if (!m || !m->is_image()) continue;  // thumbnails, metadata ...
      s.inputs[m->name] = resolve(asset.at("href").get<std::string>(), base);
    }
  if (s.inputs.empty())
    throw MosaicError(where + ": item " + s.id +
                      " has no input: name assets (or \"inputs\") by registry modality");
  return s;
}

void read_json_list(const std::string& path, std::vector<MosaicScene>& out) {
  std::ifstream in(path);
  json j;
  try {
    in >> j;
  } catch (const json::exception& e) {
    throw MosaicError(path + " is not valid JSON: " + e.what());
  }
  const json* items = &j;
  if (j.is_object()) {
    if (j.contains("features"))
      items = &j["features"];
    else if (j.contains("items"))
      items = &j["items"];
    else if (j.contains("assets") || j.contains("inputs")) {
      out.push_back(item_scene(j, fs::path(path).parent_path(), path));
      return;
    }
  }
  if (!items->is_array())
    throw MosaicError(path +
                      ": expected a FeatureCollection, an ItemCollection or an array of "
                      "items");
  try {
    for (const json& item : *items)
      out.push_back(item_scene(item, fs::path(path).parent_path(), path));
  } catch (const json::exception& e) {
    throw MosaicError(path + ": " + e.what());
  }
}

void read_source(const std::string& source, const std::string& modality,
                 std::vector<MosaicScene>& out) {
  if (!source.empty() && source.front() == '@') {
    const std::string list = source.substr(1);
    std::ifstream in(list);
    if (!in) throw MosaicError("cannot read the list " + list);
    const fs::path base = fs::path(list).parent_path();
    std::string line;
    while (std::getline(in, line)) {
      line = trim(line);
      if (line.empty() || line.front() == '#') continue;
      read_source(resolve(line, base), modality, out);
    }
    return;
  }
  std::error_code ec;
  if (fs::is_directory(source, ec)) {
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(source))
      if (entry.is_regular_file() && is_raster_name(entry.path()))
        files.push_back(entry.path().string());
    std::sort(files.begin(), files.end());
    if (files.empty()) throw MosaicError(source + " holds no raster (.tif, .tiff, .vrt)");
    for (const auto& f : files) out.push_back(file_scene(f, modality));
    return;
  }
  if (to_lower(fs::path(source).extension().string()) == ".json") {
    read_json_list(source, out);
    return;
  }
  if (source.rfind("/vsi", 0) != 0 && !fs::exists(source, ec))
    throw MosaicError("scene not found: " + source);
  out.push_back(file_scene(source, modality));
}

}  // namespace

std::vector<MosaicScene> read_scene_sources(const std::vector<std::string>& sources,
                                            const std::string& modality) {
  const std::string name = registry_name(modality, "--modality");
  std::vector<MosaicScene> scenes;
  for (const auto& source : sources) read_source(source, name, scenes);
  if (scenes.empty()) throw MosaicError("no scene given");
  // Ids name scenes in plans and messages: make repeated file names unique.
  std::map<std::string, int> seen;
  for (auto& s : scenes)
    if (int n = seen[s.id]++; n > 0) s.id += "~" + std::to_string(n + 1);
  return scenes;
}

}  // namespace terramind
