// Provenance of TM datasets: the TM_<KEY> items and TIFF tags generate_scene (tm_generate's
// engine) writes for the same model and settings, also as a "TM" domain; and the pixel-size check
// tm_generate makes on its inputs (opt.allow_resolution=YES accepts other resolutions).
#include <gtest/gtest.h>

#include <gdal_utils.h>

#include <cstdlib>
#include <map>
#include <string>

#include "plugin_test_support.h"
#include "test_paths.h"

using namespace terramind;
using namespace terramind::testing;

namespace {

using Items = std::map<std::string, std::string>;

// Pins TM_CREATED and TIFFTAG_DATETIME for the lifetime of the object (both tools honour it).
class SourceDateEpoch {
 public:
  explicit SourceDateEpoch(const char* seconds) { setenv("SOURCE_DATE_EPOCH", seconds, 1); }
  ~SourceDateEpoch() { unsetenv("SOURCE_DATE_EPOCH"); }
  SourceDateEpoch(const SourceDateEpoch&) = delete;
  SourceDateEpoch& operator=(const SourceDateEpoch&) = delete;
};

// NAME=VALUE items of a metadata list whose names start with `prefix` (prefix kept).
Items items_of(char** list, const std::string& prefix = "") {
  Items items;
  for (char** item = list; item && *item; ++item) {
    char* key = nullptr;
    const char* value = CPLParseNameValue(*item, &key);
    if (key && value && std::string(key).rfind(prefix, 0) == 0) items[key] = value;
    CPLFree(key);
  }
  return items;
}

// What generate_scene wrote: TM_<KEY> items and TIFF tags of the file, as tm_info reads them.
Items written_provenance(const std::string& path) {
  const RasterInfo info = inspect_raster(path);
  Items items;
  for (const auto& [key, value] : info.provenance) items["TM_" + key] = value;
  for (const auto& [tag, value] : info.tiff_tags) items[tag] = value;
  return items;
}

// The plugin dataset's TM_* items and TIFF tags, less the plugin's own TM_RUNTIME and
// TM_OVERVIEWS (checked to be there).
Items dataset_provenance(GDALDataset* ds) {
  Items items = items_of(ds->GetMetadata(), "TM_");
  for (const auto& [tag, value] : items_of(ds->GetMetadata(), "TIFFTAG_")) items[tag] = value;
  EXPECT_EQ(items.erase("TM_RUNTIME"), 1u);
  EXPECT_EQ(items.erase("TM_OVERVIEWS"), 1u);
  return items;
}

std::string describe(const Items& items) {
  std::string out;
  for (const auto& [key, value] : items) out += "\n  " + key + "=" + value;
  return out;
}

struct Settings {
  std::string connection;  // after the inputs: ":seed=...:window=..."
  TilingOptions options;
  std::string model_json;
};

void expect_same_provenance_as_generate_scene(const Settings& s, const std::string& target) {
  SCOPED_TRACE(target + s.connection);
  ScratchDir dir;
  const std::shared_ptr<WindowModel> model = open_synthetic_model(s.model_json);
  TilingOptions options = s.options;
  options.write.format = OutputFormat::kGTiff;
  generate_scene({{sample_scene(), "S2L2A"}}, *model, {{target, dir.file("generated.tif")}},
                 options);
  const Items written = written_provenance(dir.file("generated.tif"));
  ASSERT_EQ(written.count("TM_AI_GENERATED"), 1u) << describe(written);

  Dataset ds = open_raster(sample_connection(target, s.connection));
  ASSERT_TRUE(ds);
  EXPECT_EQ(dataset_provenance(ds.get()), written)
      << "plugin:" << describe(dataset_provenance(ds.get()))
      << "\ntm_generate:" << describe(written);

  // The same items without the prefix in the "TM" domain, which GDAL lists.
  const CPLStringList domains(ds->GetMetadataDomainList());
  EXPECT_GE(domains.FindString("TM"), 0);
  Items expected_domain;
  for (const auto& [key, value] : items_of(ds->GetMetadata(), "TM_"))
    expected_domain[key.substr(3)] = value;
  EXPECT_EQ(items_of(ds->GetMetadata("TM")), expected_domain);
  EXPECT_STREQ(ds->GetMetadataItem("AI_GENERATED", "TM"), "YES");

  // Overview levels are the same generated raster, with the same provenance.
  GDALRasterBand* overview = ds->GetRasterBand(1)->GetOverview(0);
  ASSERT_NE(overview, nullptr);
  ASSERT_NE(overview->GetDataset(), nullptr);
  EXPECT_EQ(dataset_provenance(overview->GetDataset()), written);
}

}  // namespace

