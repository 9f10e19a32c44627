// tm/ascii_strings.h: the one definition of case mapping, prefix tests and lists.
#include "tm/ascii_strings.h"

#include <gtest/gtest.h>

using namespace terramind;

TEST(AsciiStrings, CaseMapsAsciiOnly) {
  EXPECT_EQ(to_lower("S2L2A_Tile.TIF"), "s2l2a_tile.tif");
  EXPECT_EQ(to_upper("opt.temperature"), "OPT.TEMPERATURE");
  EXPECT_EQ(to_lower("\xC3\x84rger"), "\xC3\x84rger") << "UTF-8 bytes pass unchanged";
}

TEST(AsciiStrings, PrefixesAndSuffixes) {
  EXPECT_TRUE(starts_with("encoder.0.attn", "encoder."));
  EXPECT_FALSE(starts_with("enc", "encoder."));
  EXPECT_TRUE(ends_with("card.json", ".json"));
  EXPECT_FALSE(ends_with("json", ".json"));
  EXPECT_TRUE(starts_with("x", "") && ends_with("x", ""));
}

TEST(AsciiStrings, SplitDropsEmptyItems) {
  EXPECT_EQ(split("S1GRD,LULC", ','), (std::vector<std::string>{"S1GRD", "LULC"}));
  EXPECT_EQ(split(",a,,b,", ','), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(split("", ',').empty());
  EXPECT_TRUE(split(",,", ',').empty());
}

TEST(AsciiStrings, JoinPutsSeparatorsBetween) {
  EXPECT_EQ(join(std::vector<std::string>{"a", "b", "c"}, ", "), "a, b, c");
  EXPECT_EQ(join(std::vector<std::string>{}, ", "), "");
  EXPECT_EQ(join(std::vector<int>{8, 8, 8, 6, 5}, "-"), "8-8-8-6-5");
  EXPECT_EQ(join(std::vector<int>{7}, "-"), "7");
}
