// Small synthetic tm shards for the streaming tests: every pixel encodes where it came from, so
// that tests can check which samples arrive and that augmentations keep modalities aligned.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tm/shards.h"

namespace terramind::testing {

struct SyntheticModality {
  std::string name;  // canonical registry name: "S2L2A", "S1RTC", "DEM", ...
  shards::DType dtype = shards::DType::kInt16;
  int bands = 1;
};

struct SyntheticShards {
  std::string folder;  // the tars are written here, "<prefix>-NNNNNN.tar"
  std::string prefix = "tm-train";
  int shards = 2;
  int samples_per_shard = 4;
  int width = 16;
  int height = 16;
  std::vector<SyntheticModality> modalities{{"S2L2A", shards::DType::kInt16, 3},
                                            {"S1RTC", shards::DType::kFloat32, 2},
                                            {"LULC", shards::DType::kUInt8, 1}};
  // Whether sample `key_index` holds `modality`; empty: every sample holds every modality.
  std::function<bool(int key_index, const std::string& modality)> holds;
  // >= 0: the array members of this sample (the global index) are not gzip streams.
  int corrupt_sample = -1;
};

// "s000123" for 123: samples are numbered across shards (shard s holds
// s * samples_per_shard ... s * samples_per_shard + samples_per_shard - 1).
std::string synthetic_key(int key_index);
int synthetic_key_index(const std::string& key);  // -1 when not such a key

// The code of pixel (band, row, col) of sample `key_index`:
// key_index * 2^20 + band * 2^16 + row * 2^8 + col (row, col < 256, band < 16), stored as the
// modality's type holds it: the low bits of the code for integer types (the low 8 bits in
// uint8, the low 16 in int16/uint16 — row * 256 + col for row < 128), the code itself in
// float32 (exact below 2^24) and the wider types.
double synthetic_value(shards::DType dtype, int key_index, int band, int row, int col);
shards::Array synthetic_array(const SyntheticModality& modality, int key_index, int height,
                              int width);

// The record of sample `key_index`: 10 m pixels, its own origin (so that a crop's origin shift
// can be checked), crs EPSG:32633.
shards::SampleRecord synthetic_record(int key_index, int width, int height);

// Writes the shards and returns their references (layout kTmShards, samples set).
std::vector<shards::ShardRef> write_synthetic_shards(const SyntheticShards& spec);

}  // namespace terramind::testing
