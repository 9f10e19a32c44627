#include "run_resources.h"

#include <gdal.h>
#include <sys/resource.h>
#include <unistd.h>

#include "gdal_session.h"

namespace terramind {

std::size_t process_peak_rss_bytes() {
  struct rusage usage {};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<std::size_t>(usage.ru_maxrss) * 1024;  // kilobytes on Linux
}

double physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? double(pages) * double(page) : 0.0;
}

GdalCacheLimit::GdalCacheLimit(std::size_t bytes) {
  if (bytes == 0) return;
  ensure_gdal_registered();
  const GIntBig current = GDALGetCacheMax64();
  if (current > static_cast<GIntBig>(bytes)) {
    previous_ = current;
    GDALSetCacheMax64(static_cast<GIntBig>(bytes));
  }
}

GdalCacheLimit::~GdalCacheLimit() {
  if (previous_ >= 0) GDALSetCacheMax64(previous_);
}

}  // namespace terramind
