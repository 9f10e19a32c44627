#include "tokenizer_fixtures.h"

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "test_paths.h"

namespace terramind::testing {

std::string fixture_path(const std::string& file) { return fixtures_dir() + "/" + file; }

const TensorMap& fixture_tensors(const std::string& name) {
  static std::map<std::string, TensorMap> cache;
  auto it = cache.find(name);
  if (it == cache.end())
    it = cache.emplace(name, load_torch_checkpoint(fixture_path(name + ".pt"))).first;
  return it->second;
}

const nlohmann::json& fixture_json(const std::string& name) {
  static std::map<std::string, nlohmann::json> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    std::ifstream in(fixture_path(name + ".json"));
    if (!in) throw std::runtime_error("fixture missing: " + fixture_path(name + ".json"));
    it = cache.emplace(name, nlohmann::json::parse(in)).first;
  }
  return it->second;
}

namespace {

// `pattern` with '*' matching any run of characters.
bool glob_matches(const std::string& pattern, const std::string& text) {
  const auto star = pattern.find('*');
  if (star == std::string::npos) return pattern == text;
  if (text.compare(0, star, pattern, 0, star) != 0) return false;
  const std::string rest = pattern.substr(star + 1);
  for (std::size_t at = star; at <= text.size(); ++at)
    if (glob_matches(rest, text.substr(at))) return true;
  return false;
}

// The tolerance table's text for `key`.
std::string tolerance_text(const std::string& name, const std::string& key) {
  for (const auto& [names, text] : fixture_json(name).at("tolerance").items()) {
    for (std::size_t start = 0; start <= names.size();) {
      const auto comma = names.find(", ", start);
      std::string pattern = names.substr(start, comma - start);
      pattern = pattern.substr(0, pattern.find('('));  // "output/quant(where tokens agree)"
      if (glob_matches(pattern, key)) return text.get<std::string>();
      if (comma == std::string::npos) break;
      start = comma + 2;
    }
  }
  throw std::runtime_error(name + ".json has no tolerance for " + key);
}

double number_after(const std::string& text, const std::string& marker, const std::string& what) {
  const auto at = text.find(marker);
  if (at == std::string::npos)
    throw std::runtime_error(what + ": no '" + marker + "' in \"" + text + "\"");
  return std::stod(text.substr(at + marker.size()));
}

}  // namespace

double fixture_tolerance(const std::string& name, const std::string& key) {
  return number_after(tolerance_text(name, key), "max abs ", name + " " + key);
}

double fixture_token_margin(const std::string& name) {
  return number_after(tolerance_text(name, "output/tokens"), "aux/tokens_margin > ",
                      name + " output/tokens");
}

TokenizerCard fixture_card(const std::string& name) {
  const auto& fixture = fixture_json(name);
  const auto& config = fixture.at("config");
  const auto& kwargs = config.at("kwargs");
  const auto& enc = config.at("tm_fixture_vit_enc");
  const bool diffusion = kwargs.at("dec_type").get<std::string>().find("unet") != std::string::npos;
  std::vector<int> levels;
  std::string text = kwargs.at("codebook_size").get<std::string>();
  for (std::size_t start = 0; start <= text.size();) {
    const auto dash = text.find('-', start);
    levels.push_back(std::stoi(text.substr(start, dash - start)));
    if (dash == std::string::npos) break;
    start = dash + 1;
  }
  nlohmann::json card = {{"name", name},
                         {"kind", diffusion ? "divae" : "vqvae"},
                         {"modality", diffusion ? "S1GRD" : "LULC"},
                         {"in_channels", kwargs.at("n_channels")},
                         {"fsq_levels", levels},
                         {"image_size", kwargs.at("image_size")},
                         {"patch_size", kwargs.at("patch_size")},
                         {"encoder",
                          {{"dim", enc.at("dim_tokens")},
                           {"depth", enc.at("depth")},
                           {"num_heads", enc.at("num_heads")},
                           {"mlp_ratio", enc.at("mlp_ratio")}}},
                         {"checkpoint", fixture_path(name + "_state_dict.pt")}};
  if (diffusion) {
    const auto& unet = config.at("tm_fixture_unet_patched");
    const auto& scheduler = config.at("scheduler");
    card["decoder"] = {{"patch_size", unet.at("patch_size")},
                       {"model_channels", unet.at("model_channels")},
                       {"num_res_blocks", unet.at("num_res_blocks")},
                       {"channel_mult", unet.at("channel_mult")},
                       {"attention_resolutions", unet.at("attention_resolutions")},
                       {"groups", unet.at("groupnorm_groups")}};
    card["diffusion"] = {{"train_timesteps", scheduler.at("num_train_timesteps")},
                         {"beta_start", scheduler.at("beta_start")},
                         {"beta_end", scheduler.at("beta_end")},
                         {"zero_terminal_snr", scheduler.at("zero_terminal_snr")}};
  } else {
    const auto& dec = config.at("tm_fixture_vit_dec");
    card["decoder"] = {{"dim", dec.at("dim_tokens")},
                       {"depth", dec.at("depth")},
                       {"num_heads", dec.at("num_heads")},
                       {"mlp_ratio", dec.at("mlp_ratio")}};
  }
  return TokenizerCard::from_json(card.dump());
}

const ImageTokenizer& fixture_tokenizer(const std::string& name) {
  static std::map<std::string, ImageTokenizer> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    const TokenizerCard card = fixture_card(name);
    it = cache.emplace(name, ImageTokenizer::load(card, card.checkpoint)).first;
  }
  return it->second;
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  if (a.sizes() != b.sizes())
    throw std::invalid_argument("shapes differ: " + c10::str(a.sizes()) + " vs " +
                                c10::str(b.sizes()));
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

std::string text_vocabulary_path() {
  return data_dir() + "/text_tokenizer/terramind_v1_wordpiece_30k.json";
}

std::string argmax_disagreements(const at::Tensor& classes, const at::Tensor& reference,
                                 const at::Tensor& reference_logits, double tolerance) {
  if (classes.sizes() != reference.sizes()) return "the class maps differ in shape";
  const auto top2 = std::get<0>(reference_logits.to(at::kDouble).topk(2, 1));
  const auto margin = top2.select(1, 0) - top2.select(1, 1);
  const auto differ = classes.to(at::kLong).ne(reference.to(at::kLong));
  const auto decisive = margin.gt(2.0 * tolerance);
  const std::int64_t wrong = differ.logical_and(decisive).sum().item<std::int64_t>();
  if (wrong == 0) return "";
  return std::to_string(wrong) +
         " pixels differ where the reference's best class leads by more "
         "than " +
         std::to_string(2.0 * tolerance) + " (" +
         std::to_string(differ.sum().item<std::int64_t>()) + " differ in all)";
}

}  // namespace terramind::testing
