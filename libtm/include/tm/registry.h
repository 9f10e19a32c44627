// tm/registry.h — the TerraMind modality registry (public header of libtm's tm_registry).
//
// Every fact about a modality (names, band order, vocabulary, normalisation, LULC classes) lives
// in libtm/data/modalities.json, compiled into the library. Nothing else in the project may
// repeat those constants: ask the registry.
//
// Pure C++17, no LibTorch and no GDAL, so thin consumers (the GDAL plugin, tm_info) stay cheap.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace terramind {

// How a modality enters the model.
enum class ModalityKind {
  kPixel,       // raw pixels, patch-embedded (S-2, S-1, DEM)
  kImageToken,  // tokenized by an image tokenizer first (LULC, NDVI)
  kSequence,    // text tokens (coordinates, captions)
};

const char* to_string(ModalityKind kind);

// Normalisation table generation. v1 for the TerraMind 1.0 release, v0.1 for the preview.
enum class StatsVersion { kV1, kV01 };

const char* to_string(StatsVersion version);
StatsVersion stats_version_from_string(const std::string& text);  // "v1", "v0.1"

// How a modality is drawn in a quicklook picture (tm/quicklook.h), from modalities.json's
// "quicklook" field.
enum class QuicklookStyle {
  kNone,        // no picture (sequences)
  kTrueColour,  // RED, GREEN, BLUE bands, stretched over quicklook_range or 2-98 % per band
  kDbStretch,   // first band (VV), grey, linear over quicklook_range (dB)
  kHillshade,   // shaded relief of the first band (elevation)
  kPalette,     // class indices through the raster's colour table (else the LULC legend)
  kNdviRamp,    // brown -> yellow -> green colour ramp over -1..1
};

// The JSON names: "none", "true_colour", "db_stretch", "hillshade", "palette", "ndvi_ramp".
const char* to_string(QuicklookStyle style);
// Throws std::invalid_argument listing the known names.
QuicklookStyle quicklook_style_from_string(const std::string& text);

struct Band {
  std::string name;       // short Sentinel name, e.g. "B8A", "VV"
  std::string long_name;  // reference constant, e.g. "NIR_NARROW"
};

struct ChannelStats {
  std::vector<double> mean;
  std::vector<double> std;
};

struct Modality {
  std::string name;  // canonical user name: "S2L2A", "LULC", "coords"
  std::vector<std::string> aliases;
  std::string description;
  ModalityKind kind = ModalityKind::kPixel;
  std::string input_key;   // reference key when used as input, e.g. "untok_sen2l2a@224"
  int input_id = -1;       // modality id (SHA-256 of the key mod 2^15)
  std::string output_key;  // token modality when generated; empty if it cannot be generated
  int output_id = -1;
  int vocab_size = 0;           // image-token and sequence modalities
  std::vector<int> fsq_levels;  // e.g. {8,8,8,6,5}
  int max_length = 0;           // sequence modalities
  std::string tokenizer;        // official tokenizer file name
  std::string units;
  double resolution_m = 0;  // native ground sampling distance the model was trained at; 0: any
  std::vector<std::string> raster_types;  // GDAL data type names accepted as input
  // "plausible_range": [low, high] in the modality's units: values outside are not physical
  // (with a margin: reflectance x 10000 up to 20000 covers snow and the +1000 offset of newer
  // processing baselines); tm_shards build reports them. Class maps: the class index range.
  std::optional<std::array<double, 2>> plausible_range;
  std::string output_type;  // GDAL data type name written when generated
  std::vector<Band> bands;  // in model channel order; empty for sequences
  std::optional<ChannelStats> stats_v1;
  std::optional<ChannelStats> stats_v01;
  QuicklookStyle quicklook = QuicklookStyle::kNone;
  // Fixed display range [low, high] in the modality's units ("quicklook_range"); required by
  // db_stretch, optional for true_colour (none: a 2-98 % stretch per band).
  std::optional<std::array<double, 2>> quicklook_range;
  // "class_map": true: one band of class indices (the registry's lulc_classes), not measurements;
  // generated as class probabilities, written as classes, resampled by mode, never averaged.
  bool class_map = false;
  // "level_offsets": true: windows generated on their own may differ by a constant level (absolute
  // elevation), which offset harmonisation (tm_generate --harmonise-dem) aligns on the overlaps.
  bool level_offsets = false;

  int channels() const { return static_cast<int>(bands.size()); }
  bool is_image() const { return kind != ModalityKind::kSequence; }
  bool can_generate() const { return !output_key.empty(); }
  bool is_class_map() const { return class_map; }
  bool has_level_offsets() const { return level_offsets; }
  bool accepts_raster_type(const std::string& gdal_type_name) const;
  // Throws std::out_of_range naming the modality when the table does not exist.
  const ChannelStats& stats(StatsVersion version) const;
  // Position of a band given by short or long name (case-insensitive; "B1" == "B01"), or -1.
  int band_index(const std::string& band_name) const;
};

struct LulcClass {
  int index = 0;
  std::string name;
  std::array<std::uint8_t, 3> rgb{};
};

class UnknownModality : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// The registry itself. All lookups are case-insensitive and accept aliases.
class ModalityRegistry {
 public:
  static const ModalityRegistry& instance();

  const std::vector<Modality>& modalities() const { return modalities_; }
  const std::vector<LulcClass>& lulc_classes() const { return lulc_classes_; }

  // Throws UnknownModality listing the known names.
  const Modality& get(const std::string& name_or_alias) const;
  const Modality* find(const std::string& name_or_alias) const;
  // Lookup by reference key ("untok_sen2l2a@224", "tok_lulc@224").
  const Modality* find_by_key(const std::string& key) const;
  // What a reference key stands for, from the modalities' input_key / output_key: raw pixels,
  // patch-embedded (a pixel modality's input_key, "untok_sen2l2a@224"), or image token ids (an
  // image modality's token key, "tok_sen2l2a@224", "tok_lulc@224"; pixel modalities can be fed
  // as tokens too). Both false for sequence keys ("coords") and keys the registry does not know.
  bool is_pixel_input_key(const std::string& key) const;
  bool is_token_key(const std::string& key) const;

  // Parses a registry document; exposed so tests can check error handling on bad documents.
  static ModalityRegistry from_json(const std::string& json_text);

 private:
  std::vector<Modality> modalities_;
  std::vector<LulcClass> lulc_classes_;
};

// The tm release, e.g. "0.1.0" (the project version), for --version and provenance metadata.
const char* tm_version();

// Canonical short band name: "b1" -> "B01", "b8a" -> "B8A", "vv" -> "VV"; other text upper-cased.
std::string canonical_band_name(const std::string& text);

}  // namespace terramind
