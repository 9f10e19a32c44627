// The driver's declared open options: every setting key, and every runtime option of the
// TerraMind runtime (opt.<name>), in GDAL_DMD_OPENOPTIONLIST and in gdal_plugin/README.md.
#include <gtest/gtest.h>

#include <cpl_minixml.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "plugin_test_support.h"
#include "test_paths.h"

using namespace terramind;
using namespace terramind::testing;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string source_file(const std::string& relative) {
  return read_file(std::string(TM_TEST_SOURCE_DIR) + "/" + relative);
}

// name -> the <Option> element's attributes "type" and "default" (upper-case names).
struct Declared {
  std::string type, default_value, description;
};
std::map<std::string, Declared> declared_open_options() {
  GDALDriver* driver = GetGDALDriverManager()->GetDriverByName("TM");
  if (!driver) throw std::runtime_error("no TM driver");
  const char* xml = driver->GetMetadataItem(GDAL_DMD_OPENOPTIONLIST);
  if (!xml) throw std::runtime_error("no GDAL_DMD_OPENOPTIONLIST");
  CPLXMLNode* root = CPLParseXMLString(xml);
  if (!root) throw std::runtime_error(std::string("the open option list is not XML: ") + xml);
  std::map<std::string, Declared> options;
  for (CPLXMLNode* node = root->psChild; node; node = node->psNext)
    if (node->eType == CXT_Element && EQUAL(node->pszValue, "Option"))
      options[CPLGetXMLValue(node, "name", "")] = {CPLGetXMLValue(node, "type", ""),
                                                   CPLGetXMLValue(node, "default", ""),
                                                   CPLGetXMLValue(node, "description", "")};
  CPLDestroyXMLNode(root);
  return options;
}

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// The options runtime_settings_from_json understands: `key == "<name>"` in its source.
std::set<std::string> terramind_runtime_options() {
  const std::string source = source_file("runtime/src/runtime_settings.cpp");
  std::set<std::string> names;
  const std::regex key(R"re(key\s*==\s*"([A-Za-z0-9_]+)")re");
  for (auto it = std::sregex_iterator(source.begin(), source.end(), key);
       it != std::sregex_iterator(); ++it)
    names.insert((*it)[1]);
  return names;
}

}  // namespace

TEST(PluginOpenOptions, EverySettingKeyIsDeclared) {
  const auto declared = declared_open_options();
  for (const char* key : {"TARGET", "MODEL", "STEPS", "SEED", "DEVICE", "THREADS", "WINDOW",
                          "OVERLAP", "BLEND", "EDGE", "BATCH", "CACHE_MB", "OVERVIEWS"}) {
    ASSERT_TRUE(declared.count(key)) << key;
    EXPECT_FALSE(declared.at(key).type.empty()) << key;
    EXPECT_FALSE(declared.at(key).description.empty()) << key << " has a description";
  }
  EXPECT_EQ(declared.at("WINDOW").default_value, "224");
  EXPECT_EQ(declared.at("OVERLAP").default_value, "32");
  EXPECT_EQ(declared.at("BLEND").type, "string-select");
  EXPECT_FALSE(declared.count("DESCRIPTOR")) << "descriptor= belongs in the connection string";
}

TEST(PluginOpenOptions, EveryTerraMindRuntimeOptionIsDeclaredAndDocumented) {
  const std::set<std::string> runtime = terramind_runtime_options();
  ASSERT_GE(runtime.size(), 8u) << "temperature, top_p, top_k, decoding_steps, head_dim, clamp, "
                                   "chain, targets at least";
  const auto declared = declared_open_options();
  const std::string readme = source_file("gdal_plugin/README.md");
  for (const std::string& name : runtime) {
    const std::string option = "OPT." + upper(name);
    EXPECT_TRUE(declared.count(option)) << option << " is not in GDAL_DMD_OPENOPTIONLIST";
    if (declared.count(option)) {
      EXPECT_FALSE(declared.at(option).description.empty()) << option << " has no description";
    }
    EXPECT_NE(readme.find("`opt." + name + "`"), std::string::npos)
        << "opt." << name << " is not documented in gdal_plugin/README.md";
  }
}

TEST(PluginOpenOptions, DeclaredRuntimeOptionsReachTheRuntime) {
  // The synthetic runtime knows delay_ms and refuses the TerraMind options: a declared runtime
  // open option must arrive as opt.<name> (the refusal names it), with no undeclared warning.
  std::string message = errors_of([] {
    Dataset ds = open_raster(sample_connection("S1GRD", ":seed=81"), {"OPT.TEMPERATURE=0"});
    EXPECT_FALSE(ds);
  });
  EXPECT_NE(message.find("unknown runtime option 'temperature'"), std::string::npos) << message;
  EXPECT_EQ(message.find("does not support open option"), std::string::npos) << message;
}

TEST(PluginOpenOptions, BooleanRuntimeOptionsAreSpelledAsTheRuntimeReadsThem) {
  // GDAL's boolean spellings (YES, ON, TRUE ...) reach the runtime as true/false.
  for (const auto& [given, passed] : std::vector<std::pair<std::string, std::string>>{
           {"YES", "true"}, {"On", "true"}, {"1", "true"}, {"NO", "false"}, {"false", "false"}}) {
    const std::string message = errors_of([&] {
      Dataset ds = open_raster(sample_connection("S1GRD", ":seed=82:opt.clamp=" + given));
      EXPECT_FALSE(ds);
    });
    EXPECT_NE(message.find("unknown runtime option 'clamp' (value '" + passed + "';"),
              std::string::npos)
        << given << ": " << message;
  }
  const std::string message = errors_of([] {
    Dataset ds = open_raster(sample_connection("S1GRD", ":seed=83:opt.chain=maybe"));
    EXPECT_FALSE(ds);
  });
  EXPECT_NE(message.find("opt.chain must be a boolean"), std::string::npos) << message;
}
