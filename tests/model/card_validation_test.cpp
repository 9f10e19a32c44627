// Model and tokenizer cards are validated completely before use: every bad value of the bundled
// fixture cards is refused with std::invalid_argument naming the card file, the key and what is
// valid, never a crash (division by zero), a LibTorch error or a silently truncated value.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_paths.h"
#include "tm/model.h"

using namespace terramind;
using terramind::testing::contains;
using terramind::testing::error_of;
using terramind::testing::ScratchDir;
using json = nlohmann::json;

namespace {

std::string fixture_model_file(const std::string& name) {
  return std::string(TM_FIXTURE_MODELS_DIR) + "/" + name;
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("missing " + path);
  return json::parse(in);
}

// `base` with `pointer` (a JSON pointer such as "/encoder/dim") set to `value`, or removed when
// `value` is null.
std::string with(json base, const std::string& pointer, const json& value) {
  const json::json_pointer where(pointer);
  if (value.is_null())
    base[where.parent_pointer()].erase(where.back());
  else
    base[where] = value;
  return base.dump(2);
}

const json& model_card_json() {
  static const json card = read_json(fixture_model_file("terramind_fixture.json"));
  return card;
}
const json& s1grd_card_json() {
  static const json card = read_json(fixture_model_file("tokenizer_s1grd_fixture.json"));
  return card;
}
const json& lulc_card_json() {
  static const json card = read_json(fixture_model_file("tokenizer_lulc_fixture.json"));
  return card;
}

std::string model_error(const std::string& pointer, const json& value) {
  const std::string text = with(model_card_json(), pointer, value);
  return error_of<std::invalid_argument>([&] { ModelCard::from_json(text); });
}

std::string tokenizer_error(const json& base, const std::string& pointer, const json& value) {
  const std::string text = with(base, pointer, value);
  return error_of<std::invalid_argument>([&] { TokenizerCard::from_json(text); });
}

#define EXPECT_CONTAINS(text, part)              \
  do {                                           \
    const std::string text_ = (text);            \
    EXPECT_TRUE(contains(text_, part)) << text_; \
  } while (0)

}  // namespace

// ---------------------------------------------------------------------------------------------
TEST(model_card_validation, BundledAndOfficialCardsAreValid) {
  EXPECT_NO_THROW(ModelCard::from_file(fixture_model_file("terramind_fixture.json")));
  for (const char* size : {"tiny", "small", "base", "large"})
    EXPECT_NO_THROW(
        ModelCard::from_file(std::string(TM_CARDS_DIR) + "/terramind_v1_" + size + ".json"))
        << size;
  // to_json writes what from_json reads.
  const ModelCard card = ModelCard::from_file(fixture_model_file("terramind_fixture.json"));
  EXPECT_EQ(ModelCard::from_json(card.to_json()).to_json(), card.to_json());
}

TEST(model_card_validation, PatchSizeMustBePositiveAndDivideTheImage) {
  EXPECT_CONTAINS(model_error("/patch_size", 0), "'patch_size' must be an integer in [1, 224]");
  EXPECT_CONTAINS(model_error("/patch_size", -16), "'patch_size' must be an integer in [1, 224]");
  EXPECT_CONTAINS(model_error("/patch_size", 448), "'patch_size' must be an integer in [1, 224]");
  EXPECT_CONTAINS(model_error("/patch_size", 15), "img_size must be a multiple of patch_size");
  EXPECT_CONTAINS(model_error("/img_size", 0), "'img_size' must be an integer in [1, 16384]");
  EXPECT_CONTAINS(model_error("/img_size", 1 << 20), "'img_size' must be an integer in [1, 16384]");
}

