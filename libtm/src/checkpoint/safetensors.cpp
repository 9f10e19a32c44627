// safetensors read/write: 8-byte little-endian header length, JSON header, raw tensor bytes.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "byte_order.h"
#include "temporary_file.h"
#include "tm/model.h"

namespace terramind {

namespace {

using checkpoint_detail::TemporaryFile;

// Same cap as the reference implementation: a larger header is corrupt or hostile.
constexpr uint64_t kMaxHeaderSize = 100u << 20;

struct DtypeName {
  const char* name;
  at::ScalarType dtype;
};

constexpr DtypeName kDtypes[] = {
    {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf},  {"BF16", at::kBFloat16},
    {"I64", at::kLong},   {"I32", at::kInt},   {"I16", at::kShort}, {"I8", at::kChar},
    {"U8", at::kByte},    {"BOOL", at::kBool},
};

at::ScalarType dtype_from_name(const std::string& name) {
  for (const auto& entry : kDtypes)
    if (name == entry.name) return entry.dtype;
  throw CheckpointError("unsupported dtype '" + name + "'");
}

const char* name_from_dtype(at::ScalarType dtype) {
  for (const auto& entry : kDtypes)
    if (dtype == entry.dtype) return entry.name;
  throw CheckpointError(std::string("dtype ") + c10::toString(dtype) +
                        " cannot be stored in safetensors");
}

struct TensorRecord {
  std::string name;
  at::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin;
  uint64_t end;
};

uint64_t checked_byte_size(const std::vector<int64_t>& shape, at::ScalarType dtype,
                           const std::string& name) {
  uint64_t bytes = c10::elementSize(dtype);
  for (int64_t dim : shape)
    if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(dim), &bytes))
      throw CheckpointError("tensor '" + name + "' shape overflows");
  return bytes;
}

