// Checking a raster against a registry modality: band count, data type, band descriptions.
#include <algorithm>
#include <cctype>
#include <iomanip>
#include <sstream>

#include "tm/ascii_strings.h"
#include "tm/tiling.h"

namespace terramind {
namespace {

std::string band_list(const Modality& m) {
  std::string out;
  for (const auto& b : m.bands) out += (out.empty() ? "" : " ") + b.name;
  return out;
}

std::string format_number(double value) {
  std::ostringstream out;
  out << std::setprecision(10) << value;
  return out.str();
}

// A description names a band if some registry modality knows that band name.
bool is_known_band_name(const std::string& description) {
  if (description.empty()) return false;
  for (const auto& m : ModalityRegistry::instance().modalities())
    if (m.band_index(description) >= 0) return true;
  return false;
}

}  // namespace

std::string ModalityCheck::summary() const {
  if (ok) return "matches " + modality;
  return "not " + modality + ": " + join(reasons, "; ");
}

ModalityCheck check_modality(const RasterInfo& info, const Modality& modality) {
  ModalityCheck check;
  check.modality = modality.name;
  if (!modality.is_image()) {
    check.reasons.push_back(modality.name + " is a sequence (text) modality, not a raster");
    return check;
  }

  if (info.band_count != modality.channels()) {
    std::ostringstream why;
    why << info.band_count << (info.band_count == 1 ? " band" : " bands") << ", " << modality.name
        << " has " << modality.channels() << " (" << band_list(modality) << ")";
    check.reasons.push_back(why.str());
  }

  if (!modality.accepts_raster_type(info.data_type)) {
    check.reasons.push_back("data type " + info.data_type + " is not accepted for " +
                            modality.name + " (" + join(modality.raster_types, ", ") + ")");
  }

  // Band descriptions are compared only when every band carries a recognisable band name;
  // many files say "bands" or nothing (shared/data/README.md), and then order is assumed.
  const auto& descriptions = info.band_descriptions;
  const bool all_named = !descriptions.empty() &&
                         std::all_of(descriptions.begin(), descriptions.end(), is_known_band_name);
  if (all_named && info.band_count == modality.channels()) {
    for (int i = 0; i < info.band_count; ++i) {
      const int expected_at = modality.band_index(descriptions[i]);
      if (expected_at == i) continue;
      std::ostringstream why;
      why << "band " << (i + 1) << " is described as '" << descriptions[i] << "', " << modality.name
          << " expects " << modality.bands[i].name << " there";
      check.reasons.push_back(why.str());
    }
  } else if (!all_named) {
    const bool any_text = std::any_of(descriptions.begin(), descriptions.end(),
                                      [](const std::string& d) { return !d.empty(); });
    check.notes.push_back(
        any_text ? "band descriptions do not name bands; order " + band_list(modality) + " assumed"
                 : "no band descriptions; order " + band_list(modality) + " assumed");
  }

  if (info.nodata)
    check.notes.push_back("nodata value " + format_number(*info.nodata));
  else if (info.is_floating_point())
    check.notes.push_back("no nodata value; NaN pixels are treated as nodata");

  check.ok = check.reasons.empty();
  return check;
}

void require_standardisation(const Modality& modality, std::optional<StatsVersion> standardise) {
  if (!standardise) return;
  const auto& stats = *standardise == StatsVersion::kV1 ? modality.stats_v1 : modality.stats_v01;
  if (!stats)
    throw std::invalid_argument("the model wants inputs standardised with " +
                                std::string(to_string(*standardise)) + " statistics, which " +
                                modality.name + " does not have");
}

void require_modality(const RasterInfo& info, const Modality& modality) {
  const ModalityCheck check = check_modality(info, modality);
  if (!check.ok)
    throw RasterError(info.path + " cannot be read as " + modality.name + ": " +
                      join(check.reasons, "; "));
}

}  // namespace terramind