TEST(model_card_validation, SizesAreBoundedIntegers) {
  EXPECT_CONTAINS(model_error("/dim", int64_t{1099511627776}),
                  "'dim' must be an integer in [4, 65536], got 1099511627776");
  EXPECT_CONTAINS(model_error("/dim", 64.5), "'dim' must be an integer in [4, 65536], got 64.5");
  EXPECT_CONTAINS(model_error("/dim", "64"), "'dim' must be an integer in [4, 65536], got \"64\"");
  EXPECT_CONTAINS(model_error("/dim", 0), "'dim' must be an integer in [4, 65536], got 0");
  EXPECT_CONTAINS(model_error("/dim", uint64_t{18446744073709551615u}), "'dim' must be an integer");
  EXPECT_CONTAINS(model_error("/dim", 70), "'dim' must be a multiple of 4");  // 2 heads of 35
  EXPECT_CONTAINS(model_error("/num_heads", 3), "dim must be a positive multiple of num_heads");
  EXPECT_CONTAINS(model_error("/num_heads", 0), "'num_heads' must be an integer in [1, 64]");
  EXPECT_CONTAINS(model_error("/num_heads", 2.0), "'num_heads' must be an integer in [1, 64]");
  EXPECT_CONTAINS(model_error("/encoder_depth", 0),
                  "'encoder_depth' must be an integer in [1, 1024]");
  EXPECT_CONTAINS(model_error("/encoder_depth", 5000),
                  "'encoder_depth' must be an integer in [1, 1024]");
  EXPECT_CONTAINS(model_error("/decoder_depth", -1),
                  "'decoder_depth' must be an integer in [0, 1024]");
  EXPECT_CONTAINS(model_error("/mlp_ratio", 0), "'mlp_ratio' must be an integer in [1, 64]");
  EXPECT_CONTAINS(model_error("/mlp_ratio", 2.5), "'mlp_ratio' must be an integer in [1, 64]");
  EXPECT_CONTAINS(model_error("/norm_eps", 0), "'norm_eps' must be a number in (0, 1)");
  EXPECT_CONTAINS(model_error("/norm_eps", "1e-6"), "'norm_eps' must be a number in (0, 1)");
  EXPECT_CONTAINS(model_error("/dim", nullptr), "'dim' is missing");
}

TEST(model_card_validation, TypesOfTheOtherFields) {
  EXPECT_CONTAINS(model_error("/gated_mlp", 1), "'gated_mlp' must be true or false, got 1");
  EXPECT_CONTAINS(model_error("/qkv_bias", "yes"), "'qkv_bias' must be true or false");
  EXPECT_CONTAINS(model_error("/name", 7), "'name' must be a string");
  EXPECT_CONTAINS(model_error("/stats_version", "v2"), "'stats_version'");
  EXPECT_CONTAINS(model_error("/encoder_modalities", "untok_sen2l2a@224"),
                  "'encoder_modalities' must be a list of strings");
  EXPECT_CONTAINS(model_error("/encoder_modalities", json::array()),
                  "'encoder_modalities' must not be empty");
  EXPECT_CONTAINS(model_error("/encoder_modalities", {"untok_sen2l2a@224", "untok_sen2l2a@224"}),
                  "'encoder_modalities' lists 'untok_sen2l2a@224' twice");
  EXPECT_CONTAINS(model_error("/decoder_modalities", {"untok_sen2l2a@224"}),
                  "'untok_sen2l2a@224' cannot be a decoder modality");
  EXPECT_CONTAINS(model_error("/decoder_depth", 0), "decoder modalities need decoder_depth > 0");
  EXPECT_CONTAINS(model_error("/checkpoint", json::array()), "'checkpoint' must be a string");
  EXPECT_EQ(error_of<std::invalid_argument>([] { ModelCard::from_json("[1, 2]"); }),
            "model card: must be a JSON object");
}

TEST(model_card_validation, UnknownKeysAreRefusedListingTheKnownOnes) {
  const std::string error = model_error("/patchsize", 16);
  EXPECT_CONTAINS(error, "unknown key 'patchsize'");
  EXPECT_CONTAINS(error, "known keys: name, about, source, dim, num_heads");
  EXPECT_CONTAINS(error, "patch_size");
  EXPECT_CONTAINS(error, "tokenizers)");
}

