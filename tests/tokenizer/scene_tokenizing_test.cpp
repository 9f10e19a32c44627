// tm_tokenize's scene layer: real TerraMesh samples through token rasters and back, with the
// fixture tokenizers, compared with the library (and so with the reference) tile by tile.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include "test_paths.h"
#include "tm/registry.h"
#include "tm/scene_tokenizing.h"
#include "tm/token_raster.h"
#include "tokenizer_fixtures.h"

using namespace terramind;
using terramind::testing::data_dir;
using terramind::testing::fixture_tensors;
using terramind::testing::fixture_tokenizer;
using terramind::testing::kDiVAE;
using terramind::testing::kVQVAE;
using terramind::testing::ScratchDir;

namespace {

std::string sample(const std::string& modality) {
  return data_dir() + "/terramesh_examples/" + modality + "/282D_485L_3_3.tif";
}

// The whole raster as [bands, height, width] float32.
at::Tensor read_all(const std::string& path) {
  OpenOptions open;
  open.allow_ungeoreferenced = true;
  const SceneReader reader = SceneReader::open(path, open);
  const RasterInfo& info = reader.info();
  const WindowData data = reader.read({0, 0, info.width, info.height});
  return at::from_blob(const_cast<float*>(data.values.data()),
                       {data.bands, data.height, data.width}, at::kFloat)
      .clone();
}

}  // namespace

class scene_tokenizing : public ::testing::Test {
 protected:
  torch::NoGradGuard no_grad;
  ScratchDir scratch;
};

TEST_F(scene_tokenizing, S1SampleRoundTripOnTheSceneGrid) {
  const ImageTokenizer& tok = fixture_tokenizer(kDiVAE);
  const std::string tokens = scratch.file("s1_tokens.tif"), decoded = scratch.file("s1.tif");
  EncodeSceneOptions encode;
  const auto e = encode_scene(sample("S1RTC"), "S1GRD", tok, tokens, encode);
  EXPECT_EQ(e.tiles, 1);
  EXPECT_EQ(e.data_type, "UInt16");

  // The fixture encoded the same tile (standardised as S1GRD): identical tokens.
  const RasterInfo scene = inspect_raster(sample("S1RTC"));
  const RasterInfo token_info = inspect_raster(tokens);
  EXPECT_EQ(token_info.width, 14);
  EXPECT_EQ(token_info.data_type, "UInt16");
  const at::Tensor ids = read_all(tokens)[0].to(at::kInt);
  EXPECT_TRUE(at::equal(ids, fixture_tensors(kDiVAE).at("output/tokens")[0]));
  GeoReference coarse = scene.georef;
  for (int i : {1, 2, 4, 5}) coarse.geotransform[static_cast<std::size_t>(i)] *= 16;
  EXPECT_TRUE(token_info.georef.same_grid_as(coarse));
  const auto meta = TokenRasterMetadata::from_metadata(read_raster_metadata(tokens), tokens);
  EXPECT_EQ(meta.modality, "S1GRD");
  EXPECT_EQ(meta.fsq_levels, (std::vector<int>{8, 8, 8, 6, 5}));
  EXPECT_EQ(meta.source_width, 224);

  DecodeSceneOptions options;
  options.steps = 2;
  options.seed = 5;
  decode_scene(tokens, tok, decoded, options);
  const RasterInfo out = inspect_raster(decoded);
  EXPECT_TRUE(out.georef.same_grid_as(scene.georef));
  EXPECT_EQ(out.band_count, 2);
  EXPECT_EQ(out.data_type, "Float32");
  // Tile 0 starts from noise seeded with seed + 0.
  DecodeOptions library;
  library.steps = 2;
  library.seed = 5;
  const at::Tensor expected = tok.destandardise(tok.decode(ids.unsqueeze(0), library))[0];
  EXPECT_TRUE(at::equal(read_all(decoded), expected));
}

TEST_F(scene_tokenizing, LulcSampleRoundTripWithProbabilities) {
  const ImageTokenizer& tok = fixture_tokenizer(kVQVAE);
  const std::string tokens = scratch.file("lulc_tokens.tif");
  EncodeSceneOptions encode;
  encode_scene(sample("LULC"), "LULC", tok, tokens, encode);
  const at::Tensor ids = read_all(tokens)[0].to(at::kInt);
  const TensorMap& fx = fixture_tensors(kVQVAE);
  EXPECT_TRUE(at::equal(ids, fx.at("output/tokens")[0]));

  DecodeSceneOptions options;
  options.probabilities_path = scratch.file("lulc_p.tif");
  decode_scene(tokens, tok, scratch.file("lulc.tif"), options);
  EXPECT_EQ(
      terramind::testing::argmax_disagreements(
          read_all(scratch.file("lulc.tif"))[0].unsqueeze(0),
          fx.at("output/decoded_argmax")[0].unsqueeze(0), fx.at("output/decoded")[0].unsqueeze(0),
          terramind::testing::fixture_tolerance(kVQVAE, "output/decoded")),
      "");
  const RasterInfo p = inspect_raster(scratch.file("lulc_p.tif"));
  EXPECT_EQ(p.band_count, 10);
  EXPECT_LE(terramind::testing::max_abs_diff(read_all(scratch.file("lulc_p.tif")).sum(0),
                                             at::ones({224, 224})),
            1e-5);
}