TensorRecord parse_record(const std::string& name, const nlohmann::json& info, uint64_t data_size) {
  auto fail = [&](const std::string& problem) {
    return CheckpointError("tensor '" + name + "': " + problem);
  };
  if (!info.is_object()) throw fail("header entry is not an object");
  if (!info.contains("dtype") || !info["dtype"].is_string()) throw fail("missing dtype");
  if (!info.contains("shape") || !info["shape"].is_array()) throw fail("missing shape");
  if (!info.contains("data_offsets") || !info["data_offsets"].is_array() ||
      info["data_offsets"].size() != 2)
    throw fail("missing data_offsets");
  TensorRecord record{name, dtype_from_name(info["dtype"].get<std::string>()), {}, 0, 0};
  for (const auto& dim : info["shape"]) {
    if (!dim.is_number_unsigned() || dim.get<uint64_t>() > uint64_t{INT64_MAX})
      throw fail("shape entries must be non-negative integers");
    record.shape.push_back(static_cast<int64_t>(dim.get<uint64_t>()));
  }
  const auto& offsets = info["data_offsets"];
  if (!offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
    throw fail("data_offsets must be non-negative integers");
  record.begin = offsets[0].get<uint64_t>();
  record.end = offsets[1].get<uint64_t>();
  if (record.begin > record.end || record.end > data_size)
    throw fail("data_offsets [" + std::to_string(record.begin) + ", " + std::to_string(record.end) +
               ") out of range (data section has " + std::to_string(data_size) + " bytes)");
  if (record.end - record.begin != checked_byte_size(record.shape, record.dtype, name))
    throw fail("data_offsets span " + std::to_string(record.end - record.begin) +
               " bytes, the shape and dtype need " +
               std::to_string(checked_byte_size(record.shape, record.dtype, name)));
  return record;
}

TensorMap load(const std::string& path, SafetensorsMetadata* metadata) {
  if (metadata) metadata->clear();
  std::ifstream file(path, std::ios::binary);
  if (!file) throw CheckpointError("cannot open file");
  file.seekg(0, std::ios::end);
  const std::streamoff end = file.tellg();
  if (end < 0) throw CheckpointError("cannot determine the file size");
  const uint64_t file_size = static_cast<uint64_t>(end);
  auto read_at = [&](uint64_t offset, void* destination, uint64_t bytes) {
    file.clear();
    file.seekg(static_cast<std::streamoff>(offset));
    file.read(static_cast<char*>(destination), static_cast<std::streamsize>(bytes));
    if (!file) throw CheckpointError("I/O error at offset " + std::to_string(offset));
  };

  if (file_size < 8)
    throw CheckpointError("file too short for a safetensors header (" + std::to_string(file_size) +
                          " bytes)");
  unsigned char length_bytes[8];
  read_at(0, length_bytes, 8);
  const uint64_t header_size = checkpoint_detail::read_u64le(length_bytes);
  if (header_size > file_size - 8)
    throw CheckpointError("header length " + std::to_string(header_size) +
                          " exceeds the file size (" + std::to_string(file_size) +
                          " bytes): truncated or not a safetensors file");
  if (header_size > kMaxHeaderSize)
    throw CheckpointError("header length " + std::to_string(header_size) + " is too large");
  std::string header_text(header_size, '\0');
  read_at(8, header_text.data(), header_size);
  const nlohmann::json header = nlohmann::json::parse(header_text, nullptr, false);
  if (header.is_discarded() || !header.is_object())
    throw CheckpointError("header is not a JSON object");

  const uint64_t data_start = 8 + header_size;
  const uint64_t data_size = file_size - data_start;
  std::vector<TensorRecord> records;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      if (!info.is_object()) throw CheckpointError("__metadata__ is not an object");
      for (const auto& [key, value] : info.items()) {
        if (!value.is_string()) throw CheckpointError("__metadata__ values must be strings");
        if (metadata) (*metadata)[key] = value.get<std::string>();
      }
      continue;
    }
    records.push_back(parse_record(name, info, data_size));
  }
  std::stable_sort(records.begin(), records.end(),
                   [](const TensorRecord& a, const TensorRecord& b) { return a.begin < b.begin; });
  for (std::size_t i = 1; i < records.size(); ++i)
    if (records[i].begin < records[i - 1].end)
      throw CheckpointError("tensors '" + records[i - 1].name + "' and '" + records[i].name +
                            "' overlap");

  TensorMap tensors;
  for (const auto& record : records) {
    at::Tensor tensor = at::empty(record.shape, at::TensorOptions().dtype(record.dtype));
    const uint64_t bytes = record.end - record.begin;
    if (bytes) read_at(data_start + record.begin, tensor.data_ptr(), bytes);
    if (record.dtype == at::kBool) {
      auto* values = static_cast<unsigned char*>(tensor.data_ptr());
      for (uint64_t i = 0; i < bytes; ++i) values[i] = values[i] != 0;
    }
    tensors.insert(record.name, std::move(tensor));
  }
  return tensors;
}

void save(const std::string& path, const TensorMap& tensors, const SafetensorsMetadata& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> contiguous;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name == "__metadata__") throw CheckpointError("'__metadata__' is not a valid tensor name");
    at::Tensor data = tensor.detach().to(at::kCPU).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(data.numel()) * data.element_size();
    header[name] = {{"dtype", name_from_dtype(data.scalar_type())},
                    {"shape", data.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    contiguous.push_back(std::move(data));
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned

  TemporaryFile file(path);
  unsigned char length_bytes[8];
  for (int i = 0; i < 8; ++i)
    length_bytes[i] = static_cast<unsigned char>(uint64_t{header_text.size()} >> (8 * i));
  file.write(length_bytes, 8);
  file.write(header_text.data(), header_text.size());
  for (const auto& data : contiguous)
    if (data.numel() > 0)
      file.write(data.data_ptr(), static_cast<uint64_t>(data.numel()) * data.element_size());
  file.commit(path);
}

}  // namespace

TensorMap load_safetensors(const std::string& path, SafetensorsMetadata* metadata) {
  try {
    return load(path, metadata);
  } catch (const std::exception& error) {
    throw CheckpointError(path + ": " + error.what());
  }
}

void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const SafetensorsMetadata& metadata) {
  try {
    save(path, tensors, metadata);
  } catch (const std::exception& error) {
    throw CheckpointError(path + ": " + error.what());
  }
}

}  // namespace terramind
