// Internal: GDAL initialisation and error capture shared by the reader and the writer.
#pragma once
#include <string>

namespace terramind {

// Registers GDAL drivers once per process.
void ensure_gdal_registered();

// While alive, GDAL errors are captured instead of printed; last_message() returns the most
// recent one (empty if none). Nested scopes are fine.
class GdalErrorCapture {
 public:
  GdalErrorCapture();
  ~GdalErrorCapture();
  GdalErrorCapture(const GdalErrorCapture&) = delete;
  GdalErrorCapture& operator=(const GdalErrorCapture&) = delete;
  std::string last_message() const;
};

}  // namespace terramind