TEST_F(scene_tokenizing, ScenesOfAnySizeOnSmallTiles) {
  // A 200 x 180 crop of the sample: partial tiles at the far edges, token grid rounded up.
  const std::string crop = scratch.file("crop.tif");
  {
    const SceneReader reader = SceneReader::open(sample("S1RTC"));
    RasterSpec spec;
    spec.width = 200;
    spec.height = 180;
    spec.bands = 2;
    spec.georef = reader.info().georef;
    AtomicRasterWriter writer(crop, spec, write_options(OutputFormat::kGTiff, 256));
    writer.write({0, 0, 200, 180}, reader.read({0, 0, 200, 180}).values.data());
    writer.commit();
  }
  const ImageTokenizer& tok = fixture_tokenizer(kDiVAE);
  EncodeSceneOptions encode;
  encode.tile_size = 64;
  encode.batch_size = 3;
  const auto e = encode_scene(crop, "S1GRD", tok, scratch.file("t.tif"), encode);
  EXPECT_EQ(e.tiles, 4 * 3);
  EXPECT_EQ(e.width, 13);
  EXPECT_EQ(e.height, 12);
  // Tiles are independent: the first tile's tokens are those of its 64 x 64 pixels alone.
  const at::Tensor pixels = read_all(crop).slice(1, 0, 64).slice(2, 0, 64).unsqueeze(0);
  EXPECT_TRUE(
      at::equal(read_all(scratch.file("t.tif"))[0].slice(0, 0, 4).slice(1, 0, 4).to(at::kInt),
                tok.encode(tok.standardise(pixels))[0]));
  DecodeSceneOptions options;
  options.steps = 1;
  options.batch_size = 5;
  const auto d = decode_scene(scratch.file("t.tif"), tok, scratch.file("d.tif"), options);
  EXPECT_EQ(d.tile_size, 64);
  const RasterInfo out = inspect_raster(scratch.file("d.tif"));
  EXPECT_EQ(out.width, 200);
  EXPECT_EQ(out.height, 180);
  EXPECT_TRUE(out.georef.same_grid_as(inspect_raster(crop).georef));
}

TEST_F(scene_tokenizing, ClearErrorsAndNoPartialOutputs) {
  const ImageTokenizer& s1 = fixture_tokenizer(kDiVAE);
  const ImageTokenizer& lulc = fixture_tokenizer(kVQVAE);
  EncodeSceneOptions encode;
  encode.tile_size = 208;
  EXPECT_THROW(encode_scene(sample("S1RTC"), "S1GRD", s1, scratch.file("a.tif"), encode),
               std::invalid_argument);
  encode.tile_size = 224;
  EXPECT_THROW(encode_scene(sample("S2L2A"), "S1GRD", s1, scratch.file("a.tif"), encode),
               RasterError);
  EXPECT_THROW(encode_scene(sample("S1RTC"), "LULC", s1, scratch.file("a.tif"), encode),
               std::invalid_argument);
  encode_scene(sample("S1RTC"), "S1GRD", s1, scratch.file("t.tif"), encode);
  EXPECT_THROW(encode_scene(sample("S1RTC"), "S1GRD", s1, scratch.file("t.tif"), encode),
               RasterError);  // exists, no --overwrite
  try {
    decode_scene(scratch.file("t.tif"), lulc, scratch.file("b.tif"), DecodeSceneOptions{});
    ADD_FAILURE() << "decoded S1GRD tokens with the LULC tokenizer";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("holds S1GRD tokens of FSQ 8-8-8-6-5"), std::string::npos)
        << e.what();
  }
  // Values beyond the vocabulary in a bare token grid: the error names file and tile.
  try {
    decode_scene(data_dir() + "/s2l2a_tile_T29RKH/bands/B11.tif", lulc, scratch.file("c.tif"),
                 DecodeSceneOptions{});
    ADD_FAILURE() << "decoded reflectance as tokens";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("B11.tif, tile at token (0, 0)"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("outside the vocabulary [0, 4375)"), std::string::npos);
  }
  EXPECT_EQ(scratch.entries(), (std::vector<std::string>{"t.tif"}));
}
