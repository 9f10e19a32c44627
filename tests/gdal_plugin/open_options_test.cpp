// The driver's declared open options: every setting key, and every runtime option of the
// TerraMind runtime (opt.<name>), in GDAL_DMD_OPENOPTIONLIST and in gdal_plugin/README.md; and
// the shared settings table (tm/settings.h) behind both them and tm_generate's options.
#include <gtest/gtest.h>

#include <cpl_minixml.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "plugin_test_support.h"
#include "test_paths.h"
#include "tm/settings.h"

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

// What a command writes on stdout, whitespace runs (Boost's line wrapping) made one space.
std::string collapsed_output(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::string out;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
  if (pclose(pipe) != 0) throw std::runtime_error(command + " failed");
  return std::regex_replace(out, std::regex("\\s+"), " ");
}

}  // namespace

TEST(SharedSettings, TmGenerateOptionsAndPluginKeysComeFromOneTable) {
  // Every shared setting is a plugin open option and, where it has one, a tm_generate option,
  // with the same default and help: both are generated from settings_table().
  const auto declared = declared_open_options();
  const std::string help = collapsed_output(std::string(TM_TEST_TM_GENERATE) + " --help");
  std::size_t options = 0;
  for (const Setting& setting : settings_table()) {
    const std::string name = upper(setting.key);
    ASSERT_TRUE(declared.count(name)) << name << " is not in GDAL_DMD_OPENOPTIONLIST";
    EXPECT_EQ(declared.at(name).default_value, setting.default_value) << name;
    EXPECT_EQ(declared.at(name).type, gdal_type_name(setting.type)) << name;
    EXPECT_NE(declared.at(name).description.find(setting.help.substr(1)), std::string::npos)
        << name << ": " << declared.at(name).description;
    if (setting.option.empty()) continue;
    ++options;
    const bool on = setting.default_value == "true";
    const std::string line =
        setting.type == SettingType::kBoolean
            ? " --" + setting.option + " " + (on ? "do not " : "") + setting.help
            : " --" + setting.option + " arg (=" + setting.default_value + ") " + setting.help;
    EXPECT_NE(help.find(line), std::string::npos) << "tm_generate --help lacks '" << line << "'";
  }
  EXPECT_GE(options, 14u) << "window, overlap, batch, blend, steps, decoding-steps, seed, "
                             "temperature, top-p, device, threads, head-dim, chain-targets, "
                             "no-clamp at least";
  // The defaults are the engine's and the runtime's.
  EXPECT_EQ(find_setting("window")->default_value, std::to_string(TilingOptions{}.window_size));
  EXPECT_EQ(find_setting("batch")->default_value, std::to_string(TilingOptions{}.batch_size));
  EXPECT_EQ(find_setting("steps")->default_value,
            std::to_string(RuntimeSettings{}.diffusion_steps));
  EXPECT_EQ(find_setting("opt.top_p")->default_value, "0.8");
}

TEST(SharedSettings, OneReaderGivesBothToolsTheSameMessages) {
  TilingOptions tiling;
  RuntimeSettings runtime;
  auto message = [&](const std::string& key, const std::string& shown, const std::string& value) {
    try {
      apply_setting(*find_setting(key), shown, value, tiling, runtime);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(message("window", "--window", "abc"), "--window must be an integer, got 'abc'");
  EXPECT_EQ(message("window", "window", "0"), "window must be in [1, 8192], got 0");
  EXPECT_EQ(message("batch", "--batch", "0"), "--batch must be >= 1, got 0");
  EXPECT_EQ(message("blend", "--blend", "max"), "--blend must be taper or mean, got max");
  EXPECT_EQ(message("opt.top_p", "--top-p", "x"), "--top-p must be a number, got 'x'");
  EXPECT_EQ(message("opt.chain", "opt.chain", "maybe"),
            "opt.chain must be a boolean (true/false, yes/no, on/off, 1/0), got 'maybe'");
  EXPECT_EQ(message("window", "--window", "448") + message("blend", "blend", "MEAN") +
                message("opt.top_p", "--top-p", "0.5") + message("opt.clamp", "--no-clamp", "no") +
                message("steps", "--steps", "25"),
            "");
  EXPECT_EQ(tiling.window_size, 448);
  EXPECT_EQ(tiling.weighting, BlendWeighting::kMean);
  EXPECT_EQ(runtime.top_p, 0.5);
  EXPECT_FALSE(runtime.clamp);
  EXPECT_EQ(runtime.diffusion_steps, 25);
}

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
