// tm_mosaic's pieces in process: the global window grid of a tile, shards from schedulers'
// environments, planning from item footprints (linear, rule order), plan files, status markers.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "test_paths.h"
#include "tm/mosaic.h"

using namespace terramind;
using namespace terramind::testing;

namespace {

// A square footprint as GeoJSON (EPSG:4326), from its lower-left corner in degrees.
std::string square(double lon, double lat, double side) {
  return nlohmann::json{
      {"type", "Polygon"},
      {"coordinates",
       {{{lon, lat}, {lon + side, lat}, {lon + side, lat + side}, {lon, lat + side}, {lon, lat}}}}}
      .dump();
}

MosaicScene item(const std::string& id, double lon, double lat, double side,
                 const std::string& datetime = "") {
  MosaicScene s;
  s.id = id;
  s.datetime = datetime;
  s.inputs["S2L2A"] = "/data/" + id + ".tif";  // never opened: the footprint is given
  s.footprint_source_wkt = square(lon, lat, side);
  return s;
}

PlanRequest request_for(std::vector<MosaicScene> scenes, int tile_size = 256) {
  PlanRequest r;
  r.scenes = std::move(scenes);
  r.grid.crs = "EPSG:3035";
  r.grid.res_x = r.grid.res_y = 10.0;
  r.grid.tile_size = tile_size;
  r.targets = {"LULC"};
  r.model = "model.json";
  r.settings = {{"window", "64"}, {"overlap", "16"}};
  return r;
}

}  // namespace

TEST(MosaicGrid, ContextIsExactlyTheGlobalWindowsTouchingATile) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const int window = 16 * (1 + rng() % 14), overlap = static_cast<int>(rng() % window);
    const std::int64_t stride = window - overlap;
    const std::int64_t x0 = static_cast<std::int64_t>(rng() % 20000) - 10000;
    const auto w = static_cast<std::int64_t>(1 + rng() % 700),
               h = static_cast<std::int64_t>(1 + rng() % 700);
    const PixelBox box{x0, -x0, x0 + w, -x0 + h};
    const PixelBox c = window_context(box, window, overlap);
    // Every window k * stride of the grid that overlaps the box lies inside the context, and the
    // context starts and ends with such windows.
    EXPECT_EQ(((c.x0 % stride) + stride) % stride, 0);
    EXPECT_EQ(((c.x1 - window) % stride + stride) % stride, 0);
    EXPECT_GT(c.x0 + window, box.x0) << "the first window touches the box";
    EXPECT_LE(c.x0 - stride + window, box.x0) << "the one before does not";
    EXPECT_LT(c.x1 - window, box.x1) << "the last window touches the box";
    EXPECT_GE(c.x1 - window + stride, box.x1) << "the one after does not";
    // A WindowGrid over the context puts its windows exactly there (no flush-edge window).
    const WindowGrid grid(static_cast<int>(c.width()), static_cast<int>(c.height()), window,
                          overlap);
    for (int k = 0; k < grid.cols(); ++k) EXPECT_EQ(grid.col_origins()[k], k * stride);
  }
}

TEST(MosaicGrid, TilesAreAnchoredAtTheCrsOrigin) {
  MosaicGrid g;
  g.res_x = g.res_y = 10.0;
  g.tile_size = 100;
  const TileIndex t{-3, 5};
  EXPECT_EQ(t.name(), "c-3_r5");
  const PixelBox p = tile_pixels(g, t);
  EXPECT_EQ(p.x0, -300);
  EXPECT_EQ(p.y1, 600);
  const auto b = map_bounds(g, p);
  EXPECT_DOUBLE_EQ(b[0], -3000.0);  // min x
  EXPECT_DOUBLE_EQ(b[1], -6000.0);  // min y: rows go south
  EXPECT_DOUBLE_EQ(b[3], -5000.0);
  EXPECT_EQ(composite_rule_from_string("latest"), CompositeRule::kLatest);
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([] { composite_rule_from_string("max"); }),
                       "first, latest or mean"));
}