TEST(model_card_validation, TokenizerSlotsAreGeneratedImageModalities) {
  EXPECT_CONTAINS(model_error("/tokenizers/S3", "x.json"),
                  "'tokenizers' names unknown modality 'S3'");
  EXPECT_CONTAINS(model_error("/tokenizers/S2L1C", "x.json"),
                  "'tokenizers': S2L1C has no image tokenizer");
  EXPECT_CONTAINS(model_error("/tokenizers/coords", "x.json"),
                  "'tokenizers': coords has no image tokenizer");
  EXPECT_CONTAINS(model_error("/tokenizers/S1GRD", 3), "'tokenizers' must be an object of strings");
  EXPECT_CONTAINS(model_error("/tokenizers/S1GRD", ""), "the file for S1GRD is empty");
  // The runtime looks slots up by registry name, so an alias would never be found.
  json aliased = model_card_json();
  aliased["tokenizers"] = {{"sen1grd", "tokenizer_s1grd_fixture.json"}};
  EXPECT_CONTAINS(error_of<std::invalid_argument>([&] { ModelCard::from_json(aliased.dump()); }),
                  "'tokenizers' must use registry names: write 'S1GRD', not 'sen1grd'");
}

TEST(model_card_validation, ErrorsNameTheCardFile) {
  ScratchDir scratch;
  std::ofstream(scratch.file("bad.json")) << with(model_card_json(), "/patch_size", 0);
  const std::string error =
      error_of<std::invalid_argument>([&] { ModelCard::from_file(scratch.file("bad.json")); });
  EXPECT_CONTAINS(error, scratch.file("bad.json") + ": model card: 'patch_size'");
}

TEST(model_card_validation, InferredCardsNeedAPositiveHeadWidth) {
  const TensorMap weights =
      load_torch_checkpoint(terramind::testing::fixtures_dir() + "/terramind_vit_state_dict.pt");
  EXPECT_CONTAINS(error_of<std::invalid_argument>([&] { infer_model_card(weights, 0); }),
                  "head width must be positive");
  EXPECT_CONTAINS(error_of<std::invalid_argument>([&] { infer_model_card(weights, -32); }),
                  "head width must be positive");
  EXPECT_EQ(infer_model_card(weights, 32).heads, 2);
}

// ---------------------------------------------------------------------------------------------
TEST(tokenizer_card_validation, BundledAndOfficialCardsAreValid) {
  for (const char* name : {"tokenizer_s1grd_fixture.json", "tokenizer_lulc_fixture.json"}) {
    const TokenizerCard card = TokenizerCard::from_file(fixture_model_file(name));
    EXPECT_EQ(TokenizerCard::from_json(card.to_json()).to_json(), card.to_json()) << name;
  }
  for (const char* name : {"s2l2a", "s1grd", "s1rtc", "dem", "lulc", "ndvi"})
    EXPECT_NO_THROW(TokenizerCard::from_file(std::string(TM_TOKENIZER_CARDS_DIR) +
                                             "/terramind_v1_tokenizer_" + name + ".json"))
        << name;
}

