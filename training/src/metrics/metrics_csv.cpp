// CSV export of the metrics rows: step, phase, then every value key (sorted).
#include <charconv>
#include <set>
#include <stdexcept>

#include "atomic_file.h"
#include "tm/training_metrics.h"

namespace terramind::training {

namespace {

// RFC 4180: quoted when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// Shortest text that reads back to the same double ("nan", "inf", "-inf" when not finite).
std::string number(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

}  // namespace

void write_metrics_csv(const std::vector<MetricsRow>& rows, const std::string& csv_path) {
  std::set<std::string> keys;
  for (const auto& row : rows)
    for (const auto& entry : row.values) keys.insert(entry.first);
  std::string out = "step,phase";
  for (const auto& key : keys) out += "," + csv_field(key);
  out += "\n";
  for (const auto& row : rows) {
    out += std::to_string(row.step) + "," + csv_field(row.phase);
    for (const auto& key : keys) {
      out += ",";
      const auto it = row.values.find(key);
      if (it != row.values.end()) out += number(it->second);
    }
    out += "\n";
  }
  detail::write_file_atomically(csv_path, out);
}

}  // namespace terramind::training
