// The public TerraMindModel API: loading with strict reports, inferred cards, features with
// every merge method, seeded generation, TiM, and clear errors for bad input.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include <ATen/CPUGeneratorImpl.h>

#include "model/generation.h"
#include "test_paths.h"
#include "tm/model.h"

using namespace terramind;
using terramind::testing::contains;
using terramind::testing::error_of;

namespace {

std::string fixture(const std::string& file) { return terramind::testing::fixtures_dir() + "/" + file; }

ModelCard vit_card() {
  ModelCard c;
  c.name = "fixture-vit";
  c.dim = 64;
  c.heads = 2;
  c.encoder_depth = 3;
  c.gated_mlp = true;
  c.qkv_bias = c.proj_bias = c.mlp_bias = false;
  c.encoder_modalities = {"untok_sen2l2a@224", "untok_sen1grd@224"};
  return c;
}

ModelCard generation_card() {
  ModelCard c;
  c.name = "fixture-generation";
  c.dim = 64;
  c.heads = 2;
  c.encoder_depth = 2;
  c.decoder_depth = 2;
  c.encoder_modalities = {"untok_sen2l2a@224", "untok_sen1grd@224", "tok_lulc@224"};
  c.decoder_modalities = {"tok_lulc@224", "tok_sen1grd@224"};
  return c;
}

const TensorMap& fixture_data(const std::string& name) {
  static std::map<std::string, TensorMap> cache;
  auto it = cache.find(name);
  if (it == cache.end()) it = cache.emplace(name, load_torch_checkpoint(fixture(name + ".pt"))).first;
  return it->second;
}



double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
TEST(parity_terramind_model, FeaturesThroughThePublicApi) {
  const auto model = TerraMindModel::load(vit_card(), fixture("terramind_vit_state_dict.pt"));
  const TensorMap& fx = fixture_data("terramind_vit");
  FeatureOptions options;
  options.inputs_standardised = true;
  const auto layers = model.features({{"S2L2A", fx.at("input/s2l2a")}, {"S1GRD", fx.at("input/s1grd")}}, options);
  ASSERT_EQ(layers.size(), 3u);
  for (int i = 0; i < 3; ++i)
    EXPECT_LE(max_abs_diff(layers[i], fx.at("output/layer" + std::to_string(i))), 1e-4) << i;
  options.merge = MergeMethod::kNone;
  options.layers = {-1};
  const auto unmerged = model.features({{"S2L2A", fx.at("input/s2l2a")}, {"S1GRD", fx.at("input/s1grd")}}, options);
  ASSERT_EQ(unmerged.size(), 1u);
  EXPECT_LE(max_abs_diff(unmerged[0], fx.at("aux/last_layer_unmerged")), 1e-4);
}

TEST(parity_terramind_model, GreedyGenerationFromRawInputs) {
  const auto model = TerraMindModel::load(generation_card(), fixture("terramind_generation_state_dict.pt"));
  const TensorMap& fx = fixture_data("terramind_generation");
  GenerationOptions options;
  options.temperature = 0;
  const auto tokens = model.generate({{"S2L2A", fx.at("input/s2l2a_raw")}}, {"LULC", "S1GRD"}, options);
  EXPECT_TRUE(torch::equal(tokens.at("tok_lulc@224"), fx.at("generate_argmax/tokens/tok_lulc@224")));
  EXPECT_TRUE(torch::equal(tokens.at("tok_sen1grd@224"), fx.at("generate_argmax/tokens/tok_sen1grd@224")));
}

// ---------------------------------------------------------------------------------------------
TEST(model_card, InferredFromCheckpoints) {
  const ModelCard vit = infer_model_card(load_torch_checkpoint(fixture("terramind_vit_state_dict.pt")), 32);
  EXPECT_EQ(vit.dim, 64);
  EXPECT_EQ(vit.heads, 2);
  EXPECT_EQ(vit.encoder_depth, 3);
  EXPECT_EQ(vit.decoder_depth, 2);
  EXPECT_TRUE(vit.gated_mlp);
  EXPECT_FALSE(vit.qkv_bias);
  EXPECT_EQ(vit.mlp_hidden(), 170);
  const ModelCard gen = infer_model_card(load_torch_checkpoint(fixture("terramind_generation_state_dict.pt")), 32);
  EXPECT_FALSE(gen.gated_mlp);
  EXPECT_TRUE(gen.qkv_bias && gen.proj_bias && gen.mlp_bias);
  EXPECT_EQ(gen.mlp_hidden(), 256);
  EXPECT_EQ(gen.encoder_modalities, generation_card().encoder_modalities);
  EXPECT_EQ(gen.decoder_modalities, generation_card().decoder_modalities);
  // The inferred card loads its own checkpoint.
  EXPECT_NO_THROW(TerraMindModel::load(gen, fixture("terramind_generation_state_dict.pt")));
  // Round trip through JSON.
  const ModelCard again = ModelCard::from_json(gen.to_json());
  EXPECT_EQ(again.to_json(), gen.to_json());
}

TEST(model_card, RejectsBadCards) {
  EXPECT_THROW(ModelCard::from_json("{"), std::invalid_argument);
  EXPECT_TRUE(contains(error_of([] { ModelCard::from_json(R"({"dim": 64, "num_heads": 3, "encoder_depth": 1, "encoder_modalities": []})"); }),
                       "multiple of num_heads"));
  EXPECT_TRUE(contains(error_of([] { ModelCard::from_json(R"({"dim": 64, "num_heads": 2, "encoder_depth": 1, "encoder_modalities": ["untok_sen3@224"]})"); }),
                       "unknown encoder modality key 'untok_sen3@224'"));
}

TEST(model_loading, MismatchedCardGivesOneReport) {
  ModelCard deeper = generation_card();
  deeper.encoder_depth = 3;  // the checkpoint has 2 blocks
  const std::string error = error_of([&] { TerraMindModel::load(deeper, fixture("terramind_generation_state_dict.pt")); });
  EXPECT_TRUE(contains(error, "does not match model card")) << error;
  EXPECT_TRUE(contains(error, "encoder.2.attn.qkv.weight")) << error;
  ModelCard shallower = generation_card();
  shallower.encoder_depth = 1;  // encoder.1.* is unexplained
  EXPECT_TRUE(contains(error_of([&] { TerraMindModel::load(shallower, fixture("terramind_generation_state_dict.pt")); }),
                       "encoder.1."));
  ModelCard wider = generation_card();
  wider.dim = 128;
  wider.heads = 2;
  EXPECT_TRUE(contains(error_of([&] { TerraMindModel::load(wider, fixture("terramind_generation_state_dict.pt")); }),
                       "shape"));
  // A backbone card on a full checkpoint: the decoder and the LULC input are merely unused.
  const auto vit = TerraMindModel::load(vit_card(), fixture("terramind_vit_state_dict.pt"));
  EXPECT_FALSE(vit.load_report().unexpected.empty());
  EXPECT_GT(vit.parameter_count(), 0);
}

TEST(model_generation, SeededSamplesAreReproducible) {
  const auto model = TerraMindModel::load(generation_card(), fixture("terramind_generation_state_dict.pt"));
  const at::Tensor s2 = fixture_data("terramind_generation").at("input/s2l2a_raw");
  GenerationOptions options;
  options.seed = 7;
  const auto a = model.generate({{"S2L2A", s2}}, {"S1GRD"}, options);
  const auto b = model.generate({{"S2L2A", s2}}, {"S1GRD"}, options);
  EXPECT_TRUE(torch::equal(a.at("tok_sen1grd@224"), b.at("tok_sen1grd@224")));
  options.seed = 8;
  const auto c = model.generate({{"S2L2A", s2}}, {"S1GRD"}, options);
  EXPECT_FALSE(torch::equal(a.at("tok_sen1grd@224"), c.at("tok_sen1grd@224")));
}

TEST(model_generation, SeveralDecodingStepsFillEveryPosition) {
  const auto model = TerraMindModel::load(generation_card(), fixture("terramind_generation_state_dict.pt"));
  const at::Tensor s2 = fixture_data("terramind_generation").at("input/s2l2a_raw");
  GenerationOptions options;
  options.decoding_steps = 4;
  options.seed = 3;
  const auto out = model.generate({{"S2L2A", s2}}, {"LULC", "S1GRD"}, options);
  const auto& lulc = out.at("tok_lulc@224");
  ASSERT_EQ(lulc.sizes(), (std::vector<int64_t>{2, 196}));
  EXPECT_GE(lulc.min().item<int64_t>(), 0);
  EXPECT_LT(lulc.max().item<int64_t>(), 4375);
  const auto again = model.generate({{"S2L2A", s2}}, {"LULC", "S1GRD"}, options);
  EXPECT_TRUE(torch::equal(lulc, again.at("tok_lulc@224")));
  // Greedy decoding in 4 steps: each step's tokens are the arg-max given the earlier ones.
  options.temperature = 0;
  const auto greedy = model.generate({{"S2L2A", s2}}, {"S1GRD"}, options);
  EXPECT_EQ(greedy.at("tok_sen1grd@224").size(1), 196);
}

// Unchained generation: each target from the inputs alone on its own seed, so its tokens are the
// same whichever targets come with it, in one or several decoding steps; the chained order (the
// reference's) conditions S1GRD on LULC and so differs.
TEST(model_generation, UnchainedTargetsDoNotDependOnEachOther) {
  const auto model = TerraMindModel::load(generation_card(), fixture("terramind_generation_state_dict.pt"));
  const at::Tensor s2 = fixture_data("terramind_generation").at("input/s2l2a_raw");
  for (const int64_t steps : {int64_t{1}, int64_t{3}}) {
    GenerationOptions options;
    options.decoding_steps = steps;
    options.chained = false;
    options.target_seeds = {{"S1GRD", 11}, {"LULC", 12}};
    const auto alone = model.generate({{"S2L2A", s2}}, {"S1GRD"}, options).at("tok_sen1grd@224");
    const auto both = model.generate({{"S2L2A", s2}}, {"LULC", "S1GRD"}, options);
    EXPECT_TRUE(torch::equal(both.at("tok_sen1grd@224"), alone)) << steps << " steps";
    const auto lulc = model.generate({{"S2L2A", s2}}, {"LULC"}, options).at("tok_lulc@224");
    EXPECT_TRUE(torch::equal(both.at("tok_lulc@224"), lulc)) << steps << " steps";
    options.chained = true;
    options.seed = 11;
    const auto chained = model.generate({{"S2L2A", s2}}, {"LULC", "S1GRD"}, options);
    EXPECT_FALSE(torch::equal(chained.at("tok_sen1grd@224"), alone)) << steps << " steps";
  }
}

TEST(model_generation, ThinkingInModalitiesAppendsGeneratedTokens) {
  const auto model = TerraMindModel::load(generation_card(), fixture("terramind_generation_state_dict.pt"));
  const at::Tensor s2 = fixture_data("terramind_generation").at("input/s2l2a_raw");
  GenerationOptions g;
  g.seed = 11;
  const auto tim = model.tim_features({{"S2L2A", s2}}, {"LULC"}, g);
  const auto lulc = model.generate({{"S2L2A", s2}}, {"LULC"}, g).at("tok_lulc@224");
  const auto manual = model.features({{"S2L2A", s2}, {"LULC", lulc}});
  ASSERT_EQ(tim.size(), manual.size());
  EXPECT_TRUE(torch::allclose(tim.back(), manual.back()));
}

TEST(model_errors, BadInputsNameTheProblem) {
  const auto model = TerraMindModel::load(generation_card(), fixture("terramind_generation_state_dict.pt"));
  const at::Tensor s2 = fixture_data("terramind_generation").at("input/s2l2a_raw");
  EXPECT_TRUE(contains(error_of([&] { model.generate({{"S2L2A", s2.narrow(1, 0, 10)}}, {"LULC"}); }),
                       "expected [B, 12, H, W]"));
  EXPECT_TRUE(contains(error_of([&] { model.generate({{"S2L2A", s2.narrow(2, 0, 200).narrow(3, 0, 200)}}, {"LULC"}); }),
                       "not a multiple of 16"));
  EXPECT_TRUE(contains(error_of([&] { model.generate({{"S2L2A", s2}}, {"DEM"}); }), "cannot generate DEM"));
  EXPECT_TRUE(contains(error_of([&] { model.generate({{"S1RTC", s2}}, {"LULC"}); }), "has no input S1RTC"));
  EXPECT_TRUE(contains(error_of([&] { model.features({{"S2L2A", s2}}, FeatureOptions{MergeMethod::kMean, {5}, false}); }),
                       "layer 5 does not exist"));
  EXPECT_THROW(merge_method_from_string("sum"), std::invalid_argument);
}

TEST(model_features, MergeMethods) {
  const auto model = TerraMindModel::load(vit_card(), fixture("terramind_vit_state_dict.pt"));
  const TensorMap& fx = fixture_data("terramind_vit");
  const ModalityInputs inputs = {{"S2L2A", fx.at("input/s2l2a")}, {"S1GRD", fx.at("input/s1grd")}};
  FeatureOptions o;
  o.inputs_standardised = true;
  o.layers = {0, -1};
  o.merge = MergeMethod::kConcat;
  const auto concat = model.features(inputs, o);
  ASSERT_EQ(concat.size(), 2u);
  EXPECT_EQ(concat[1].sizes(), (std::vector<int64_t>{2, 196, 128}));
  o.merge = MergeMethod::kMax;
  const auto max = model.features(inputs, o);
  EXPECT_TRUE(torch::equal(max[1], torch::maximum(concat[1].narrow(2, 0, 64), concat[1].narrow(2, 64, 64))));
  const auto by_modality = model.features_by_modality(inputs, o);
  EXPECT_TRUE(torch::equal(by_modality[1].at("untok_sen1grd@224"), concat[1].narrow(2, 64, 64)));
}

// ---------------------------------------------------------------------------------------------
// Sequence modalities (coordinates): autoregressive decoding with key/value caches.
namespace {
ModelCard coords_card() {
  ModelCard c = generation_card();
  c.name = "coords";
  c.encoder_modalities.push_back("coords");
  c.decoder_modalities.push_back("coords");
  return c;
}
}  // namespace

TEST(model_sequences, KeyValueCacheEqualsRecompute) {
  torch::NoGradGuard no_grad;
  const ModelCard card = coords_card();
  net::TerraMind model(card);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(uint64_t{21});
  for (auto& p : model->parameters()) p.normal_(0.0, 0.5, gen);
  model->eval();
  const at::Tensor s2 = torch::randn({2, 12, 224, 224}, gen);
  const auto e = model->embed_pixels("untok_sen2l2a@224", s2);
  const auto emb = e.emb.expand_as(e.x);
  const auto context = model->context(model->encode(e.x + emb), emb);
  // Incremental decoding of a 3-token prefix equals the full causal recompute.
  const auto ids = torch::tensor({{5, 4800, 5300}, {5, 4300, 6000}}, torch::kLong);
  auto state = model->start_sequence("coords", context);
  std::vector<at::Tensor> steps;
  for (int i = 0; i < 3; ++i) steps.push_back(model->step_sequence(state, ids.narrow(1, i, 1)));
  const auto incremental = torch::cat(steps, 1);
  const auto full = model->decode_sequence_full("coords", context, ids);
  EXPECT_LE(max_abs_diff(incremental, full), 1e-5);
  // Whole generation, greedy: the same ids either way.
  net::GenerationRequest request;
  request.inputs = {{"untok_sen2l2a@224", s2}};
  request.targets = {"coords"};
  request.sampling.temperature = 0;
  const auto cached = net::generate_tokens(*model, request).at("coords");
  request.sequence_cache = false;
  const auto recomputed = net::generate_tokens(*model, request).at("coords");
  EXPECT_TRUE(torch::equal(cached, recomputed));
  EXPECT_EQ(cached.size(0), 2);
  EXPECT_LE(cached.size(1), 3);
}

TEST(model_sequences, CoordsAsInputOutputAndChaining) {
  const auto model = TerraMindModel::untrained(coords_card(), 5);
  const at::Tensor s2 = fixture_data("terramind_generation").at("input/s2l2a_raw");
  GenerationOptions options;
  options.seed = 99;
  // Coordinates first, then LULC conditioned on the generated coordinates.
  const auto a = model.generate({{"S2L2A", s2}}, {"coords", "LULC"}, options);
  const auto b = model.generate({{"S2L2A", s2}}, {"coords", "LULC"}, options);
  EXPECT_TRUE(torch::equal(a.at("coords"), b.at("coords")));
  EXPECT_TRUE(torch::equal(a.at("tok_lulc@224"), b.at("tok_lulc@224")));
  // Coordinates as an input: "lat=35.75 lon=-89.00 [EOS]" -> [4707, 5289, 3].
  const auto coords = torch::tensor({{4707, 5289, 3}, {4707, 5289, 3}}, torch::kLong);
  const auto with_coords = model.generate({{"S2L2A", s2}, {"coords", coords}}, {"LULC"}, options);
  EXPECT_EQ(with_coords.at("tok_lulc@224").size(1), 196);
  // Features: the mean merge drops sequence modalities but they condition the image tokens;
  // the per-modality view keeps them.
  const auto features = model.features({{"S2L2A", s2}, {"coords", coords}});
  EXPECT_EQ(features.back().size(1), 196);
  EXPECT_FALSE(torch::allclose(features.back(), model.features({{"S2L2A", s2}}).back()));
  const auto by_modality = model.features_by_modality({{"S2L2A", s2}, {"coords", coords}});
  EXPECT_EQ(by_modality.back().at("coords").size(1), 3);
}
