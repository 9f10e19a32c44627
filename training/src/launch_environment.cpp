// Data-parallel identity from the launcher's environment (tm/launch_environment.h).
#include "tm/launch_environment.h"

#include <cstdlib>
#include <stdexcept>

extern char** environ;

namespace terramind::training {
namespace {

using Env = std::map<std::string, std::string>;

bool has(const Env& env, const std::string& name) { return env.count(name) != 0; }

int number(const Env& env, const std::string& name, const std::string& launcher) {
  const std::string& text = env.at(name);
  std::size_t used = 0;
  long value = -1;
  try {
    value = std::stol(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || value < 0 || value > 1000000)
    throw std::invalid_argument(launcher + " environment: " + name + "='" + text +
                                "' is not a non-negative integer");
  return static_cast<int>(value);
}

int optional_number(const Env& env, const std::string& name, const std::string& launcher,
                    int fallback) {
  return has(env, name) ? number(env, name, launcher) : fallback;
}

}  // namespace

LaunchEnvironment launch_environment(const Env& env) {
  LaunchEnvironment e;
  std::string rank_var, world_var, local_var;
  if (has(env, "RANK") || has(env, "WORLD_SIZE")) {
    e.launcher = "torchrun";
    rank_var = "RANK", world_var = "WORLD_SIZE", local_var = "LOCAL_RANK";
    e.local_world_size = optional_number(env, "LOCAL_WORLD_SIZE", e.launcher, 0);
  } else if (has(env, "SLURM_PROCID")) {
    e.launcher = "slurm";
    rank_var = "SLURM_PROCID", world_var = "SLURM_NTASKS", local_var = "SLURM_LOCALID";
    if (has(env, "SLURM_NTASKS_PER_NODE")) {  // "4" or "4(x2)": the first number
      const std::string t = env.at("SLURM_NTASKS_PER_NODE");
      e.local_world_size = number({{"SLURM_NTASKS_PER_NODE", t.substr(0, t.find('('))}},
                                  "SLURM_NTASKS_PER_NODE", e.launcher);
    }
  } else if (has(env, "OMPI_COMM_WORLD_RANK")) {
    e.launcher = "mpirun";
    rank_var = "OMPI_COMM_WORLD_RANK", world_var = "OMPI_COMM_WORLD_SIZE";
    local_var = "OMPI_COMM_WORLD_LOCAL_RANK";
    e.local_world_size = optional_number(env, "OMPI_COMM_WORLD_LOCAL_SIZE", e.launcher, 0);
  } else {
    return e;  // one process
  }
  for (const auto& v : {rank_var, world_var})
    if (!has(env, v))
      throw std::invalid_argument(e.launcher + " environment: " + v + " is not set");
  e.rank = number(env, rank_var, e.launcher);
  e.world_size = number(env, world_var, e.launcher);
  e.local_rank = optional_number(env, local_var, e.launcher, 0);
  if (e.world_size < 1)
    throw std::invalid_argument(e.launcher + " environment: " + world_var + " must be >= 1");
  if (e.rank >= e.world_size)
    throw std::invalid_argument(e.launcher + " environment: " + rank_var + "=" +
                                std::to_string(e.rank) + " is not below " + world_var + "=" +
                                std::to_string(e.world_size));
  if (e.local_world_size == 0) e.local_world_size = e.world_size;
  if (e.local_rank >= e.local_world_size)
    throw std::invalid_argument(e.launcher + " environment: " + local_var + "=" +
                                std::to_string(e.local_rank) + " is not below the " +
                                std::to_string(e.local_world_size) + " processes of its node");
  if (has(env, "MASTER_ADDR"))
    e.master_addr = env.at("MASTER_ADDR");
  else if (e.launcher == "slurm" && has(env, "SLURM_LAUNCH_NODE_IPADDR"))
    e.master_addr = env.at("SLURM_LAUNCH_NODE_IPADDR");
  if (e.distributed()) {
    if (e.master_addr.empty())
      throw std::invalid_argument(e.launcher + " environment: MASTER_ADDR is not set (the " +
                                  "address of rank 0; export it in the job script)");
    const bool default_port = e.launcher == "slurm" && !has(env, "MASTER_PORT");
    if (!default_port && !has(env, "MASTER_PORT"))
      throw std::invalid_argument(e.launcher + " environment: MASTER_PORT is not set");
    e.master_port = default_port ? 29500 : number(env, "MASTER_PORT", e.launcher);
    if (e.master_port < 1 || e.master_port > 65535)
      throw std::invalid_argument(e.launcher + " environment: MASTER_PORT=" +
                                  std::to_string(e.master_port) + " is not a port (1..65535)");
  }
  return e;
}

LaunchEnvironment launch_environment_from_process() {
  Env env;
  for (char** p = environ; p && *p; ++p) {
    const std::string item = *p;
    const auto eq = item.find('=');
    if (eq != std::string::npos) env[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return launch_environment(env);
}

}  // namespace terramind::training
