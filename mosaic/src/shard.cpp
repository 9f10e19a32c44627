// Which shard of the tiles a worker runs: flags, or the scheduler's own environment.
#include <cstdlib>
#include <string>

#include "tm/mosaic.h"

namespace terramind {
namespace {

int parse_count(const char* name, const char* text) {
  try {
    std::size_t used = 0;
    const long long v = std::stoll(text, &used);
    if (used == std::string(text).size() && v >= 0 && v < (1LL << 31)) return static_cast<int>(v);
  } catch (const std::exception&) {
  }
  throw MosaicError(std::string(name) + " must be a non-negative integer, got '" + text + "'");
}

}  // namespace

Shard shard_from_environment(std::optional<int> index, std::optional<int> count,
                             const std::function<const char*(const char*)>& getenv_fn) {
  auto env = [&](const char* name) -> const char* {
    const char* v = getenv_fn ? getenv_fn(name) : std::getenv(name);
    return v && *v ? v : nullptr;
  };
  Shard shard;
  // The count of array jobs that do not export it (Kubernetes, AWS Batch): --shards or
  // TM_SHARD_COUNT.
  auto given_count = [&](const char* scheduler) {
    if (count) return *count;
    if (const char* c = env("TM_SHARD_COUNT")) return parse_count("TM_SHARD_COUNT", c);
    throw MosaicError(std::string(scheduler) +
                      " gives this worker's index but not the number of shards: pass --shards N "
                      "(or set TM_SHARD_COUNT) as the job's completions / array size");
  };
  if (index) {
    shard.index = *index;
    shard.count = count.value_or(1);
    shard.source = "--shard";
  } else if (const char* slurm = env("SLURM_ARRAY_TASK_ID")) {
    // Arrays may start anywhere (--array=1-8): the index counts from SLURM_ARRAY_TASK_MIN.
    const int min = env("SLURM_ARRAY_TASK_MIN")
                        ? parse_count("SLURM_ARRAY_TASK_MIN", env("SLURM_ARRAY_TASK_MIN"))
                        : 0;
    shard.index = parse_count("SLURM_ARRAY_TASK_ID", slurm) - min;
    shard.count = count ? *count
                  : env("SLURM_ARRAY_TASK_COUNT")
                      ? parse_count("SLURM_ARRAY_TASK_COUNT", env("SLURM_ARRAY_TASK_COUNT"))
                      : given_count("Slurm");
    shard.source = "SLURM_ARRAY_TASK_ID";
  } else if (const char* k8s = env("JOB_COMPLETION_INDEX")) {
    shard.index = parse_count("JOB_COMPLETION_INDEX", k8s);
    shard.count = given_count("the Kubernetes Indexed Job");
    shard.source = "JOB_COMPLETION_INDEX";
  } else if (const char* aws = env("AWS_BATCH_JOB_ARRAY_INDEX")) {
    shard.index = parse_count("AWS_BATCH_JOB_ARRAY_INDEX", aws);
    shard.count = given_count("the AWS Batch array job");
    shard.source = "AWS_BATCH_JOB_ARRAY_INDEX";
  } else {
    shard.count = count.value_or(1);
    shard.source = count ? "--shards" : "default";
  }
  if (shard.count < 1)
    throw MosaicError("the number of shards must be at least 1, got " +
                      std::to_string(shard.count));
  if (shard.index < 0 || shard.index >= shard.count)
    throw MosaicError("shard index " + std::to_string(shard.index) + " (from " + shard.source +
                      ") is out of range: there are " + std::to_string(shard.count) +
                      " shards, 0 to " + std::to_string(shard.count - 1));
  return shard;
}

}  // namespace terramind
