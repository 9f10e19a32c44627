// Finding the samples of a build: modality folders paired by key, BigEarthNet patch folders,
// scenes cut into chips (tm_shards build; layouts in training/README.md).
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <gdal_priv.h>
#include <gdal_utils.h>

#include <algorithm>
#include <atomic>
#include <nlohmann/json.hpp>
#include <set>

#include "build_inputs.h"
#include "tm/ascii_strings.h"
#include "tm/registry.h"
#include "vsi_files.h"

namespace terramind::shards {
namespace {

const ModalityRegistry& registry() { return ModalityRegistry::instance(); }

bool is_raster_name(const std::string& name) {
  const std::string lower = to_lower(name);
  for (const char* ext : {".tif", ".tiff", ".vrt", ".jp2", ".img"})
    if (ends_with(lower, ext)) return true;
  return false;
}

std::string stem(const std::string& name) {
  const auto dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(0, dot);
}

// WebDataset keys end at the first '.', so dots in file names become '_'.
std::string sanitise_key(std::string key) {
  std::replace(key.begin(), key.end(), '.', '_');
  std::replace(key.begin(), key.end(), '/', '_');
  return key;
}

// The key of a file in a modality folder: its stem without a trailing "_<folder name>" or
// "_<modality name or alias>" ("Spain_7370579_S1Hand" in S1Hand/ -> "Spain_7370579").
std::string key_of(const std::string& file_stem, const std::string& folder_name,
                   const Modality& modality) {
  std::vector<std::string> suffixes{folder_name, modality.name};
  suffixes.insert(suffixes.end(), modality.aliases.begin(), modality.aliases.end());
  const std::string lower = to_lower(file_stem);
  for (const auto& s : suffixes) {
    if (s.empty() || lower.size() <= s.size() + 1) continue;
    const std::string tail = to_lower(s);
    if (ends_with(lower, tail)) {
      const char sep = lower[lower.size() - tail.size() - 1];
      if (sep == '_' || sep == '-')
        return sanitise_key(file_stem.substr(0, lower.size() - tail.size() - 1));
    }
  }
  return sanitise_key(file_stem);
}

std::string iso_date(std::string text) {
  // "2017-06-13 10:10:31" / "2021:07:23 13:22:41" (TIFF) -> ISO 8601.
  if (text.size() >= 10 && text[4] == ':' && text[7] == ':') {
    text[4] = '-';
    text[7] = '-';
  }
  if (text.size() > 10 && text[10] == ' ') text[10] = 'T';
  return text;
}

const Modality& image_modality(const std::string& name, const std::string& where) {
  const Modality* m = registry().find(name);
  if (!m) {
    std::vector<std::string> names;
    for (const auto& mod : registry().modalities())
      if (mod.is_image()) names.push_back(mod.name);
    throw std::invalid_argument(where + ": unknown modality \"" + name +
                                "\" (known: " + join(names, ", ") + ")");
  }
  if (!m->is_image())
    throw std::invalid_argument(where + ": " + m->name +
                                " is a sequence modality; shards hold image modalities");
  return *m;
}

// Files of one modality: key -> slice.
using KeyedFiles = std::map<std::string, RasterSlice>;

KeyedFiles files_of(const ModalityInput& input, const Modality& modality) {
  KeyedFiles out;
  VSIStatBufL st;
  if (VSIStatL(input.path.c_str(), &st) != 0)
    throw std::invalid_argument(input.path + ": no such file or folder (input for " +
                                modality.name + ")");
  if (!VSI_ISDIR(st.st_mode)) {
    RasterSlice slice;
    slice.path = slice.label = input.path;
    out[sanitise_key(stem(CPLGetFilename(input.path.c_str())))] = slice;
    return out;
  }
  const std::string folder_name = CPLGetFilename(input.path.c_str());
  for (const auto& name : vsi_folder_entries(input.path, true)) {
    if (!is_raster_name(name)) continue;
    const std::string key = key_of(stem(name), folder_name, modality);
    RasterSlice slice;
    slice.path = slice.label = input.path + "/" + name;
    if (out.count(key))
      throw std::invalid_argument(input.path + ": files " + CPLGetFilename(out[key].path.c_str()) +
                                  " and " + name + " give the same sample key \"" + key + "\"");
    out[key] = slice;
  }
  if (out.empty())
    throw std::invalid_argument(input.path + ": no rasters (.tif, .tiff, .vrt, .jp2, .img) for " +
                                modality.name);
  return out;
}

// A /vsimem/ VRT stacking single-band files in the given order, on the finest grid (coarser
// bands repeated by nearest neighbour).
std::string stack_bands(const std::vector<std::string>& files, const std::string& name) {
  static std::atomic<int> counter{0};
  const std::string vrt = "/vsimem/tm_shards_" + std::to_string(counter++) + "_" + name + ".vrt";
  std::vector<GDALDatasetH> sources;
  for (const auto& f : files) {
    GDALDatasetH ds = GDALOpen(f.c_str(), GA_ReadOnly);
    if (!ds) {
      for (auto s : sources) GDALClose(s);
      throw std::invalid_argument(f + ": GDAL cannot open it");
    }
    sources.push_back(ds);
  }
  const char* args[] = {"-separate", "-resolution", "highest", "-r", "nearest", nullptr};
  GDALBuildVRTOptions* opts = GDALBuildVRTOptionsNew(const_cast<char**>(args), nullptr);
  int usage_error = 0;
  GDALDatasetH out = GDALBuildVRT(vrt.c_str(), static_cast<int>(sources.size()), sources.data(),
                                  nullptr, opts, &usage_error);
  GDALBuildVRTOptionsFree(opts);
  if (out) GDALClose(out);
  for (auto s : sources) GDALClose(s);
  if (!out)
    throw std::invalid_argument(name + ": cannot stack the band files " + join(files, ", "));
  return vrt;
}

nlohmann::json read_json_file(const std::string& path) {
  GByte* bytes = nullptr;
  vsi_l_offset size = 0;
  if (!VSIIngestFile(nullptr, path.c_str(), &bytes, &size, 16 << 20)) return nullptr;
  const std::string text(reinterpret_cast<const char*>(bytes), static_cast<std::size_t>(size));
  VSIFree(bytes);
  return nlohmann::json::parse(text, nullptr, false);
}

// BigEarthNet: S2/<patch>/<patch>_<band>.tif (+ _labels_metadata.json) and
// S1/<patch>/<patch>_{VV,VH}.tif whose metadata names its corresponding_s2_patch (the key).
bool is_bigearthnet(const std::string& root) {
  const std::string s2 = root + "/S2";
  if (!vsi_is_dir(s2)) return false;
  for (const auto& patch : vsi_folder_entries(s2, true)) {
    VSIStatBufL st;
    if (VSIStatL((s2 + "/" + patch + "/" + patch + "_B02.tif").c_str(), &st) == 0) return true;
  }
  return false;
}

void add_bigearthnet(const std::string& root, const char* folder, const Modality& modality,
                     std::map<std::string, KeyedFiles>& by_modality, Discovery& discovery,
                     std::map<std::string, std::vector<Problem>>& problems) {
  const std::string dir = root + "/" + folder;
  if (!vsi_is_dir(dir)) return;
  discovery.sources.push_back(dir);
  for (const auto& patch : vsi_folder_entries(dir, true)) {
    const std::string pdir = dir + "/" + patch;
    if (!vsi_is_dir(pdir)) continue;
    const nlohmann::json meta = read_json_file(pdir + "/" + patch + "_labels_metadata.json");
    std::string key = patch;
    if (meta.is_object() && meta.contains("corresponding_s2_patch"))
      key = meta["corresponding_s2_patch"].get<std::string>();
    key = sanitise_key(key);
    std::vector<std::string> files, missing;
    for (const auto& band : modality.bands) {
      // Band files are named with the registry's short names ("B8A", "VV").
      const std::string f = pdir + "/" + patch + "_" + band.name + ".tif";
      VSIStatBufL st;
      if (VSIStatL(f.c_str(), &st) == 0)
        files.push_back(f);
      else
        missing.push_back(band.name);
    }
    if (!missing.empty()) {
      problems[key].push_back({pdir, "missing band",
                               pdir + ": no band file for " + join(missing, ", ") + " of " +
                                   modality.name + " (expected " + patch + "_<band>.tif)"});
      continue;
    }
    RasterSlice slice;
    slice.path = stack_bands(files, patch);
    slice.label = pdir;
    discovery.temporary_files.push_back(slice.path);
    if (meta.is_object()) {
      for (const char* field : {"acquisition_date", "acquisition_time"})
        if (meta.contains(field) && meta[field].is_string())
          slice.date = iso_date(meta[field].get<std::string>());
    }
    by_modality[modality.name][key] = slice;
  }
}

// Chip windows along one axis: 0, stride, ... and one flush with the far edge.
std::vector<int> chip_offsets(int size, int chip, int stride) {
  std::vector<int> out;
  for (int o = 0; o + chip <= size; o += stride) out.push_back(o);
  if (out.empty() || out.back() + chip < size) out.push_back(size - chip);
  return out;
}

}  // namespace

Discovery discover_samples(const BuildOptions& options) {
  Discovery discovery;
  std::map<std::string, KeyedFiles> by_modality;  // canonical modality -> key -> slice
  std::map<std::string, std::vector<Problem>> problems;
  std::vector<ModalityInput> inputs = options.inputs;
  if (!options.root.empty()) {
    if (!vsi_is_dir(options.root)) throw std::invalid_argument(options.root + ": no such folder");
    if (is_bigearthnet(options.root)) {
      add_bigearthnet(options.root, "S2", registry().get("S2L2A"), by_modality, discovery,
                      problems);
      add_bigearthnet(options.root, "S1", registry().get("S1GRD"), by_modality, discovery,
                      problems);
    } else {
      for (const auto& name : vsi_folder_entries(options.root, true)) {
        const Modality* m = registry().find(name);
        if (m && m->is_image() && vsi_is_dir(options.root + "/" + name))
          inputs.push_back({m->name, options.root + "/" + name});
      }
      if (inputs.empty())
        throw std::invalid_argument(
            options.root +
            ": no modality folders here (sub-folders named after modalities: S2L2A, S2L1C, "
            "S2RGB, S1GRD, S1RTC, DEM, LULC, NDVI or their aliases) and no BigEarthNet S2/ "
            "patch folders; name the inputs with --input MODALITY=PATH");
    }
  }
  for (const auto& input : inputs) {
    const Modality& m = image_modality(input.modality, input.path);
    if (by_modality.count(m.name))
      throw std::invalid_argument(input.path + ": a second input for " + m.name);
    by_modality[m.name] = files_of(input, m);
    discovery.sources.push_back(input.path);
  }
  if (by_modality.empty())
    throw std::invalid_argument(
        "no inputs: give a folder of modality folders or --input "
        "MODALITY=PATH");
  for (const auto& m : registry().modalities())
    if (by_modality.count(m.name)) discovery.modalities.push_back(m.name);

  std::set<std::string> keys;
  for (const auto& [modality, files] : by_modality)
    for (const auto& [key, slice] : files) keys.insert(key);
  for (const auto& [key, list] : problems) keys.insert(key);

  const int stride = options.stride > 0 ? options.stride : options.chip;
  for (const auto& key : keys) {
    Candidate whole;
    whole.key = key;
    whole.problems = problems[key];
    for (const auto& modality : discovery.modalities) {
      const auto& files = by_modality[modality];
      const auto it = files.find(key);
      if (it != files.end()) {
        whole.rasters[modality] = it->second;
      } else if (!options.allow_partial) {
        std::string where;
        for (const auto& input : inputs)
          if (registry().get(input.modality).name == modality) where = input.path;
        if (where.empty()) where = options.root;
        whole.problems.push_back({where, "missing modality",
                                  where + ": no " + modality + " file for sample \"" + key +
                                      "\" (the other modalities have one)"});
      }
    }
    if (options.chip <= 0 || whole.rasters.empty()) {
      discovery.candidates.push_back(whole);
      continue;
    }
    // Cut into chips on the grid of the first modality (registry order); alignment of the
    // others is checked when the chips are loaded.
    const RasterSlice& first = whole.rasters.begin()->second;
    GDALDatasetUniquePtr ds(GDALDataset::Open(first.path.c_str(), GDAL_OF_RASTER));
    if (!ds) {
      whole.problems.push_back({first.label, "unreadable", first.label + ": GDAL cannot open it"});
      discovery.candidates.push_back(whole);
      continue;
    }
    const int w = ds->GetRasterXSize(), h = ds->GetRasterYSize();
    if (w <= options.chip && h <= options.chip) {  // small enough: taken whole
      discovery.candidates.push_back(whole);
      continue;
    }
    const int cw = std::min(options.chip, w), ch = std::min(options.chip, h);
    for (int row : chip_offsets(h, ch, stride))
      for (int col : chip_offsets(w, cw, stride)) {
        Candidate chip = whole;
        char suffix[64];
        std::snprintf(suffix, sizeof suffix, "_r%05d_c%05d", row, col);
        chip.key = key + suffix;
        for (auto& [modality, slice] : chip.rasters) {
          slice.col = col;
          slice.row = row;
          slice.width = cw;
          slice.height = ch;
        }
        discovery.candidates.push_back(chip);
      }
  }
  std::sort(discovery.candidates.begin(), discovery.candidates.end(),
            [](const Candidate& a, const Candidate& b) { return a.key < b.key; });
  for (std::size_t i = 1; i < discovery.candidates.size(); ++i)
    if (discovery.candidates[i].key == discovery.candidates[i - 1].key)
      throw std::invalid_argument("two samples get the key \"" + discovery.candidates[i].key +
                                  "\" (file names that differ only in '.' or '/'?)");
  if (discovery.candidates.empty()) throw std::invalid_argument("no samples found in the inputs");
  return discovery;
}

}  // namespace terramind::shards
