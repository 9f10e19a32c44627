// tm/launch_environment.h — who this process is in a data-parallel run, from the environment
// an existing launcher sets (public header of training/'s tm_launch_environment; plain C++).
//
// tm never launches processes itself. Recognised, in this order:
//   torchrun (--no-python): RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
//                           MASTER_PORT;
//   Slurm (srun):           SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE
//                           (first number); MASTER_ADDR/MASTER_PORT from the batch script, else
//                           SLURM_LAUNCH_NODE_IPADDR and port 29500;
//   Open MPI (mpirun):      OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE,
//                           OMPI_COMM_WORLD_LOCAL_RANK, OMPI_COMM_WORLD_LOCAL_SIZE; MASTER_ADDR
//                           and MASTER_PORT from the user (mpirun -x);
//   none of them:           one process, rank 0 of 1.
#pragma once

#include <map>
#include <string>

namespace terramind::training {

struct LaunchEnvironment {
  std::string launcher = "none";  // "torchrun", "slurm", "mpirun", "none"
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string master_addr;  // empty for a single process
  int master_port = 0;

  bool distributed() const { return world_size > 1; }
};

// From `env` (variable -> value). Throws std::invalid_argument naming the variable for a value
// that is not a number, a rank outside [0, world size), a local rank outside the local world, or
// a multi-process run without a master address or with a port outside 1..65535.
LaunchEnvironment launch_environment(const std::map<std::string, std::string>& env);
// The same from this process's environment.
LaunchEnvironment launch_environment_from_process();

}  // namespace terramind::training
