#include "http_download.h"

#include <curl/curl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace terramind {
namespace {

using Clock = std::chrono::steady_clock;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string megabytes(double bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f MB", bytes / 1e6);
  return text;
}

struct Transfer {
  CURL* curl = nullptr;
  FILE* file = nullptr;
  int64_t offset = 0;  // bytes in the .part file before this transfer
  bool status_seen = false;
  int write_errno = 0;
  int64_t received = 0;
  const HttpTransfer* request = nullptr;
  bool terminal = false;
  Clock::time_point start = Clock::now(), drawn{};
  bool bar_shown = false;
};

size_t on_data(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  if (!t->status_seen) {
    t->status_seen = true;
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    if (t->offset > 0 && status == 200) {  // the server sends the whole file: start over
      std::fflush(t->file);
      if (ftruncate(fileno(t->file), 0) != 0) {
        t->write_errno = errno;
        return 0;
      }
      t->offset = 0;
    }
  }
  const size_t bytes = size * count;
  if (std::fwrite(data, 1, bytes, t->file) != bytes) {
    t->write_errno = errno ? errno : EIO;
    return 0;  // curl stops with CURLE_WRITE_ERROR
  }
  t->received += static_cast<int64_t>(bytes);
  return bytes;
}

void draw(Transfer& t, curl_off_t total_now, curl_off_t done_now, bool last) {
  const auto now = Clock::now();
  if (!last && t.bar_shown && now - t.drawn < std::chrono::milliseconds(250)) return;
  t.drawn = now;
  t.bar_shown = true;
  const double done = static_cast<double>(t.offset + done_now);
  const double total = total_now > 0 ? static_cast<double>(t.offset + total_now) : 0.0;
  const double seconds = std::chrono::duration<double>(now - t.start).count();
  const double rate = seconds > 0 ? static_cast<double>(done_now) / seconds : 0.0;
  char line[256];
  if (total > 0) {
    const double share = done / total;
    constexpr int kWidth = 24;
    char bar[kWidth + 1];
    const int filled = static_cast<int>(share * kWidth);
    for (int i = 0; i < kWidth; ++i) bar[i] = i < filled ? '#' : '.';
    bar[kWidth] = '\0';
    const double eta = rate > 0 ? (total - done) / rate : 0.0;
    std::snprintf(line, sizeof(line), "\r%s [%s] %3.0f%% %s of %s, %s/s, %.0f s left   ",
                  t.request->label.c_str(), bar, 100 * share, megabytes(done).c_str(),
                  megabytes(total).c_str(), megabytes(rate).c_str(), eta);
  } else {
    std::snprintf(line, sizeof(line), "\r%s %s, %s/s   ", t.request->label.c_str(),
                  megabytes(done).c_str(), megabytes(rate).c_str());
  }
  std::fputs(line, stderr);
  if (last) std::fputs("\n", stderr);
  std::fflush(stderr);
}

int on_progress(void* user, curl_off_t total, curl_off_t done, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->terminal && done > 0) draw(*t, total, done, false);
  return 0;
}

bool transient(long status) { return status >= 500 || status == 429 || status == 408; }

std::string status_text(long status) {
  switch (status) {
    case 401:
    case 403:
      return "HTTP " + std::to_string(status) +
             " (access denied: a gated repository needs a token in HF_TOKEN)";
    case 404:
      return "HTTP 404 (not found: the card's url may be outdated)";
    case 416:
      return "HTTP 416 (the server cannot resume at this offset)";
    case 429:
      return "HTTP 429 (too many requests)";
    default:
      return "HTTP " + std::to_string(status) + (status >= 500 ? " (server error)" : "");
  }
}

}  // namespace

TransferResult http_transfer(const HttpTransfer& request) {
  global_init();
  TransferResult result;
  Transfer t;
  t.request = &request;
  t.terminal = request.progress && isatty(STDERR_FILENO);
  t.file = std::fopen(request.part.c_str(), "ab");
  if (!t.file) {
    result.write_failed = true;
    result.error = request.part + ": " + std::strerror(errno);
    return result;
  }
  std::fseek(t.file, 0, SEEK_END);
  t.offset = std::ftell(t.file);
  t.curl = curl_easy_init();
  if (!t.curl) {
    std::fclose(t.file);
    result.error = "libcurl could not start a transfer";
    return result;
  }
  char error[CURL_ERROR_SIZE] = "";
  curl_slist* headers = nullptr;
  if (!request.token.empty())
    headers = curl_slist_append(headers, ("Authorization: Bearer " + request.token).c_str());
  CURL* c = t.curl;
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);  // the Hub redirects to its file store
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
  curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);  // a stalled transfer ends after a minute
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "tm (TerraMind for the GDAL world; libcurl)");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  if (t.offset > 0) curl_easy_setopt(c, CURLOPT_RANGE, (std::to_string(t.offset) + "-").c_str());

  const CURLcode code = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &result.http_status);
  curl_off_t total = 0;
  curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &total);
  if (t.terminal && t.bar_shown) draw(t, total, t.received, true);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  if (std::fclose(t.file) != 0 && t.write_errno == 0 && code == CURLE_OK) t.write_errno = errno;
  result.received = t.received;

  if (t.write_errno != 0) {
    result.write_failed = true;
    result.error = request.part + ": " + std::strerror(t.write_errno);
  } else if (code == CURLE_OK) {
    if (result.http_status == 200 || result.http_status == 206) {
      result.complete = true;
    } else {
      result.error = "unexpected " + status_text(result.http_status);
    }
  } else if (code == CURLE_HTTP_RETURNED_ERROR) {
    result.error = status_text(result.http_status);
    if (result.http_status == 416) {  // the .part does not fit the file: start from scratch
      std::remove(request.part.c_str());
      result.retryable = true;
    } else {
      result.retryable = transient(result.http_status);
    }
  } else {
    result.error = *error ? error : curl_easy_strerror(code);
    result.retryable = code != CURLE_UNSUPPORTED_PROTOCOL && code != CURLE_URL_MALFORMAT;
  }
  return result;
}

}  // namespace terramind