TEST(PluginProvenance, EqualsWhatGenerateSceneWritesWithDefaultSettings) {
  const SourceDateEpoch epoch("1700000000");
  Settings s;
  s.connection = ":seed=5";
  s.model_json = R"({"model": "synthetic", "seed": 5})";
  for (const std::string target : {"S1GRD", "LULC"})
    expect_same_provenance_as_generate_scene(s, target);
}

TEST(PluginProvenance, EqualsWhatGenerateSceneWritesWithOtherSettings) {
  const SourceDateEpoch epoch("1700000000");
  Settings s;
  s.connection = ":seed=9:window=64:overlap=24:blend=mean:edge=fill:batch=3";
  s.options.window_size = 64;
  s.options.overlap = 24;
  s.options.weighting = BlendWeighting::kMean;
  s.options.edge = EdgePolicy::kFill;
  s.options.batch_size = 3;
  s.model_json = R"({"model": "synthetic", "seed": 9})";
  expect_same_provenance_as_generate_scene(s, "S1GRD");
}

TEST(PluginProvenance, NamesTheSettingsAndMarksTheRasterAsGenerated) {
  unsetenv("SOURCE_DATE_EPOCH");
  Dataset ds = open_raster(sample_connection("LULC", ":seed=12:window=64:overlap=16"));
  ASSERT_TRUE(ds);
  EXPECT_STREQ(ds->GetMetadataItem("TM_AI_GENERATED"), "YES");
  EXPECT_STREQ(ds->GetMetadataItem("TM_TARGET"), "LULC");
  EXPECT_STREQ(ds->GetMetadataItem("TM_VERSION"), tm_version());
  EXPECT_STREQ(ds->GetMetadataItem("TM_MODEL"), "synthetic test model");
  EXPECT_STREQ(ds->GetMetadataItem("TM_SEED"), "12");
  EXPECT_STREQ(ds->GetMetadataItem("TM_WINDOW_SIZE"), "64");
  EXPECT_STREQ(ds->GetMetadataItem("TM_WINDOW_OVERLAP"), "16");
  EXPECT_STREQ(ds->GetMetadataItem("TM_INPUT_S2L2A"), sample_scene().c_str());
  EXPECT_STREQ(ds->GetMetadataItem("RUNTIME", "TM"), "synthetic test runtime");
  const char* created = ds->GetMetadataItem("TM_CREATED");
  ASSERT_NE(created, nullptr);
  EXPECT_EQ(std::string(created).size(), std::string("2024-01-01T00:00:00Z").size()) << created;
  const char* software = ds->GetMetadataItem("TIFFTAG_SOFTWARE");
  ASSERT_NE(software, nullptr);
  EXPECT_TRUE(contains(software, tm_version())) << software;
  const char* description = ds->GetMetadataItem("TIFFTAG_IMAGEDESCRIPTION");
  ASSERT_NE(description, nullptr);
  EXPECT_TRUE(contains(description, "AI-generated LULC by synthetic test model")) << description;
}

