#include "shard_test_support.h"

#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace terramind::testing {

using shards::Array;
using shards::DType;

std::string synthetic_key(int key_index) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "s%06d", key_index);
  return buffer;
}

int synthetic_key_index(const std::string& key) {
  if (key.size() != 7 || key[0] != 's') return -1;
  int value = 0;
  for (std::size_t i = 1; i < key.size(); ++i) {
    if (key[i] < '0' || key[i] > '9') return -1;
    value = value * 10 + (key[i] - '0');
  }
  return value;
}

namespace {

std::uint64_t pixel_code(int key_index, int band, int row, int col) {
  return (static_cast<std::uint64_t>(key_index) << 20) + (static_cast<std::uint64_t>(band) << 16) +
         (static_cast<std::uint64_t>(row) << 8) + static_cast<std::uint64_t>(col);
}

template <typename T>
void put(std::uint8_t* out, T value) {
  std::memcpy(out, &value, sizeof value);  // the tests run on little-endian machines
}

}  // namespace

double synthetic_value(DType dtype, int key_index, int band, int row, int col) {
  const std::uint64_t code = pixel_code(key_index, band, row, col);
  switch (dtype) {
    case DType::kUInt8:
      return static_cast<std::uint8_t>(code & 0xff);
    case DType::kInt8:
      return static_cast<std::int8_t>(static_cast<std::uint8_t>(code & 0xff));
    case DType::kUInt16:
      return static_cast<std::uint16_t>(code & 0xffff);
    case DType::kInt16:
      return static_cast<std::int16_t>(static_cast<std::uint16_t>(code & 0xffff));
    case DType::kUInt32:
      return static_cast<std::uint32_t>(code);
    case DType::kInt32:
      return static_cast<std::int32_t>(static_cast<std::uint32_t>(code & 0x7fffffff));
    case DType::kFloat32:
      return static_cast<float>(code);
    case DType::kFloat64:
      return static_cast<double>(code);
  }
  return 0;
}

Array synthetic_array(const SyntheticModality& modality, int key_index, int height, int width) {
  Array array;
  array.dtype = modality.dtype;
  array.bands = modality.bands;
  array.height = height;
  array.width = width;
  const std::size_t element = shards::dtype_size(modality.dtype);
  array.data.resize(array.count() * element);
  std::uint8_t* out = array.data.data();
  for (int b = 0; b < modality.bands; ++b)
    for (int r = 0; r < height; ++r)
      for (int c = 0; c < width; ++c, out += element) {
        const double v = synthetic_value(modality.dtype, key_index, b, r, c);
        switch (modality.dtype) {
          case DType::kUInt8:
            put(out, static_cast<std::uint8_t>(v));
            break;
          case DType::kInt8:
            put(out, static_cast<std::int8_t>(v));
            break;
          case DType::kUInt16:
            put(out, static_cast<std::uint16_t>(v));
            break;
          case DType::kInt16:
            put(out, static_cast<std::int16_t>(v));
            break;
          case DType::kUInt32:
            put(out, static_cast<std::uint32_t>(v));
            break;
          case DType::kInt32:
            put(out, static_cast<std::int32_t>(v));
            break;
          case DType::kFloat32:
            put(out, static_cast<float>(v));
            break;
          case DType::kFloat64:
            put(out, v);
            break;
        }
      }
  return array;
}

shards::SampleRecord synthetic_record(int key_index, int width, int height) {
  shards::SampleRecord record;
  record.key = synthetic_key(key_index);
  record.split = "train";
  record.crs = "EPSG:32633";
  record.geotransform = {500000.0 + 1000.0 * key_index, 10, 0, 4000000.0, 0, -10};
  record.width = width;
  record.height = height;
  record.date = "2021-06-01";
  record.center_lon = 15.0;
  record.center_lat = 36.0;
  return record;
}

std::vector<shards::ShardRef> write_synthetic_shards(const SyntheticShards& spec) {
  std::vector<shards::ShardRef> refs;
  for (int s = 0; s < spec.shards; ++s) {
    char name[64];
    std::snprintf(name, sizeof name, "%s-%06d.tar", spec.prefix.c_str(), s);
    shards::ShardRef ref;
    ref.layout = shards::Layout::kTmShards;
    ref.name = name;
    ref.path = spec.folder + "/" + name;
    ref.samples = spec.samples_per_shard;
    shards::TarWriter tar(ref.path);
    for (int i = 0; i < spec.samples_per_shard; ++i) {
      const int key_index = s * spec.samples_per_shard + i;
      shards::SampleRecord record = synthetic_record(key_index, spec.width, spec.height);
      std::vector<const SyntheticModality*> held;
      for (const SyntheticModality& m : spec.modalities)
        if (!spec.holds || spec.holds(key_index, m.name)) {
          held.push_back(&m);
          record.sources[m.name] = "synthetic_" + m.name + ".tif";
        }
      const std::string json = shards::to_json(record);
      tar.add(shards::record_member_name(record.key),
              reinterpret_cast<const std::uint8_t*>(json.data()), json.size());
      for (const SyntheticModality* m : held) {
        std::vector<std::uint8_t> member;
        if (key_index == spec.corrupt_sample) {
          member.assign(64, 0x5a);  // not a gzip stream
        } else {
          const std::vector<std::uint8_t> npy =
              shards::encode_npy(synthetic_array(*m, key_index, spec.height, spec.width));
          member = shards::gzip_compress(npy.data(), npy.size(), 1);
        }
        tar.add(shards::array_member_name(record.key, m->name), member);
      }
    }
    tar.close();
    refs.push_back(ref);
  }
  return refs;
}

}  // namespace terramind::testing
