// Outputs appear complete or not at all: abandoned writers, errors mid-write, Ctrl-C, existing
// and unwritable destinations.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <thread>

#include "test_paths.h"
#include "tm/testing/interrupt.h"
#include "tm/tiling.h"

using namespace terramind;
using terramind::testing::contains;
using terramind::testing::error_of;
using terramind::testing::ScratchDir;

namespace {

RasterSpec small_spec(int size = 256) {
  RasterSpec spec;
  spec.width = spec.height = size;
  spec.bands = 2;
  spec.data_type = "Float32";
  spec.georef.has_geotransform = true;
  spec.georef.geotransform = {600000, 10, 0, 5300000, 0, -10};
  spec.georef.crs_wkt = crs_to_wkt("EPSG:32632");
  spec.nodata = -9999;
  spec.band_descriptions = {"VV", "VH"};
  return spec;
}



}  // namespace

TEST(AtomicWrite, AbandonedWriterLeavesNothing) {
  ScratchDir dir;
  {
    AtomicRasterWriter writer(dir.file("out.tif"), small_spec());
    std::vector<float> data(2 * 256 * 64, 1.0f);
    writer.write(PixelWindow{0, 0, 256, 64}, data.data());
    EXPECT_EQ(dir.entries().size(), 1u) << "the hidden temporary file exists while writing";
    EXPECT_EQ(dir.entries()[0][0], '.');
  }
  EXPECT_TRUE(dir.entries().empty());
}

TEST(AtomicWrite, ErrorMidWriteLeavesNothing) {
  ScratchDir dir;
  try {
    AtomicRasterWriter writer(dir.file("out.tif"), small_spec());
    std::vector<float> data(2 * 256 * 64, 1.0f);
    writer.write(PixelWindow{0, 0, 256, 64}, data.data());
    writer.write(PixelWindow{0, 250, 256, 64}, data.data());  // runs off the raster: throws
    writer.commit();
    FAIL() << "expected an exception";
  } catch (const std::out_of_range& e) {
    EXPECT_TRUE(contains(e.what(), "outside the output raster"));
  }
  EXPECT_TRUE(dir.entries().empty());
}

TEST(AtomicWrite, CommitPutsTheFileInPlace) {
  ScratchDir dir;
  {
    AtomicRasterWriter writer(dir.file("out.tif"), small_spec());
    std::vector<float> data(2 * 256 * 256, 3.5f);
    writer.write(PixelWindow{0, 0, 256, 256}, data.data());
    writer.commit();
  }
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"out.tif"});
  const SceneReader back = SceneReader::open(dir.file("out.tif"));
  EXPECT_EQ(back.read({10, 10, 1, 1}).values[0], 3.5f);
}

TEST(AtomicWrite, ExistingOutputIsRefusedUnlessOverwrite) {
  ScratchDir dir;
  std::ofstream(dir.file("out.tif")) << "precious";
  const std::string error = error_of([&] { AtomicRasterWriter(dir.file("out.tif"), small_spec()); });
  EXPECT_TRUE(contains(error, "output exists: " + dir.file("out.tif"))) << error;
  EXPECT_TRUE(contains(error, "--overwrite"));
  {
    std::ifstream in(dir.file("out.tif"));
    std::string content;
    in >> content;
    EXPECT_EQ(content, "precious") << "a refused write must not touch the file";
  }
  WriteOptions options;
  options.overwrite = true;
  {
    AtomicRasterWriter writer(dir.file("out.tif"), small_spec(), options);
    std::vector<float> data(2 * 256 * 256, 1.0f);
    writer.write(PixelWindow{0, 0, 256, 256}, data.data());
    writer.commit();
  }
  EXPECT_EQ(SceneReader::open(dir.file("out.tif")).info().band_count, 2);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"out.tif"});
}

TEST(AtomicWrite, OverwriteKeepsTheOldFileUntilCommit) {
  ScratchDir dir;
  std::ofstream(dir.file("out.tif")) << "old";
  WriteOptions options;
  options.overwrite = true;
  {
    AtomicRasterWriter writer(dir.file("out.tif"), small_spec(), options);
    // abandoned
  }
  std::ifstream in(dir.file("out.tif"));
  std::string content;
  in >> content;
  EXPECT_EQ(content, "old");
}

TEST(AtomicWrite, UnwritableDestinationsAreNamed) {
  ScratchDir dir;
  EXPECT_TRUE(contains(error_of([&] { check_output_path(dir.file("no/such/out.tif"), false); }),
                       "output folder does not exist: " + dir.file("no/such")));
  EXPECT_TRUE(contains(error_of([&] { check_output_path(dir.path(), true); }),
                       "output path is a folder"));
  // /proc refuses new files even to root, where permission bits would not.
  const std::string error = error_of([&] { AtomicRasterWriter("/proc/tm_out.tif", small_spec()); });
  EXPECT_TRUE(contains(error, "/proc")) << error;
  EXPECT_FALSE(error.empty());
  EXPECT_THROW(check_output_path("", false), RasterError);
}

// Ctrl-C in a child process that is writing: exit status 130 and an empty folder.
TEST(AtomicWrite, InterruptLeavesNothing) {
  ScratchDir dir;
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    reset_interrupt_for_tests();
    install_interrupt_handlers();
    int status = 0;
    try {
      AtomicRasterWriter writer(dir.file("out.tif"), small_spec());
      std::vector<float> data(2 * 256 * 16, 2.0f);
      for (int i = 0; i < 2000; ++i) {
        writer.write(PixelWindow{0, (i * 16) % 256, 256, 16}, data.data());
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      writer.commit();
    } catch (const Interrupted&) {
      status = 130;
    } catch (...) {
      status = 3;
    }
    _exit(status);  // skip gtest's teardown in the child
  }
  // Wait until the temporary file exists, then interrupt.
  for (int i = 0; i < 400 && dir.entries().empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_FALSE(dir.entries().empty()) << "writer never started";
  kill(child, SIGINT);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_TRUE(dir.entries().empty());
}