TEST(tokenizer_card_validation, SizesAreBoundedIntegers) {
  const json& s1 = s1grd_card_json();
  EXPECT_CONTAINS(tokenizer_error(s1, "/patch_size", 0),
                  "'patch_size' must be an integer in [1, 256]");
  EXPECT_CONTAINS(tokenizer_error(s1, "/patch_size", 15),
                  "image_size must be a positive multiple of patch_size");
  EXPECT_CONTAINS(tokenizer_error(s1, "/image_size", 0),
                  "'image_size' must be an integer in [1, 16384]");
  EXPECT_CONTAINS(tokenizer_error(s1, "/in_channels", 2.5),
                  "'in_channels' must be an integer in [1, 1024], got 2.5");
  EXPECT_CONTAINS(tokenizer_error(s1, "/fsq_levels", {8, 8.5, 8, 6, 5}),
                  "'fsq_levels[1]' must be an integer");
  EXPECT_CONTAINS(
      tokenizer_error(s1, "/fsq_levels", {7, 5, 5, 5, 5}),
      "fsq_levels 7-5-5-5-5 do not match the S1GRD token vocabulary of TerraMind (FSQ 8-8-8-6-5)");
  EXPECT_CONTAINS(tokenizer_error(s1, "/encoder/dim", 64.5),
                  "'encoder.dim' must be an integer in [4, 65536], got 64.5");
  EXPECT_CONTAINS(tokenizer_error(s1, "/encoder/dim", int64_t{1099511627776}),
                  "'encoder.dim' must be an integer in [4, 65536]");
  EXPECT_CONTAINS(tokenizer_error(s1, "/encoder/depth", 0),
                  "'encoder.depth' must be an integer in [1, 1024]");
  EXPECT_CONTAINS(tokenizer_error(s1, "/encoder/num_heads", 0),
                  "'encoder.num_heads' must be an integer in [1, 64]");
  EXPECT_CONTAINS(tokenizer_error(s1, "/encoder/mlp_ratio", 0),
                  "'encoder.mlp_ratio' must be an integer in [1, 64]");
  EXPECT_CONTAINS(tokenizer_error(s1, "/encoder/norm_eps", -1),
                  "'encoder.norm_eps' must be a number in (0, 1)");
  EXPECT_CONTAINS(tokenizer_error(lulc_card_json(), "/decoder/dim", 0),
                  "'decoder.dim' must be an integer in [4, 65536]");
  EXPECT_CONTAINS(tokenizer_error(lulc_card_json(), "/decoder/num_heads", 3),
                  "decoder.dim must be a positive multiple of decoder.num_heads");
}

TEST(tokenizer_card_validation, DiffusionDecoderAndSchedule) {
  const json& s1 = s1grd_card_json();
  EXPECT_CONTAINS(tokenizer_error(s1, "/decoder/patch_size", 0),
                  "'decoder.patch_size' must be an integer in [1, 256]");
  EXPECT_CONTAINS(tokenizer_error(s1, "/decoder/model_channels", 0),
                  "'decoder.model_channels' must be an integer in [2, 65536]");
  EXPECT_CONTAINS(tokenizer_error(s1, "/decoder/channel_mult", json::array()),
                  "'decoder.channel_mult' must list 1 to 8 levels");
  EXPECT_CONTAINS(tokenizer_error(s1, "/decoder/channel_mult", {1, 2, 0}),
                  "'decoder.channel_mult[2]' must be an integer in [1, 64]");
  EXPECT_CONTAINS(tokenizer_error(s1, "/decoder/channel_mult", json(std::vector<int>(20, 1))),
                  "'decoder.channel_mult' must be a list of at most 8 integers");
  EXPECT_CONTAINS(tokenizer_error(s1, "/decoder/num_heads", 3),
                  "must split into decoder.num_heads heads");
  EXPECT_CONTAINS(tokenizer_error(s1, "/decoder/groups", 0),
                  "'decoder.groups' must be an integer in [1, 65536]");
  EXPECT_CONTAINS(tokenizer_error(s1, "/decoder/patch_size", 128), "exceeds image_size 256");
  EXPECT_CONTAINS(tokenizer_error(s1, "/decoder/type", "vit"),
                  "'decoder.type' of a divae tokenizer must be \"unet_patched\"");
  EXPECT_CONTAINS(tokenizer_error(s1, "/diffusion/train_timesteps", 1),
                  "'diffusion.train_timesteps' must be an integer in [2, 100000]");
  EXPECT_CONTAINS(tokenizer_error(s1, "/diffusion/default_steps", 0),
                  "'diffusion.default_steps' must be an integer in [1, 1000]");
  EXPECT_CONTAINS(tokenizer_error(s1, "/diffusion/default_steps", 2000),
                  "'diffusion.default_steps' must be an integer in [1, 1000]");
  EXPECT_CONTAINS(tokenizer_error(s1, "/diffusion/beta_start", 0),
                  "'diffusion.beta_start' must be a number in (0, 1)");
  EXPECT_CONTAINS(tokenizer_error(s1, "/diffusion/beta_end", 0.00001),
                  "0 < beta_start < beta_end < 1");
  EXPECT_CONTAINS(tokenizer_error(s1, "/diffusion/zero_terminal_snr", 1),
                  "'diffusion.zero_terminal_snr' must be true or false");
  EXPECT_CONTAINS(tokenizer_error(lulc_card_json(), "/decoder/type", "unet_patched"),
                  "'decoder.type' of a vqvae tokenizer must be \"vit\"");
}