TEST(MosaicShard, FromFlagsAndSchedulers) {
  auto env = [](std::map<std::string, std::string> vars) {
    return [vars](const char* name) -> const char* {
      const auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  };
  Shard s = shard_from_environment(1, 3, env({}));
  EXPECT_EQ(s.index, 1);
  EXPECT_EQ(s.count, 3);
  s = shard_from_environment(std::nullopt, std::nullopt,
                             env({{"SLURM_ARRAY_TASK_ID", "5"},
                                  {"SLURM_ARRAY_TASK_MIN", "1"},
                                  {"SLURM_ARRAY_TASK_COUNT", "8"}}));
  EXPECT_EQ(s.index, 4) << "Slurm arrays may start at 1";
  EXPECT_EQ(s.count, 8);
  EXPECT_EQ(s.source, "SLURM_ARRAY_TASK_ID");
  s = shard_from_environment(std::nullopt, std::nullopt,
                             env({{"JOB_COMPLETION_INDEX", "2"}, {"TM_SHARD_COUNT", "4"}}));
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.count, 4);
  s = shard_from_environment(std::nullopt, 10, env({{"AWS_BATCH_JOB_ARRAY_INDEX", "9"}}));
  EXPECT_EQ(s.index, 9);
  s = shard_from_environment(std::nullopt, std::nullopt, env({}));
  EXPECT_EQ(s.count, 1) << "no scheduler: one shard, every tile";
  EXPECT_TRUE(contains(error_of<MosaicError>([&] { shard_from_environment(3, 3, env({})); }),
                       "out of range"));
  EXPECT_TRUE(contains(
      error_of<MosaicError>([&] {
        shard_from_environment(std::nullopt, std::nullopt, env({{"JOB_COMPLETION_INDEX", "0"}}));
      }),
      "--shards"));
  EXPECT_TRUE(contains(
      error_of<MosaicError>([&] {
        shard_from_environment(std::nullopt, std::nullopt, env({{"SLURM_ARRAY_TASK_ID", "x"}}));
      }),
      "SLURM_ARRAY_TASK_ID must be a non-negative integer"));
}

TEST(MosaicPlanning, TilesOfFootprintsInRuleOrder) {
  // Two overlapping scenes, the later listed one dated earlier.
  const MosaicPlan plan = make_plan(request_for(
      {item("b", 10.0, 50.0, 0.05, "2024-06-01"), item("a", 10.03, 50.0, 0.05, "2024-05-01")}));
  ASSERT_FALSE(plan.tiles.empty());
  std::size_t shared = 0;
  for (const auto& t : plan.tiles) {
    ASSERT_FALSE(t.scenes.empty());
    if (t.scenes.size() == 2) {
      ++shared;
      EXPECT_EQ(plan.scenes[t.scenes[0]].id, "a") << "the earlier date first";
    }
  }
  EXPECT_GT(shared, 0u);
  // Row-major, each tile once.
  for (std::size_t k = 1; k < plan.tiles.size(); ++k) {
    const auto &p = plan.tiles[k - 1].index, &q = plan.tiles[k].index;
    EXPECT_TRUE(p.row < q.row || (p.row == q.row && p.col < q.col));
  }
  // 0.08 x 0.05 degrees at 50 N is about 5.7 x 5.6 km: 3 x 3 to 4 x 4 tiles of 2.56 km.
  EXPECT_GE(plan.tiles.size(), 6u);
  EXPECT_LE(plan.tiles.size(), 20u);
}

