// Internal to tm_training_metrics: whole-file writes that never leave a half-written file.
#pragma once

#include <string>

namespace terramind::training::detail {

// Writes to "<path>.tmp" and renames it over path; std::runtime_error names path on failure.
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace terramind::training::detail
