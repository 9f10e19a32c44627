// Helpers shared by the fuzz targets (fuzz/README.md).
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace tm_fuzz {

// The readers under test take a path: the input goes into one in-memory file (memfd), reopened
// through /proc/self/fd, so no disk I/O happens per execution.
class MemoryFile {
 public:
  MemoryFile() {
    fd_ = ::memfd_create("tm-fuzz-input", 0);
    if (fd_ < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  const std::string& write(const uint8_t* data, std::size_t size) {
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, data, size, 0) != static_cast<ssize_t>(size)) {
      std::perror("memfd write");
      std::abort();
    }
    return path_;
  }

 private:
  int fd_ = -1;
  std::string path_;
};

// An invariant the input broke: abort so libFuzzer records the input as a crash.
[[noreturn]] inline void invariant_failed(const char* what, const std::string& detail) {
  std::fprintf(stderr, "tm fuzz invariant failed: %s\n%s\n", what, detail.c_str());
  std::abort();
}

}  // namespace tm_fuzz
