#include "gdal_session.h"

#include <cpl_error.h>
#include <gdal.h>

#include <mutex>

#include "tm/tiling.h"

namespace terramind {

namespace {
std::once_flag gdal_registered;
}

void ensure_gdal_registered() {
  std::call_once(gdal_registered, [] { GDALAllRegister(); });
}

void use_host_gdal_drivers() {
  std::call_once(gdal_registered, [] {});
}

GdalErrorCapture::GdalErrorCapture() {
  CPLPushErrorHandler(CPLQuietErrorHandler);
  CPLErrorReset();
}

GdalErrorCapture::~GdalErrorCapture() { CPLPopErrorHandler(); }

std::string GdalErrorCapture::last_message() const {
  const char* msg = CPLGetLastErrorMsg();
  return msg ? std::string(msg) : std::string();
}

}  // namespace terramind
