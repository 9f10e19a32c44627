// Internal: process memory figures and GDAL's block cache during a tiled run.
#pragma once
#include <cstddef>
#include <cstdint>

namespace terramind {

// Peak resident set size of this process so far, in bytes (getrusage).
std::size_t process_peak_rss_bytes();
// Physical memory of the machine in bytes (0 when unknown).
double physical_memory_bytes();

// Lowers GDAL's block-cache limit to `bytes` while alive (never raises it); 0 leaves it alone.
class GdalCacheLimit {
 public:
  explicit GdalCacheLimit(std::size_t bytes);
  ~GdalCacheLimit();
  GdalCacheLimit(const GdalCacheLimit&) = delete;
  GdalCacheLimit& operator=(const GdalCacheLimit&) = delete;

 private:
  std::int64_t previous_ = -1;
};

}  // namespace terramind
