// The registry against the reference fact sheets: the tables are parsed from shared/spec, so a
// typo in modalities.json or a change of the spec fails here.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "test_paths.h"
#include "tm/registry.h"

using namespace terramind;

namespace {

std::string read_spec(const std::string& name) {
  std::ifstream in(terramind::testing::spec_dir() + "/" + name);
  if (!in)
    throw std::runtime_error("spec file missing: " + terramind::testing::spec_dir() + "/" + name);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  // The fact sheets use U+2212 for minus signs.
  for (std::size_t pos; (pos = s.find("\xE2\x88\x92")) != std::string::npos;)
    s.replace(pos, 3, "-");
  return s;
}

std::vector<std::string> lines_between(const std::string& text, const std::string& start,
                                       const std::string& end) {
  const auto a = text.find(start);
  if (a == std::string::npos) throw std::runtime_error("spec section not found: " + start);
  const auto b = text.find(end, a + start.size());
  std::istringstream in(text.substr(a, b == std::string::npos ? std::string::npos : b - a));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> cells(const std::string& row) {
  std::vector<std::string> out;
  std::stringstream in(row);
  std::string cell;
  std::getline(in, cell, '|');  // before the first bar
  while (std::getline(in, cell, '|')) {
    const auto first = cell.find_first_not_of(' ');
    const auto last = cell.find_last_not_of(' ');
    out.push_back(first == std::string::npos ? "" : cell.substr(first, last - first + 1));
  }
  return out;
}

std::vector<std::string> backticked(const std::string& text) {
  std::vector<std::string> keys;
  static const std::regex re("`([^`]+)`");
  for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it)
    keys.push_back((*it)[1]);
  return keys;
}

std::vector<double> numbers(const std::string& text) {
  std::vector<double> out;
  static const std::regex re("-?[0-9]+(\\.[0-9]+)?");
  for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it)
    out.push_back(std::stod(it->str()));
  return out;
}

const ModalityRegistry& registry() { return ModalityRegistry::instance(); }

}  // namespace

