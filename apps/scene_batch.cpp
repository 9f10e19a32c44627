// Scenes from tm_generate's arguments.
#include "scene_batch.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>

#include "tm/ascii_strings.h"

namespace fs = std::filesystem;

namespace terramind {
namespace {

std::string stem_of(const std::string& path) { return fs::path(path).stem().string(); }

bool has_extension(const fs::path& path, const std::set<std::string>& extensions) {
  return extensions.count(to_lower(path.extension().string())) > 0;
}

const std::set<std::string>& raster_extensions() {
  static const std::set<std::string> e{".tif", ".tiff", ".vrt", ".jp2", ".img", ".nc"};
  return e;
}

bool is_list(const std::string& path) { return path.size() > 1 && path[0] == '@'; }

bool is_folder(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

// The files a PATH argument stands for, and whether it was a folder (pairing by name).
std::vector<std::string> expand(const std::string& path, const std::set<std::string>& extensions) {
  std::vector<std::string> files;
  if (is_list(path)) {
    std::ifstream in(path.substr(1));
    if (!in) throw std::invalid_argument("cannot read the list of scenes " + path.substr(1));
    const fs::path base = fs::path(path.substr(1)).parent_path();
    for (std::string line; std::getline(in, line);) {
      line.erase(0, line.find_first_not_of(" \t\r"));
      line.erase(line.find_last_not_of(" \t\r") + 1);
      if (line.empty() || line[0] == '#') continue;
      // Relative entries are relative to the list, so a list travels with its scenes.
      const bool plain =
          line[0] != '/' && line.rfind("/vsi", 0) != 0 && line.find(':') == std::string::npos;
      files.push_back(plain && !base.empty() ? (base / line).string() : line);
    }
    if (files.empty())
      throw std::invalid_argument("the list " + path.substr(1) + " names no scene");
  } else if (is_folder(path)) {
    for (const auto& entry : fs::directory_iterator(path))
      if (entry.is_regular_file() && has_extension(entry.path(), extensions))
        files.push_back(entry.path().string());
    std::sort(files.begin(), files.end());
    if (files.empty()) throw std::invalid_argument("the folder " + path + " holds no scene file");
  } else {
    files.push_back(path);
  }
  return files;
}

}  // namespace

bool is_batch(const std::vector<std::string>& input_args, const std::string& stac) {
  std::vector<std::string> paths;
  for (const auto& arg : input_args) paths.push_back(arg.substr(arg.find('=') + 1));
  if (!stac.empty()) paths.push_back(stac);
  return std::any_of(paths.begin(), paths.end(),
                     [](const std::string& p) { return is_list(p) || is_folder(p); });
}

std::vector<SceneJob> scene_jobs(const std::vector<std::string>& input_args,
                                 const std::string& stac) {
  std::vector<SceneJob> jobs;
  if (!stac.empty()) {
    if (!input_args.empty())
      throw std::invalid_argument(
          "give --stac or --input, not both (a STAC item names its inputs)");
    for (const auto& item : expand(stac, {".json", ".geojson"})) {
      SceneJob job;
      job.name = stem_of(item);
      job.stac_item = item;
      jobs.push_back(job);
    }
  } else {
    // modality -> files; pairing by name when every argument is a folder, else by position.
    std::vector<std::pair<std::string, std::vector<std::string>>> lists;
    bool all_folders = true;
    for (const auto& arg : input_args) {
      const auto eq = arg.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size())
        throw std::invalid_argument("--input takes MODALITY=PATH, got '" + arg + "'");
      const std::string path = arg.substr(eq + 1);
      all_folders = all_folders && is_folder(path);
      lists.emplace_back(arg.substr(0, eq), expand(path, raster_extensions()));
    }
    if (lists.empty()) return jobs;
    if (all_folders && lists.size() > 1) {
      std::map<std::string, std::vector<SceneInput>> by_name;
      for (const auto& file : lists.front().second) by_name[stem_of(file)];
      for (const auto& [modality, files] : lists) {
        std::set<std::string> names;
        for (const auto& file : files) names.insert(stem_of(file));
        for (const auto& [name, inputs] : by_name)
          if (!names.count(name))
            throw std::invalid_argument("scene " + name + " has no " + modality +
                                        " file (folders pair their files by name)");
        for (const auto& file : files) {
          auto it = by_name.find(stem_of(file));
          if (it == by_name.end())
            throw std::invalid_argument(file + " has no partner in the " + lists.front().first +
                                        " folder (folders pair their files by name)");
          it->second.push_back({file, modality});
        }
      }
      for (auto& [name, inputs] : by_name) jobs.push_back({name, inputs, ""});
    } else {
      const std::size_t count = lists.front().second.size();
      for (const auto& [modality, files] : lists)
        if (files.size() != count)
          throw std::invalid_argument("the inputs name different numbers of scenes (" +
                                      std::to_string(count) + " " + lists.front().first + ", " +
                                      std::to_string(files.size()) + " " + modality +
                                      "): lists pair their lines, folders their file names");
      for (std::size_t i = 0; i < count; ++i) {
        SceneJob job;
        for (const auto& [modality, files] : lists) job.inputs.push_back({files[i], modality});
        job.name = stem_of(job.inputs.front().path);
        jobs.push_back(job);
      }
    }
  }
  std::set<std::string> names;
  for (const auto& job : jobs)
    if (!names.insert(job.name).second)
      throw std::invalid_argument("two scenes are named " + job.name +
                                  ": their outputs would collide in the output folder");
  return jobs;
}

}  // namespace terramind