TEST(MosaicPlanning, CostGrowsLinearlyWithTheScenes) {
  // A row of n disjoint scenes gives n times the tiles of one, and no tile names a scene that
  // does not reach it.
  auto tiles_for = [](int n) {
    std::vector<MosaicScene> scenes;
    for (int i = 0; i < n; ++i) scenes.push_back(item("s" + std::to_string(i), 5.0 + i, 45.0, 0.1));
    const MosaicPlan plan = make_plan(request_for(scenes, 512));
    std::size_t scene_refs = 0;
    for (const auto& t : plan.tiles) scene_refs += t.scenes.size();
    EXPECT_EQ(scene_refs, plan.tiles.size()) << "disjoint scenes: one per tile";
    return plan.tiles.size();
  };
  const std::size_t one = tiles_for(1), eight = tiles_for(8);
  EXPECT_NEAR(static_cast<double>(eight) / one, 8.0, 1.0);
}

TEST(MosaicPlanning, BoundsAndErrors) {
  PlanRequest r = request_for({item("a", 10.0, 50.0, 0.05)});
  r.has_bounds = true;
  r.bounds = {10.0, 50.0, 10.2, 50.2};
  r.bounds_crs = "EPSG:4326";
  const MosaicPlan plan = make_plan(r);
  std::size_t empty = 0;
  for (const auto& t : plan.tiles) empty += t.scenes.empty();
  EXPECT_GT(empty, 0u) << "tiles of the bounds without a scene are listed as no input";
  r.bounds = {20.0, 50.0, 20.1, 50.1};
  EXPECT_TRUE(contains(error_of<MosaicError>([&] { make_plan(r); }), "overlap no scene"));
  PlanRequest no_target = request_for({item("a", 10.0, 50.0, 0.05)});
  no_target.targets.clear();
  EXPECT_TRUE(contains(error_of<MosaicError>([&] { make_plan(no_target); }), "no target"));
  PlanRequest coarse = request_for({item("a", 10.0, 50.0, 0.05)});
  coarse.grid.res_x = coarse.grid.res_y = 100.0;
  EXPECT_TRUE(contains(error_of<MosaicError>([&] { make_plan(coarse); }), "--allow-resolution"));
}

TEST(MosaicPlanFile, RoundTripAndRefusals) {
  ScratchDir dir;
  MosaicPlan plan = make_plan(request_for({item("a", 10.0, 50.0, 0.05)}));
  write_plan(plan, dir.file("plan.json"));
  const MosaicPlan back = read_plan(dir.file("plan.json"));
  ASSERT_EQ(back.tiles.size(), plan.tiles.size());
  for (std::size_t k = 0; k < plan.tiles.size(); ++k)
    EXPECT_EQ(back.tile_hash(back.tiles[k]), plan.tile_hash(plan.tiles[k]));
  EXPECT_EQ(back.window_size, 64);
  // Settings decide the hash; the creation date does not.
  MosaicPlan reseeded = plan;
  reseeded.settings["seed"] = "3";
  EXPECT_NE(reseeded.tile_hash(plan.tiles[0]), plan.tile_hash(plan.tiles[0]));
  MosaicPlan later = plan;
  later.created = "2030-01-01T00:00:00Z";
  EXPECT_EQ(later.tile_hash(plan.tiles[0]), plan.tile_hash(plan.tiles[0]));

  auto rewrite = [&](const std::string& key, const nlohmann::json& value) {
    std::ifstream in(dir.file("plan.json"));
    nlohmann::json j;
    in >> j;
    j[key] = value;
    std::ofstream(dir.file("edited.json")) << j.dump();
    return dir.file("edited.json");
  };
  EXPECT_TRUE(
      contains(error_of<MosaicError>([&] { read_plan(rewrite("format", 99)); }), "format 99"));
  EXPECT_TRUE(contains(error_of<MosaicError>([&] { read_plan(rewrite("tm_version", "0.0.1")); }),
                       "planned by tm 0.0.1"));
  std::ofstream(dir.file("junk.json")) << "{";
  EXPECT_TRUE(contains(error_of<MosaicError>([&] { read_plan(dir.file("junk.json")); }),
                       "not a tm_mosaic plan"));
}

