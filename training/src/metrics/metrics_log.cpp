// The metrics log: one JSON object per line, {"step":N,"phase":"train",<key>:<value>,...}.
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "atomic_file.h"
#include "tm/training_metrics.h"

namespace terramind::training {

namespace {

std::string to_json_line(const MetricsRow& row) {
  nlohmann::ordered_json j;
  j["step"] = row.step;
  j["phase"] = row.phase;
  for (const auto& [key, value] : row.values) {
    if (key == "step" || key == "phase")
      throw std::invalid_argument("metrics value key '" + key + "' is reserved for the row");
    if (std::isfinite(value))
      j[key] = value;
    else
      j[key] = nullptr;
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

MetricsRow from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw std::runtime_error("not a JSON object");
  MetricsRow row;
  const auto step = j.find("step");
  if (step == j.end()) throw std::runtime_error("no \"step\"");
  if (step->is_number_unsigned()) {
    const auto u = step->get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      throw std::runtime_error("\"step\" is out of range");
    row.step = static_cast<std::int64_t>(u);
  } else if (step->is_number_integer()) {
    row.step = step->get<std::int64_t>();
  } else {
    throw std::runtime_error("\"step\" is not an integer");
  }
  const auto phase = j.find("phase");
  if (phase == j.end()) throw std::runtime_error("no \"phase\"");
  if (!phase->is_string()) throw std::runtime_error("\"phase\" is not a string");
  row.phase = phase->get<std::string>();
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "step" || it.key() == "phase") continue;
    if (it->is_null())
      row.values[it.key()] = std::numeric_limits<double>::quiet_NaN();
    else if (it->is_number())
      row.values[it.key()] = it->get<double>();
    else
      throw std::runtime_error("value of \"" + it.key() + "\" is not a number or null");
  }
  return row;
}

}  // namespace

MetricsLog::MetricsLog(const std::string& jsonl_path, std::int64_t resume_step)
    : path_(jsonl_path) {
  std::ios::openmode mode = std::ios::binary | std::ios::trunc;
  if (resume_step >= 0 && std::ifstream(path_, std::ios::binary).is_open()) {
    std::string kept;
    for (auto& row : read(path_)) {
      if (row.step > resume_step) continue;
      kept += to_json_line(row);
      rows_.push_back(std::move(row));
    }
    detail::write_file_atomically(path_, kept);
    mode = std::ios::binary | std::ios::app;
  }
  out_.open(path_, mode);
  if (!out_) throw std::runtime_error(path_ + ": cannot open for writing: " + std::strerror(errno));
}

void MetricsLog::append(const MetricsRow& row) {
  const std::string line = to_json_line(row);
  out_ << line;
  out_.flush();
  if (!out_) throw std::runtime_error(path_ + ": cannot write: " + std::strerror(errno));
  rows_.push_back(row);
}

void MetricsLog::write_csv(const std::string& csv_path) const {
  write_metrics_csv(rows_, csv_path);
}

std::vector<MetricsRow> MetricsLog::read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw std::runtime_error(path + ": cannot read");
  const std::string text = buffer.str();

  std::vector<MetricsRow> rows;
  std::size_t begin = 0;
  for (std::size_t line_no = 1; begin < text.size(); ++line_no) {
    const std::size_t end = text.find('\n', begin);
    const bool complete = end != std::string::npos;
    const std::string line = text.substr(begin, complete ? end - begin : std::string::npos);
    begin = complete ? end + 1 : text.size();
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      if (!complete) break;  // the line a crash cut short
      throw std::runtime_error(path + ":" + std::to_string(line_no) + ": " + e.what());
    }
    try {
      rows.push_back(from_json(j));
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(path + ":" + std::to_string(line_no) + ": " + e.what());
    }
  }
  return rows;
}

}  // namespace terramind::training
