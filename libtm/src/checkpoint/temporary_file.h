// Atomic file writing for checkpoint writers (internal to tm_model): a temporary file beside the
// target, renamed over it once complete and flushed, removed when abandoned.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "tm/checkpoint.h"  // CheckpointError

namespace terramind::checkpoint_detail {

// A file descriptor that is closed (and its file removed unless kept) when it goes out of scope.
class TemporaryFile {
 public:
  explicit TemporaryFile(const std::string& target) {
    static std::atomic<unsigned> counter{0};
    for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
      path_ = target + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
      fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ < 0 && errno != EEXIST) break;
    }
    if (fd_ < 0) throw system_error("cannot create temporary file " + path_);
  }
  ~TemporaryFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!kept_) ::unlink(path_.c_str());
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;

  void write(const void* data, uint64_t bytes) {
    const char* cursor = static_cast<const char*>(data);
    while (bytes > 0) {
      ssize_t written = ::write(fd_, cursor, std::min<uint64_t>(bytes, uint64_t{1} << 30));
      if (written < 0 && errno == EINTR) continue;
      if (written <= 0) throw system_error("write to " + path_ + " failed");
      cursor += written;
      bytes -= static_cast<uint64_t>(written);
    }
  }

  // Flushes to disk, then renames over `target` so readers never see a partial file.
  void commit(const std::string& target) {
    if (::fsync(fd_) != 0) throw system_error("fsync of " + path_ + " failed");
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw system_error("close of " + path_ + " failed");
    if (::rename(path_.c_str(), target.c_str()) != 0)
      throw system_error("rename of " + path_ + " failed");
    kept_ = true;
  }

 private:
  static CheckpointError system_error(const std::string& what) {
    return CheckpointError(what + ": " + std::strerror(errno));
  }

  std::string path_;
  int fd_ = -1;
  bool kept_ = false;
};

}  // namespace terramind::checkpoint_detail