namespace {

// The sample scene averaged to 100 m pixels: an S2L2A stack far from the model's 10 m.
std::string write_coarse_scene(const ScratchDir& dir) {
  const std::string path = dir.file("s2l2a_100m.tif");
  Dataset source = open_raster(sample_scene());
  if (!source) throw std::runtime_error("cannot open the sample scene");
  const char* argv[] = {"-of", "GTiff", "-tr", "100", "100", "-r", "average", nullptr};
  GDALTranslateOptions* options = GDALTranslateOptionsNew(const_cast<char**>(argv), nullptr);
  GDALDatasetH out = GDALTranslate(path.c_str(), source.get(), options, nullptr);
  GDALTranslateOptionsFree(options);
  if (!out) throw std::runtime_error("cannot write " + path);
  GDALClose(out);
  return path;
}

}  // namespace

TEST(PluginResolution, RefusesAnInputFarFromTheNativeResolution) {
  ScratchDir dir;
  const std::string coarse = write_coarse_scene(dir);
  const std::string name = "TM:target=S1GRD:model=synthetic:S2L2A=" + coarse;
  std::string message = errors_of([&] { EXPECT_FALSE(open_raster(name)); });
  EXPECT_TRUE(contains(message, coarse + " cannot be read as S2L2A: pixel size 100 m, S2L2A is "
                                         "10 m"))
      << message;
  EXPECT_TRUE(contains(message, "opt.allow_resolution=YES")) << message;
  // The list of subdatasets is refused too: its inputs are the same.
  message = errors_of([&] { EXPECT_FALSE(open_raster("TM:model=synthetic:S2L2A=" + coarse)); });
  EXPECT_TRUE(contains(message, "pixel size 100 m")) << message;
  // The sample itself, at 10 m, opens.
  EXPECT_TRUE(open_raster(sample_connection("S1GRD")));
}

TEST(PluginResolution, AllowResolutionAcceptsItAndStaysInThePlugin) {
  ScratchDir dir;
  const std::string coarse = write_coarse_scene(dir);
  const int coarse_width = open_raster(coarse)->GetRasterXSize();
  ASSERT_LT(coarse_width, 110);
  // The synthetic runtime refuses options it does not know: opening proves it never sees it.
  for (const std::string spelling : {"YES", "true", "On"}) {
    SCOPED_TRACE(spelling);
    const std::string message = errors_of([&] {
      Dataset ds = open_raster("TM:target=S1GRD:model=synthetic:S2L2A=" + coarse +
                               ":opt.allow_resolution=" + spelling);
      ASSERT_TRUE(ds);
      EXPECT_EQ(ds->GetRasterXSize(), coarse_width);
      const int centre = ds->GetRasterXSize() / 2;
      const std::vector<double> values = read_values(ds->GetRasterBand(1), centre, centre, 4, 4);
      EXPECT_NE(values.front(), -9999.0) << "generated from the 100 m pixels";
    });
    EXPECT_EQ(message, "");
  }
  // As an open option, declared (no "does not support open option" warning).
  const std::string message = errors_of([&] {
    Dataset ds = open_raster("TM:target=S1GRD:model=synthetic:S2L2A=" + coarse,
                             {"OPT.ALLOW_RESOLUTION=YES"});
    EXPECT_TRUE(ds);
  });
  EXPECT_EQ(message, "");
  // Subdataset names keep it, so each subdataset opens as the list did.
  Dataset list = open_raster("TM:model=synthetic:opt.allow_resolution=yes:S2L2A=" + coarse);
  ASSERT_TRUE(list);
  const char* first = list->GetMetadataItem("SUBDATASET_1_NAME", "SUBDATASETS");
  ASSERT_NE(first, nullptr);
  EXPECT_TRUE(contains(first, ":opt.allow_resolution=YES")) << first;
  EXPECT_TRUE(open_raster(first)) << first;
  // A value that is not a boolean is refused.
  const std::string bad = errors_of([&] {
    EXPECT_FALSE(open_raster("TM:target=S1GRD:model=synthetic:S2L2A=" + coarse +
                             ":opt.allow_resolution=maybe"));
  });
  EXPECT_TRUE(contains(bad, "opt.allow_resolution must be a boolean")) << bad;
}
