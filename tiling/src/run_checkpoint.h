// Internal: the checkpoint of a resumable run (TilingOptions::resume), a small text file beside
// the first output that says how many raster rows the working files hold, for which run.
#pragma once
#include <optional>
#include <string>

namespace terramind {

class RunCheckpoint {
 public:
  // `fingerprint` names the run: inputs, model, settings and outputs (see tiling_pipeline.cpp).
  RunCheckpoint(const std::string& first_output, std::string fingerprint);

  const std::string& path() const { return path_; }
  // Rows finished by an earlier run of the same fingerprint; nullopt when there is no checkpoint,
  // or (with `mismatch` set to why) when it belongs to another run or cannot be read.
  std::optional<int> load(std::string& mismatch) const;
  // Atomically (temporary file + rename): call only after the working files are flushed.
  void save(int rows_written) const;
  void remove() const;

 private:
  std::string path_;
  std::string fingerprint_;
};

}  // namespace terramind