TEST(Registry, ModalityTableMatchesSpecSection2_1) {
  const std::string spec = read_spec("terramind-model.md");
  int checked = 0;
  for (const auto& line : lines_between(spec, "### 2.1", "### 2.2")) {
    const auto c = cells(line);
    if (c.size() < 7 || c[0].empty() || c[0][0] != '`') continue;
    const std::string key = backticked(c[0]).at(0);
    const Modality* m = registry().find_by_key(key);
    ASSERT_NE(m, nullptr) << "registry lacks " << key;
    const int id = std::stoi(c[6]);
    const bool as_input = m->input_key == key;
    EXPECT_EQ(as_input ? m->input_id : m->output_id, id) << key;
    std::smatch match;
    if (std::regex_search(c[4], match, std::regex("C=([0-9]+)"))) {
      EXPECT_EQ(m->channels(), std::stoi(match[1])) << key;
      EXPECT_EQ(m->kind, ModalityKind::kPixel) << key;
    }
    if (std::regex_search(c[4], match, std::regex("V=([0-9]+)"))) {
      EXPECT_EQ(m->vocab_size, std::stoi(match[1])) << key;
    }
    if (std::regex_search(c[5], match, std::regex("max_length ([0-9]+)"))) {
      EXPECT_EQ(m->max_length, std::stoi(match[1])) << key;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 14) << "spec table rows parsed";
  // Every key the registry claims appears in the spec table.
  for (const auto& m : registry().modalities()) {
    EXPECT_NE(spec.find("`" + m.input_key + "`"), std::string::npos) << m.input_key;
    if (m.can_generate()) {
      EXPECT_NE(spec.find("`" + m.output_key + "`"), std::string::npos) << m.output_key;
    }
  }
}

TEST(Registry, NormalisationMatchesSpecSection3) {
  const std::string spec = read_spec("terramind-model.md");
  int rows = 0;
  for (const auto version : {StatsVersion::kV1, StatsVersion::kV01}) {
    const std::string start = version == StatsVersion::kV1 ? "**v1 tables**" : "**v0.1 tables**";
    const std::string end = version == StatsVersion::kV1 ? "**v0.1 tables**" : "Expected physical";
    for (const auto& line : lines_between(spec, start, end)) {
      const auto c = cells(line);
      if (c.size() < 3 || c[0].empty() || c[0][0] != '`') continue;
      const auto mean = numbers(c[1]);
      const auto std_dev = numbers(c[2]);
      for (const auto& key : backticked(c[0])) {
        const Modality* m = registry().find_by_key(key);
        ASSERT_NE(m, nullptr) << key;
        const ChannelStats& stats = m->stats(version);
        EXPECT_EQ(stats.mean, mean) << key << " " << to_string(version);
        EXPECT_EQ(stats.std, std_dev) << key << " " << to_string(version);
        ++rows;
      }
    }
  }
  EXPECT_GE(rows, 17);
}

TEST(Registry, BandOrderMatchesSpecSection2_3) {
  const std::string spec = read_spec("terramind-model.md");
  const auto lines = lines_between(spec, "### 2.3", "Band subsetting");
  for (const auto& line : lines) {
    const auto c = cells(line);
    if (c.size() < 2 || backticked(c[0]).empty()) continue;
    const std::string key = backticked(c[0]).at(0);
    if (key == "untok_sen2l2a@224") {
      // "COASTAL_AEROSOL(B1), BLUE(B2), ..." in order.
      static const std::regex re("([A-Z_0-9]+)\\((B[0-9A]+)\\)");
      const Modality& s2 = registry().get("S2L2A");
      int i = 0;
      for (std::sregex_iterator it(c[1].begin(), c[1].end(), re), end; it != end; ++it, ++i) {
        ASSERT_LT(i, s2.channels());
        EXPECT_EQ(s2.bands[i].long_name, (*it)[1].str());
        EXPECT_EQ(s2.bands[i].name, canonical_band_name((*it)[2].str()));
      }
      EXPECT_EQ(i, 12);
    }
    if (key == "untok_sen1grd@224") {
      for (const char* name : {"S1GRD", "S1RTC"}) {
        const Modality& s1 = registry().get(name);
        ASSERT_EQ(s1.channels(), 2);
        EXPECT_EQ(s1.bands[0].name, "VV");
        EXPECT_EQ(s1.bands[1].name, "VH");
      }
    }
  }
  // L1C is L2A with B10 inserted between B09 and B11.
  const Modality& l1c = registry().get("S2L1C");
  ASSERT_EQ(l1c.channels(), 13);
  EXPECT_EQ(l1c.bands[10].name, "B10");
  EXPECT_EQ(l1c.band_index("B09"), 9);
  EXPECT_EQ(l1c.band_index("B11"), 11);
}

TEST(Registry, LulcClassesMatchTokenizerSpec) {
  const std::string spec = read_spec("terramind-tokenizers.md");
  const auto pos = spec.find("0 no data, 1 water");
  ASSERT_NE(pos, std::string::npos);
  const std::string list = spec.substr(pos, spec.find('.', pos) - pos);
  std::map<int, std::string> expected;
  static const std::regex re("([0-9]) ([a-z/ ]+?)(,|$)");
  for (std::sregex_iterator it(list.begin(), list.end(), re), end; it != end; ++it)
    expected[std::stoi((*it)[1])] = (*it)[2];
  ASSERT_EQ(expected.size(), 10u);
  const auto& classes = registry().lulc_classes();
  ASSERT_EQ(classes.size(), 10u);
  for (const auto& c : classes) {
    std::string name = c.name;
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    EXPECT_EQ(name, expected.at(c.index));
  }
  // LULC's tokenizer takes a 10-class one-hot input: one class per registry entry.
  EXPECT_EQ(registry().get("LULC").vocab_size, 7 * 5 * 5 * 5 * 5);
}

TEST(Registry, NamesAndAliasesResolveCaseInsensitively) {
  EXPECT_EQ(registry().get("s2l2a").name, "S2L2A");
  EXPECT_EQ(registry().get("SEN1GRD").name, "S1GRD");
  EXPECT_EQ(registry().get("Coordinates").name, "coords");
  EXPECT_EQ(registry().get("text").name, "caption");
  EXPECT_EQ(registry().find_by_key("tok_lulc@224")->name, "LULC");
  EXPECT_EQ(registry().find("S3"), nullptr);
  try {
    registry().get("S3");
    FAIL() << "expected UnknownModality";
  } catch (const UnknownModality& e) {
    EXPECT_NE(std::string(e.what()).find("unknown modality 'S3'"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("S2L2A"), std::string::npos) << "lists known names";
  }
}

TEST(Registry, KindsAndGenerationTargets) {
  EXPECT_EQ(registry().get("S2L2A").kind, ModalityKind::kPixel);
  EXPECT_EQ(registry().get("LULC").kind, ModalityKind::kImageToken);
  EXPECT_EQ(registry().get("NDVI").kind, ModalityKind::kImageToken);
  EXPECT_EQ(registry().get("coords").kind, ModalityKind::kSequence);
  EXPECT_EQ(registry().get("caption").max_length, 256);
  for (const char* target : {"S2L2A", "S1GRD", "S1RTC", "DEM", "LULC", "NDVI"})
    EXPECT_TRUE(registry().get(target).can_generate()) << target;
  for (const char* input_only : {"S2L1C", "S2RGB"})
    EXPECT_FALSE(registry().get(input_only).can_generate()) << input_only;
  EXPECT_THROW(registry().get("S1RTC").stats(StatsVersion::kV01), std::out_of_range);
}

TEST(Registry, CanonicalBandNames) {
  EXPECT_EQ(canonical_band_name("b1"), "B01");
  EXPECT_EQ(canonical_band_name("B8A"), "B8A");
  EXPECT_EQ(canonical_band_name("vv"), "VV");
  EXPECT_EQ(registry().get("S2L2A").band_index("nir_narrow"), 8);
  EXPECT_EQ(registry().get("S2L2A").band_index("B10"), -1);
}

TEST(Registry, RejectsInconsistentDocuments) {
  EXPECT_THROW(ModalityRegistry::from_json("{not json"), std::invalid_argument);
  const std::string bad_stats = R"({"modalities": [{"name": "X", "kind": "pixel",
      "input_key": "x", "input_id": 1, "bands": [["A", "A"]],
      "normalization": {"v1": {"mean": [1, 2], "std": [1, 1]}}}],
      "lulc_classes": {"classes": []}})";
  EXPECT_THROW(ModalityRegistry::from_json(bad_stats), std::invalid_argument);
  const std::string duplicate = R"({"modalities": [
      {"name": "X", "kind": "sequence", "input_key": "x", "input_id": 1},
      {"name": "Y", "aliases": ["x"], "kind": "sequence", "input_key": "y", "input_id": 2}],
      "lulc_classes": {"classes": []}})";
  EXPECT_THROW(ModalityRegistry::from_json(duplicate), std::invalid_argument);
}

