// Descriptor files as editors write them: a key given twice is refused (JSON would let the last
// one win silently), a UTF-8 byte order mark at the start is accepted.
#include <gtest/gtest.h>

#include <fstream>

#include "plugin_test_support.h"
#include "test_paths.h"

using namespace terramind;
using namespace terramind::testing;

namespace {

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string open_error(const std::string& name) {
  return errors_of([&] {
    GDALDataset* ds = GDALDataset::Open(name.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY);
    EXPECT_EQ(ds, nullptr) << name;
    if (ds) GDALClose(ds);
  });
}

// A descriptor of the sample scene with `extra` lines after the model line (line 4 on).
std::string descriptor(const std::string& extra) {
  return "{\n"                        // 1
         "  \"tm_descriptor\": 1,\n"  // 2
         "  \"inputs\": {\"S2L2A\": \"" +
         sample_scene() +
         "\"},\n"  // 3
         "  \"model\": \"synthetic\"" +
         extra + "\n}\n";
}

}  // namespace

TEST(PluginDescriptor, DuplicateKeysAreRefusedWithBothLines) {
  ScratchDir dir;
  const std::string path = dir.file("twice.tmgen");
  struct Case {
    std::string extra, expected;
  };
  const std::vector<Case> cases = {
      {",\n  \"target\": \"LULC\",\n  \"description\": \"x\",\n  \"target\": \"S1GRD\"",
       "key \"target\" appears twice (lines 5 and 7)"},
      {",\n  \"target\": \"LULC\",\n  \"settings\": {\"window\": 64,\n    \"overlap\": 8,\n"
       "    \"window\": 96}",
       "key \"window\" in \"settings\" appears twice (lines 6 and 8)"},
      {",\n  \"target\": \"LULC\",\n  \"options\": {\"delay_ms\": \"1\", \"delay_ms\": \"2\"}",
       "key \"delay_ms\" in \"options\" appears twice (both on line 6)"},
      {",\n  \"target\": \"LULC\",\n  \"settings\": {\"seed\": 1,\n    \"SEED\": 2}",
       "\"settings\": \"seed\" (line 6) and \"SEED\" (line 7) are the same key"},
      {",\n  \"target\": \"LULC\",\n  \"model\": \"other\"",
       "key \"model\" appears twice (lines 4 and 6)"},
  };
  for (const Case& c : cases) {
    write_text(path, descriptor(c.extra));
    const std::string message = open_error(path);
    EXPECT_NE(message.find(c.expected), std::string::npos)
        << descriptor(c.extra) << "\n  got: " << message;
    EXPECT_NE(message.find(path), std::string::npos) << "names the file: " << message;
  }
  // The same key in two different objects is no duplicate.
  write_text(path, descriptor(",\n  \"target\": \"LULC\",\n  \"settings\": {\"seed\": 3},\n"
                              "  \"options\": {\"seed\": \"3\"}"));
  EXPECT_NE(open_error(path).find("unknown runtime option 'seed'"), std::string::npos)
      << "refused by the runtime, not as a duplicate";
}

TEST(PluginDescriptor, ByteOrderMarkIsAccepted) {
  ScratchDir dir;
  const std::string path = dir.file("bom.tmgen");
  write_text(path, "\xEF\xBB\xBF" + descriptor(",\n  \"target\": \"LULC\""));
  Dataset ds = open_raster(path);
  ASSERT_TRUE(ds) << CPLGetLastErrorMsg();
  EXPECT_EQ(ds->GetRasterCount(), 1);
  EXPECT_STREQ(ds->GetMetadataItem("TM_TARGET"), "LULC");
  EXPECT_STREQ(ds->GetDriver()->GetDescription(), "TM");
  // Line numbers count from the mark's line as from any other first line.
  write_text(path,
             "\xEF\xBB\xBF" + descriptor(",\n  \"target\": \"LULC\",\n  \"target\": \"LULC\""));
  const std::string message = open_error(path);
  EXPECT_NE(message.find("key \"target\" appears twice (lines 5 and 6)"), std::string::npos)
      << message;
}