TEST(MosaicStatusMarkers, CountsDoneFailedStaleAndPending) {
  ScratchDir dir;
  const MosaicPlan plan = make_plan(request_for({item("a", 10.0, 50.0, 0.05)}));
  ASSERT_GE(plan.tiles.size(), 4u);
  const MosaicPaths paths(dir.path());
  std::filesystem::create_directories(dir.file("tiles"));
  auto mark = [&](std::size_t k, const std::string& kind, const std::string& hash) {
    std::ofstream(paths.marker(plan.tiles[k].index, kind))
        << nlohmann::json{{"hash", hash}, {"error", "scene a: cannot read"}}.dump();
  };
  mark(0, "done", plan.tile_hash(plan.tiles[0]));
  mark(1, "failed", plan.tile_hash(plan.tiles[1]));
  mark(2, "done", "another-hash");
  mark(3, "empty", plan.tile_hash(plan.tiles[3]));
  const MosaicStatus status = mosaic_status(plan, paths, 2);
  EXPECT_EQ(status.total.tiles, plan.tiles.size());
  EXPECT_EQ(status.total.done, 1u);
  EXPECT_EQ(status.total.failed, 1u);
  EXPECT_EQ(status.total.stale, 1u);
  EXPECT_EQ(status.total.empty, 1u);
  EXPECT_EQ(status.total.pending, plan.tiles.size() - 4);
  EXPECT_EQ(status.shards[0].done, 1u) << "tile 0 is shard 0's";
  EXPECT_EQ(status.shards[1].failed, 1u) << "tile 1 is shard 1's";
  ASSERT_EQ(status.failures.size(), 1u);
  EXPECT_EQ(status.failures[0].error, "scene a: cannot read");
  EXPECT_FALSE(status.complete());
}

TEST(MosaicScenes, ItemListsFoldersAndLists) {
  ScratchDir dir;
  std::filesystem::create_directories(dir.file("sub"));
  for (const char* name : {"sub/b.tif", "sub/a.tif", "sub/notes.txt"})
    std::ofstream(dir.file(name)) << "x";
  const nlohmann::json collection = {
      {"type", "FeatureCollection"},
      {"features",
       {{{"id", "item1"},
         {"properties", {{"datetime", "2024-01-02T00:00:00Z"}}},
         {"geometry", nlohmann::json::parse(square(1, 2, 0.1))},
         {"assets",
          {{"S2L2A", {{"href", "sub/a.tif"}}},
           {"radar", {{"href", "/abs/s1.tif"}, {"tm:modality", "S1GRD"}}},
           {"thumbnail", {{"href", "t.png"}}}}}}}}};
  std::ofstream(dir.file("items.json")) << collection.dump();
  std::ofstream(dir.file("list.txt")) << "# scenes\nsub/b.tif\n\n";
  const auto scenes = read_scene_sources(
      {dir.file("items.json"), dir.file("sub"), "@" + dir.file("list.txt")}, "S2L2A");
  ASSERT_EQ(scenes.size(), 4u);
  EXPECT_EQ(scenes[0].id, "item1");
  EXPECT_EQ(scenes[0].datetime, "2024-01-02T00:00:00Z");
  EXPECT_EQ(scenes[0].inputs.at("S2L2A"), dir.file("sub/a.tif"));
  EXPECT_EQ(scenes[0].inputs.at("S1GRD"), "/abs/s1.tif");
  EXPECT_EQ(scenes[0].inputs.size(), 2u) << "the thumbnail is no modality";
  EXPECT_FALSE(scenes[0].footprint_source_wkt.empty());
  EXPECT_EQ(scenes[1].id, "a") << "folders sorted, rasters only";
  EXPECT_EQ(scenes[2].id, "b");
  EXPECT_EQ(scenes[3].id, "b~2") << "repeated names stay apart";
  EXPECT_TRUE(contains(
      error_of<MosaicError>([&] { read_scene_sources({dir.file("missing.tif")}, "S2L2A"); }),
      "scene not found"));
  EXPECT_TRUE(
      contains(error_of<MosaicError>([&] { read_scene_sources({dir.file("sub/a.tif")}, "NOPE"); }),
               "not an image modality"));
}
