// The training metrics log (JSONL, resume, CSV) and the loss-curve PNG writer.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tm/training_metrics.h"

namespace fs = std::filesystem;
using namespace terramind::training;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("tm_metrics_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void spit(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

std::uint32_t be32(const std::string& s, std::size_t at) {
  return (std::uint32_t(std::uint8_t(s[at])) << 24) |
         (std::uint32_t(std::uint8_t(s[at + 1])) << 16) |
         (std::uint32_t(std::uint8_t(s[at + 2])) << 8) | std::uint32_t(std::uint8_t(s[at + 3]));
}

// Decodes what write_png writes (one IDAT, filter 0) with zlib; checks every chunk's CRC.
RgbImage decode_png(const std::string& png) {
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  RgbImage image;
  std::string idat;
  for (std::size_t at = 8; at + 12 <= png.size();) {
    const std::uint32_t length = be32(png, at);
    const std::string type = png.substr(at + 4, 4);
    const std::string body = png.substr(at + 4, 4 + length);
    const auto crc = ::crc32(::crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(body.data()),
                             static_cast<uInt>(body.size()));
    EXPECT_EQ(be32(png, at + 8 + length), static_cast<std::uint32_t>(crc)) << type;
    if (type == "IHDR") {
      image.width = static_cast<int>(be32(png, at + 8));
      image.height = static_cast<int>(be32(png, at + 12));
      EXPECT_EQ(png[at + 16], 8);
      EXPECT_EQ(png[at + 17], 2);
    } else if (type == "IDAT") {
      idat += png.substr(at + 8, length);
    }
    at += 12 + length;
  }
  uLongf raw_size = static_cast<uLongf>(image.width * 3 + 1) * static_cast<uLongf>(image.height);
  std::string raw(raw_size, '\0');
  EXPECT_EQ(::uncompress(reinterpret_cast<Bytef*>(raw.data()), &raw_size,
                         reinterpret_cast<const Bytef*>(idat.data()), idat.size()),
            Z_OK);
  for (int y = 0; y < image.height; ++y) {
    EXPECT_EQ(raw[static_cast<std::size_t>(y) * (image.width * 3 + 1)], 0);
    const auto row = raw.begin() + static_cast<long>(y) * (image.width * 3 + 1) + 1;
    image.pixels.insert(image.pixels.end(), row, row + image.width * 3);
  }
  return image;
}

}  // namespace

TEST(training_metrics, log_round_trips_rows_with_nan_as_null) {
  TempDir dir;
  const auto path = (dir.path / "m.jsonl").string();
  {
    MetricsLog log(path);
    log.append({1, "train", {{"loss", 9.5}, {"lr", 1e-4}}});
    log.append({2, "train", {{"loss", std::nan("")}}});
    log.append({2, "val", {{"loss", 8.25}}});
    EXPECT_EQ(log.rows().size(), 3u);
  }
  const std::string text = slurp(path);
  EXPECT_NE(text.find("\"loss\":null"), std::string::npos) << text;
  const auto rows = MetricsLog::read(path);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].step, 1);
  EXPECT_DOUBLE_EQ(rows[0].values.at("loss"), 9.5);
  EXPECT_DOUBLE_EQ(rows[0].values.at("lr"), 1e-4);
  EXPECT_TRUE(std::isnan(rows[1].values.at("loss")));
  EXPECT_EQ(rows[2].phase, "val");
  EXPECT_THROW(MetricsLog(path).append({3, "train", {{"step", 1.0}}}), std::invalid_argument);
}

TEST(training_metrics, resume_keeps_rows_up_to_the_step_and_appends) {
  TempDir dir;
  const auto path = (dir.path / "m.jsonl").string();
  {
    MetricsLog log(path);
    for (int s = 1; s <= 5; ++s) log.append({s, "train", {{"loss", 10.0 - s}}});
  }
  {
    MetricsLog log(path, 3);
    EXPECT_EQ(log.rows().size(), 3u);
    log.append({4, "train", {{"loss", 1.0}}});
  }
  const auto rows = MetricsLog::read(path);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows.back().step, 4);
  EXPECT_DOUBLE_EQ(rows.back().values.at("loss"), 1.0);
  // No log yet: resuming starts an empty one.
  MetricsLog fresh((dir.path / "none.jsonl").string(), 7);
  EXPECT_TRUE(fresh.rows().empty());
}

TEST(training_metrics, read_names_the_bad_line_and_ignores_a_cut_last_line) {
  TempDir dir;
  const auto path = dir.path / "m.jsonl";
  spit(path, "{\"step\":1,\"phase\":\"train\",\"loss\":2}\n{\"step\":2,\"pha");
  EXPECT_EQ(MetricsLog::read(path.string()).size(), 1u);
  spit(path, "{\"step\":1,\"phase\":\"train\"}\nnot json\n{\"step\":3,\"phase\":\"train\"}\n");
  try {
    MetricsLog::read(path.string());
    FAIL() << "a bad line was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string() + ":2:"), std::string::npos) << e.what();
  }
  spit(path, "{\"step\":\"one\",\"phase\":\"train\"}\n");
  EXPECT_THROW(MetricsLog::read(path.string()), std::runtime_error);
  spit(path, "{\"step\":1,\"phase\":\"train\",\"loss\":\"low\"}\n");
  EXPECT_THROW(MetricsLog::read(path.string()), std::runtime_error);
  EXPECT_THROW(MetricsLog::read((dir.path / "missing").string()), std::runtime_error);
}