TEST(tokenizer_card_validation, UnknownKeysAreRefusedListingTheKnownOnes) {
  const json& s1 = s1grd_card_json();
  std::string error = tokenizer_error(s1, "/patchsize", 16);
  EXPECT_CONTAINS(error,
                  "unknown key 'patchsize' (known keys: name, about, source, kind, modality");
  EXPECT_CONTAINS(error, "diffusion, url, sha256, size)");  // download fields: tm/model_cache.h
  EXPECT_CONTAINS(tokenizer_error(s1, "/encoder/heads", 2),
                  "unknown key 'encoder.heads' (known keys of 'encoder': dim, depth, num_heads, "
                  "mlp_ratio, norm_eps)");
  EXPECT_CONTAINS(tokenizer_error(s1, "/decoder/dim", 64),
                  "unknown key 'decoder.dim' (known keys of 'decoder': type, patch_size");
  EXPECT_CONTAINS(tokenizer_error(s1, "/diffusion/steps", 10), "unknown key 'diffusion.steps'");
  // A ViT-decoded (vqvae) tokenizer has no diffusion schedule.
  EXPECT_CONTAINS(tokenizer_error(lulc_card_json(), "/diffusion", json::object()),
                  "unknown key 'diffusion'");
  EXPECT_CONTAINS(tokenizer_error(s1, "/encoder", 64), "'encoder' must be a JSON object, got 64");
}

TEST(tokenizer_card_validation, ErrorsNameTheCardFile) {
  ScratchDir scratch;
  std::ofstream(scratch.file("bad.json")) << with(s1grd_card_json(), "/encoder/dim", 64.5);
  const std::string error =
      error_of<std::invalid_argument>([&] { TokenizerCard::from_file(scratch.file("bad.json")); });
  EXPECT_CONTAINS(error, scratch.file("bad.json") + ": tokenizer card: 'encoder.dim'");
}

// A model card's "tokenizers" slot and the card it names must agree on the modality: opening a
// LULC tokenizer card for S1GRD fails at once, naming both (not mid-run on the first window).
TEST(tokenizer_card_validation, TokenizerCardMustBeForItsSlot) {
  const std::string lulc = fixture_model_file("tokenizer_lulc_fixture.json");
  const std::string error =
      error_of<std::invalid_argument>([&] { ImageTokenizer::open(lulc, "S1GRD", 32); });
  EXPECT_CONTAINS(error, lulc);
  EXPECT_CONTAINS(error, "is for LULC but is used for S1GRD");
  const std::string s1 = fixture_model_file("tokenizer_s1grd_fixture.json");
  EXPECT_CONTAINS(error_of<std::invalid_argument>([&] { ImageTokenizer::open(s1, "LULC", 32); }),
                  "is for S1GRD but is used for LULC");
  // Slot names resolve through the registry; the right slot (or none) opens the card.
  EXPECT_EQ(ImageTokenizer::open(lulc, "landcover", 32).card().modality, "LULC");
  EXPECT_EQ(ImageTokenizer::open(lulc).card().modality, "LULC");
}
