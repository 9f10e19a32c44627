// Resume checkpoints: "tm-resume 1", the run's fingerprint and the rows finished, one per line.
#include "run_checkpoint.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "tm/tiling.h"

namespace terramind {
namespace {
constexpr const char* kMagic = "tm-resume 1";
}

RunCheckpoint::RunCheckpoint(const std::string& first_output, std::string fingerprint)
    : path_(resumable_working_path(first_output) + ".checkpoint"),
      fingerprint_(std::move(fingerprint)) {}

std::optional<int> RunCheckpoint::load(std::string& mismatch) const {
  std::ifstream in(path_);
  if (!in) return std::nullopt;
  std::string magic, key, fingerprint, rows_key;
  long long rows = -1;
  std::getline(in, magic);
  in >> key >> fingerprint >> rows_key >> rows;
  if (magic != kMagic || key != "fingerprint" || rows_key != "rows" || !in || rows < 0) {
    mismatch = "its checkpoint " + path_ + " cannot be read";
    return std::nullopt;
  }
  if (fingerprint != fingerprint_) {
    mismatch = "it was made with other inputs, model, settings or outputs";
    return std::nullopt;
  }
  return static_cast<int>(rows);
}

void RunCheckpoint::save(int rows_written) const {
  const std::string temp = path_ + ".new-" + std::to_string(getpid());
  {
    std::ofstream out(temp, std::ios::trunc);
    out << kMagic << "\nfingerprint " << fingerprint_ << "\nrows " << rows_written << "\n";
    out.flush();
    if (!out) {
      std::remove(temp.c_str());
      throw RasterError("cannot write the resume checkpoint " + path_ + ": " +
                        std::strerror(errno));
    }
  }
  if (std::rename(temp.c_str(), path_.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(temp.c_str());
    throw RasterError("cannot write the resume checkpoint " + path_ + ": " + why);
  }
}

void RunCheckpoint::remove() const { std::remove(path_.c_str()); }

}  // namespace terramind
