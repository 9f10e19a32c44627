// Every way to get it wrong ends in a GDAL error naming the problem, never in a crash.
#include <gtest/gtest.h>

#include "plugin_test_support.h"
#include "test_paths.h"

using namespace terramind;
using namespace terramind::testing;

namespace {

struct BadOpen {
  std::string name;
  std::string expected;  // part of the error message
};

// Opens `name`, expects failure, returns the error messages.
std::string open_failure(const std::string& name, unsigned flags = GDAL_OF_READONLY) {
  return errors_of([&] {
    GDALDataset* ds = GDALDataset::Open(name.c_str(), GDAL_OF_RASTER | flags);
    EXPECT_EQ(ds, nullptr) << name;
    if (ds) GDALClose(ds);
  });
}

}  // namespace

TEST(PluginErrors, BadConnectionStringsAreNamed) {
  const std::string s2 = ":S2L2A=" + sample_scene();
  const std::vector<BadOpen> cases = {
      {"TM:", "empty connection string"},
      {"TM:target=S1GRD", "no input scene"},
      {"TM:target=S1GRD:model=synthetic:S2L2A=/no/such/scene.tif",
       "input not found: /no/such/scene.tif"},
      {"TM:target=S1GRD:model=synthetic:S2L2A=\"/open/quote.tif", "no closing '\"'"},
      {"TM:target=S1GRD:model=synthetic:S2L2A=a\"b.tif", "quote the whole value"},
      {"TM:target=S1GRD:bogus=1" + s2, "unknown key 'bogus'"},
      {"TM:target=S1GRD:target=LULC" + s2, "target is given twice"},
      {"TM:target=S1GRD:model=synthetic" + s2 + ":", "ends with ':'"},
      {"TM:target=S1GRD::model=synthetic" + s2, "empty or malformed item"},
      {"TM:target" + s2, "item 'target' has no '='"},
      {"TM:target=S1GRD:model=synthetic:window=abc" + s2, "window must be an integer, got 'abc'"},
      {"TM:target=S1GRD:model=synthetic:overlap=300" + s2,
       "overlap 300 must be smaller than window 224"},
      {"TM:target=S1GRD:model=synthetic:blend=max" + s2, "blend must be taper or mean"},
      {"TM:target=S1GRD:model=synthetic:S1GRD=" + sample_scene(), "12 bands, S1GRD has 2"},
  };
  for (const BadOpen& c : cases)
    EXPECT_NE(open_failure(c.name).find(c.expected), std::string::npos)
        << c.name << "\n  got: " << open_failure(c.name);
}

TEST(PluginErrors, ModelProblemsAreNamed) {
  const std::string s2 = ":S2L2A=" + sample_scene();
  const std::vector<BadOpen> cases = {
      {"TM:target=NDVI:model=synthetic" + s2,
       "the model cannot generate NDVI (it offers LULC, S1GRD)"},
      {"TM:target=S1GRD:model=other" + s2, "unknown model 'other'"},
      {"TM:target=S1GRD" + s2, "no model given"},
      {"TM:target=S1GRD:model=synthetic:window=200" + s2, "not a multiple of 16"},
      {"TM:target=S1GRD:model=synthetic:opt.nope=1" + s2, "unknown runtime option 'nope'"},
  };
  for (const BadOpen& c : cases)
    EXPECT_NE(open_failure(c.name).find(c.expected), std::string::npos)
        << c.name << "\n  got: " << open_failure(c.name);
}

TEST(PluginErrors, InputTheModelDoesNotTake) {
  ScratchDir dir;
  write_float_raster(dir.file("s1.tif"), 40, 40, 2, [](int b, int x, int y) { return -10.0f - b; });
  const std::string message =
      open_failure("TM:target=LULC:model=synthetic:S1GRD=" + dir.file("s1.tif"));
  EXPECT_NE(message.find("the model does not take S1GRD as input"), std::string::npos) << message;
}

TEST(PluginErrors, BadDescriptorsAreNamed) {
  ScratchDir dir;
  const std::string path = dir.file("bad.tmgen");
  auto expect_refusal = [&](const std::string& text, const std::string& expected) {
    FILE* f = std::fopen(path.c_str(), "w");
    std::fputs(text.c_str(), f);
    std::fclose(f);
    const std::string message = open_failure(path);
    EXPECT_NE(message.find(expected), std::string::npos) << text << "\n  got: " << message;
  };
  expect_refusal(R"({"tm_descriptor": 1, "inputs": {"S2L2A": "missing.tif"}, "target": "LULC",
                   "model": "synthetic"})",
                 "input not found: " + dir.file("missing.tif"));
  expect_refusal(R"({"tm_descriptor": 1, "inputs": {}, "model": "synthetic"})",
                 "\"inputs\" must map modalities");
  expect_refusal(R"({"tm_descriptor": 1, "inputs": {"S2L2A": "a.tif"}, "colour": "red"})",
                 "unknown member \"colour\"");
  expect_refusal(R"({"tm_descriptor": 1, "inputs": {"S2L2A": "a.tif"}, "settings": {"window": )",
                 "is not valid JSON");
  expect_refusal(R"({"tm_descriptor": 2, "inputs": {"S2L2A": "a.tif"}})",
                 "\"tm_descriptor\" must be 1");
}

TEST(PluginErrors, MissingOrForeignRuntime) {
  const std::string name = sample_connection("S1GRD", ":seed=31");
  CPLSetConfigOption("TM_RUNTIME", "/no/such/libtm_runtime.so");
  std::string message = open_failure(name);
  EXPECT_NE(message.find("cannot load the TM model runtime /no/such/libtm_runtime.so"),
            std::string::npos)
      << message;
  const std::string plugin = plugin_dir() + "/gdal_TM.so";
  CPLSetConfigOption("TM_RUNTIME", plugin.c_str());
  message = open_failure(name);
  EXPECT_NE(message.find("is not a TM model runtime"), std::string::npos) << message;
  CPLSetConfigOption("TM_RUNTIME", nullptr);
  EXPECT_TRUE(open_raster(name)) << "the environment's runtime again";
}

TEST(PluginErrors, UpdateAccessIsRefused) {
  const std::string message = open_failure(sample_connection("S1GRD"), GDAL_OF_UPDATE);
  EXPECT_NE(message.find("read-only"), std::string::npos) << message;
}

TEST(PluginErrors, AFailingModelFailsTheReadNotTheProcess) {
  Dataset ds = open_raster(sample_connection("S1GRD", ":opt.fail=1"));
  ASSERT_TRUE(ds) << "opening does not run the model";
  std::vector<float> buffer(64 * 64);
  CPLErr status = CE_None;
  const std::string message = errors_of([&] {
    status = ds->GetRasterBand(1)->RasterIO(GF_Read, 0, 0, 64, 64, buffer.data(), 64, 64,
                                            GDT_Float32, 0, 0, nullptr);
  });
  EXPECT_EQ(status, CE_Failure);
  EXPECT_NE(message.find("synthetic model failure"), std::string::npos) << message;
}
