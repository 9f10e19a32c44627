// Structure checks of downloaded checkpoints that need no checksum: a truncated or garbled file
// fails them.
#pragma once

#include <cstdint>
#include <string>

namespace terramind {

// "" when the file is a complete zip archive (local header at the start, end-of-central-directory
// record, zip64 included, and a central directory inside the file), else what is wrong.
std::string zip_structure_problem(const std::string& path, int64_t size);

// "" when the safetensors header is JSON and its tensors end exactly at the end of the file.
std::string safetensors_structure_problem(const std::string& path, int64_t size);

// The check that fits the file's name (.pt, .pth, .ckpt, .zip: zip; .safetensors); "" when it
// passes or the type has no structure check. `checked` names what was checked ("" if nothing).
std::string structure_problem(const std::string& path, int64_t size, std::string* checked);

}  // namespace terramind
