// One HTTP(S) transfer into a .part file through libcurl: resumed with a Range request when the
// file already holds bytes, progress on stderr.
#pragma once

#include <cstdint>
#include <string>

namespace terramind {

struct HttpTransfer {
  std::string url;
  std::string part;   // appended to from its current size (Range); restarted if the server
                      // ignores the range
  std::string token;  // "Authorization: Bearer <token>" when not empty
  std::string label;  // what the progress names
  bool progress = true;
};

struct TransferResult {
  bool complete = false;      // every byte arrived
  bool retryable = false;     // worth another try (network, 5xx, 429, an unsatisfiable range)
  bool write_failed = false;  // the .part file could not be written (errno in `error`)
  long http_status = 0;       // 0 when no response came
  std::string error;          // what went wrong
  int64_t received = 0;       // bytes written in this transfer
};

TransferResult http_transfer(const HttpTransfer& transfer);

}  // namespace terramind
