// load_torch_checkpoint: zip-format torch.save files read with the restricted unpickler.
#include <filesystem>
#include <unordered_map>

#include "pickle_reader.h"
#include "tm/model.h"
#include "zip_archive.h"

namespace terramind {

namespace {

using checkpoint_detail::ZipArchive;

// The archive folder varies (torch uses the file stem); data.pkl is directly inside it.
std::string archive_folder(const ZipArchive& archive) {
  for (const auto& entry : archive.entries()) {
    const std::string& name = entry.name;
    const std::string suffix = "/data.pkl";
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        name.find('/') == name.size() - suffix.size())
      return name.substr(0, name.size() - suffix.size() + 1);
  }
  throw CheckpointError("zip archive has no <folder>/data.pkl: not a PyTorch checkpoint");
}

// Loads each storage once, so tensors that share a storage in the file share it here too.
class StorageCache {
 public:
  StorageCache(ZipArchive& archive, std::string folder)
      : archive_(archive), folder_(std::move(folder)) {}

  at::Tensor get(const std::string& key, at::ScalarType dtype, int64_t numel) {
    auto cached = storages_.find(key);
    if (cached != storages_.end()) {
      if (cached->second.scalar_type() != dtype || cached->second.numel() != numel)
        throw CheckpointError("storage '" + key + "' is referenced with different types/sizes");
      return cached->second;
    }
    const std::string name = folder_ + "data/" + key;
    const ZipArchive::Entry* entry = archive_.find(name);
    if (!entry) throw CheckpointError("storage entry '" + name + "' is missing");
    const int64_t element_size = static_cast<int64_t>(c10::elementSize(dtype));
    if (numel > INT64_MAX / element_size)
      throw CheckpointError("storage '" + key + "' is impossibly large");
    const uint64_t bytes = static_cast<uint64_t>(numel * element_size);
    if (entry->size < bytes)
      throw CheckpointError("storage entry '" + name + "' has " + std::to_string(entry->size) +
                            " bytes, " + std::to_string(bytes) + " needed (" +
                            std::to_string(numel) + " x " + c10::toString(dtype) + ")");
    at::Tensor storage = at::empty({numel}, at::TensorOptions().dtype(dtype));
    archive_.read_into(*entry, storage.data_ptr(), bytes);
    if (dtype == at::kBool) {
      // Only 0/1 are valid bool bytes; normalise anything else rather than trust the file.
      auto* bytes_ptr = static_cast<unsigned char*>(storage.data_ptr());
      for (int64_t i = 0; i < numel; ++i) bytes_ptr[i] = bytes_ptr[i] != 0;
    }
    storages_.emplace(key, storage);
    return storage;
  }

 private:
  ZipArchive& archive_;
  std::string folder_;
  std::unordered_map<std::string, at::Tensor> storages_;
};

TensorMap load(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (!fs::exists(path, error)) throw CheckpointError("no such file");
  if (!fs::is_regular_file(path, error)) throw CheckpointError("not a regular file");

  ZipArchive archive(path);
  const std::string folder = archive_folder(archive);
  if (const auto* byteorder = archive.find(folder + "byteorder")) {
    if (byteorder->size > 16 || archive.read(*byteorder) != "little")
      throw CheckpointError("storages are not little-endian (byteorder entry)");
  }
  const std::string pickle = archive.read(*archive.find(folder + "data.pkl"));
  StorageCache storages(archive, folder);
  return checkpoint_detail::unpickle_tensors(
      pickle, [&](const std::string& key, at::ScalarType dtype, int64_t numel) {
        return storages.get(key, dtype, numel);
      });
}

}  // namespace

TensorMap load_torch_checkpoint(const std::string& path) {
  try {
    return load(path);
  } catch (const std::exception& error) {
    // Covers CheckpointError, allocation failures and torch errors alike.
    throw CheckpointError(path + ": " + error.what());
  }
}

}  // namespace terramind