TEST(Registry, KeyKindsComeFromTheKeyTables) {
  for (const auto& m : registry().modalities()) {
    EXPECT_EQ(registry().is_pixel_input_key(m.input_key), m.kind == ModalityKind::kPixel) << m.name;
    if (m.is_image() && m.can_generate()) {
      EXPECT_TRUE(registry().is_token_key(m.output_key)) << m.name;
      EXPECT_FALSE(registry().is_pixel_input_key(m.output_key)) << m.name;
    }
  }
  EXPECT_TRUE(registry().is_pixel_input_key("untok_sen2l2a@224"));
  EXPECT_TRUE(registry().is_token_key("tok_sen2l2a@224")) << "pixel modalities fed as tokens";
  EXPECT_TRUE(registry().is_token_key("tok_lulc@224"));
  EXPECT_FALSE(registry().is_token_key("untok_sen2l2a@224"));
  for (const char* other : {"coords", "caption", "tok_unknown@224", "untok_unknown@224", ""}) {
    EXPECT_FALSE(registry().is_pixel_input_key(other)) << other;
    EXPECT_FALSE(registry().is_token_key(other)) << other;
  }
}

TEST(Registry, ClassMapsAndLevelOffsetsAreRegistryFacts) {
  for (const auto& m : registry().modalities()) {
    EXPECT_EQ(m.is_class_map(), m.name == "LULC") << m.name;
    EXPECT_EQ(m.has_level_offsets(), m.name == "DEM") << m.name;
  }
  const std::string sequence_classes = R"({"modalities": [
      {"name": "X", "kind": "sequence", "input_key": "x", "input_id": 1, "class_map": true}],
      "lulc_classes": {"classes": []}})";
  EXPECT_THROW(ModalityRegistry::from_json(sequence_classes), std::invalid_argument);
  const std::string offset_classes = R"({"modalities": [{"name": "X", "kind": "pixel",
      "input_key": "x", "input_id": 1, "bands": [["A", "A"]], "class_map": true,
      "level_offsets": true}], "lulc_classes": {"classes": []}})";
  EXPECT_THROW(ModalityRegistry::from_json(offset_classes), std::invalid_argument);
}

// tm_shards build rejects values outside a modality's plausible range: every image modality has
// one, the real TerraMesh examples' observed ranges (shared/data/README.md) lie inside, and a
// malformed range is refused.
TEST(Registry, PlausibleRangesCoverTheObservedData) {
  const std::map<std::string, std::pair<double, double>> observed{
      {"S2L2A", {1, 14968}},   {"S2L1C", {8, 12513}}, {"S2RGB", {0, 255}},
      {"S1RTC", {-32.8, 2.6}}, {"DEM", {0, 1218}},    {"LULC", {1, 9}},
      {"NDVI", {-0.98, 0.996}}};
  for (const auto& m : registry().modalities()) {
    if (!m.is_image()) continue;
    ASSERT_TRUE(m.plausible_range) << m.name;
    if (observed.count(m.name)) {
      EXPECT_LE((*m.plausible_range)[0], observed.at(m.name).first) << m.name;
      EXPECT_GE((*m.plausible_range)[1], observed.at(m.name).second) << m.name;
    }
  }
  EXPECT_EQ((*registry().get("LULC").plausible_range)[1], registry().lulc_classes().back().index);
  const std::string reversed = R"({"modalities": [{"name": "X", "kind": "pixel",
      "input_key": "x", "input_id": 1, "bands": [["A", "A"]], "plausible_range": [5, 1]}],
      "lulc_classes": {"classes": []}})";
  EXPECT_THROW(ModalityRegistry::from_json(reversed), std::invalid_argument);
}
