#include "model_summary.h"

#include <iomanip>

#include "tm/registry.h"

namespace terramind {
namespace {

std::string with_thousands(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string modality_list(const std::vector<std::string>& keys, bool with_vocab) {
  std::string out;
  for (const auto& key : keys) {
    const Modality* m = ModalityRegistry::instance().find_by_key(key);
    out += (out.empty() ? "" : ", ") + (m ? m->name : key);
    // Pixel modalities can also be fed as tokens (their token keys): say which form this is.
    if (m && m->kind == ModalityKind::kPixel && ModalityRegistry::instance().is_token_key(key) &&
        !with_vocab)
      out += " tokens";
    if (with_vocab && m && m->vocab_size) out += " (" + std::to_string(m->vocab_size) + ")";
  }
  return out.empty() ? "none" : out;
}

}  // namespace

void print_model_summary(const TerraMindModel& model, const std::string& source,
                         std::ostream& out) {
  const ModelCard& c = model.card();
  out << "model       " << c.name << "\n"
      << "source      " << source << "\n"
      << "parameters  " << with_thousands(model.parameter_count()) << " (" << model.dtype() << ", "
      << std::fixed << std::setprecision(1) << model.parameter_count() * 4.0 / 1e6 << " MB)\n"
      << "width       " << c.dim << ", " << c.heads << " heads of " << c.dim / c.heads << "\n"
      << "encoder     " << c.encoder_depth << " blocks, "
      << (c.gated_mlp ? "SwiGLU MLP " : "GELU MLP ") << c.mlp_hidden() << ", biases "
      << (c.qkv_bias ? "yes" : "no") << "\n"
      << "decoder     "
      << (c.decoder_modalities.empty() ? std::string("none (backbone)")
                                       : std::to_string(c.decoder_depth) + " blocks")
      << "\n"
      << "image size  " << c.image_size << " px (" << c.image_size / c.patch_size << "x"
      << c.image_size / c.patch_size << " tokens of " << c.patch_size << " px)\n"
      << "statistics  " << c.stats_version << "\n"
      << "inputs      " << modality_list(c.encoder_modalities, false) << "\n"
      << "outputs     " << modality_list(c.decoder_modalities, true) << "\n";
  const auto& unused = model.load_report().unexpected;
  if (!unused.empty())
    out << "unused      " << unused.size() << " checkpoint tensors this card does not use (e.g. "
        << unused.front() << ")\n";
}

}  // namespace terramind