TEST(training_metrics, csv_has_the_union_of_keys_and_empty_cells) {
  TempDir dir;
  const auto path = (dir.path / "m.csv").string();
  write_metrics_csv({{1, "train", {{"loss", 2.5}, {"lr", 0.001}}},
                     {1, "val", {{"loss", 3.0}}},
                     {2, "train", {{"a,b", 1.0}}}},
                    path);
  EXPECT_EQ(slurp(path),
            "step,phase,\"a,b\",loss,lr\n"
            "1,train,,2.5,0.001\n"
            "1,val,,3,\n"
            "2,train,1,,\n");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(training_metrics, png_decodes_to_the_image_written) {
  TempDir dir;
  RgbImage image;
  image.width = 7;
  image.height = 3;
  for (int i = 0; i < 7 * 3 * 3; ++i) image.pixels.push_back(static_cast<std::uint8_t>(i * 11));
  const auto path = (dir.path / "x.png").string();
  write_png(path, image);
  const RgbImage back = decode_png(slurp(path));
  EXPECT_EQ(back.width, 7);
  EXPECT_EQ(back.height, 3);
  EXPECT_EQ(back.pixels, image.pixels);
  image.pixels.pop_back();
  EXPECT_THROW(write_png(path, image), std::invalid_argument);
  EXPECT_THROW(write_png((dir.path / "no" / "x.png").string(), back), std::runtime_error);
}

TEST(training_metrics, plot_draws_series_where_the_layout_maps_them) {
  PlotSeries falling{"loss", {{0, 10}, {50, 5}, {100, 1}}};
  PlotSeries flat{"val", {{0, 4}, {100, 4}}};
  PlotOptions options;
  options.width = 400;
  options.height = 300;
  options.reference_line = 9.68;
  PlotLayout layout;
  const RgbImage image = render_line_plot({falling, flat}, options, &layout);
  ASSERT_EQ(image.width, 400);
  ASSERT_EQ(image.height, 300);
  EXPECT_LE(layout.y_min, 1);
  EXPECT_GE(layout.y_max, 10);
  auto near_colour = [&](double x, double y, Rgb c) {
    const int px = static_cast<int>(std::lround(layout.x_to_px(x)));
    const int py = static_cast<int>(std::lround(layout.y_to_px(y)));
    for (int dy = -1; dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx)
        if (image.at(px + dx, py + dy) == c) return true;
    return false;
  };
  EXPECT_TRUE(near_colour(50, 5, plot_series_colour(0)));
  EXPECT_TRUE(near_colour(25, 7.5, plot_series_colour(0)));
  EXPECT_TRUE(near_colour(60, 4, plot_series_colour(1)));
  EXPECT_FALSE(near_colour(60, 8, plot_series_colour(0)));
  // The reference line is dashed: some pixels on it, not all.
  int on = 0;
  const int ry = static_cast<int>(std::lround(layout.y_to_px(9.68)));
  for (int x = layout.left + 1; x < layout.right; ++x)
    on += image.at(x, ry) == plot_reference_colour();
  EXPECT_GT(on, (layout.right - layout.left) / 4);
  EXPECT_LT(on, (layout.right - layout.left) * 3 / 4);
  // Two series: a legend with both swatches.
  ASSERT_GT(layout.legend_right, layout.legend_left);
  bool first = false, second = false;
  for (int y = layout.legend_top; y <= layout.legend_bottom; ++y) {
    first |= image.at((layout.legend_left + layout.legend_right) / 2, y) == plot_series_colour(0);
    second |= image.at((layout.legend_left + layout.legend_right) / 2, y) == plot_series_colour(1);
  }
  EXPECT_TRUE(first && second);
  options.width = 10;
  EXPECT_THROW(render_line_plot({falling}, options), std::invalid_argument);
}

TEST(training_metrics, log_axis_and_gaps_at_non_finite_values) {
  PlotOptions options;
  options.log_y = true;
  PlotLayout layout;
  const RgbImage image = render_line_plot(
      {{"loss", {{0, 100}, {1, std::nan("")}, {2, 1}, {3, -1}, {4, 10}}}}, options, &layout);
  EXPECT_TRUE(layout.log_y);
  EXPECT_NEAR(layout.y_to_px(10), (layout.y_to_px(100) + layout.y_to_px(1)) / 2, 1e-9);
  // Between x=0 and x=2 the NaN leaves a gap: the midpoint of a straight segment stays empty.
  const int px = static_cast<int>(std::lround(layout.x_to_px(1)));
  const int py = static_cast<int>(std::lround(layout.y_to_px(10)));
  EXPECT_NE(image.at(px, py), plot_series_colour(0));
}

TEST(training_metrics, plot_metrics_writes_one_series_per_phase) {
  TempDir dir;
  const auto path = (dir.path / "loss.png").string();
  plot_metrics(
      {{1, "train", {{"loss", 3}}}, {2, "train", {{"loss", 2}}}, {2, "val", {{"loss", 2.5}}}}, path,
      {"loss"}, PlotOptions{});
  const RgbImage image = decode_png(slurp(path));
  EXPECT_EQ(image.width, PlotOptions{}.width);
  bool has_val_colour = false;
  for (std::size_t i = 0; i + 2 < image.pixels.size(); i += 3)
    has_val_colour |=
        Rgb{image.pixels[i], image.pixels[i + 1], image.pixels[i + 2]} == plot_series_colour(1);
  EXPECT_TRUE(has_val_colour);
}
