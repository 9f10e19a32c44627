// Data-parallel identity from the environments torchrun, srun and mpirun set.
#include <gtest/gtest.h>

#include "tm/launch_environment.h"

using namespace terramind::training;

namespace {

std::string error(const std::map<std::string, std::string>& env) {
  try {
    launch_environment(env);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(launch_environment, each_launcher_and_a_single_process) {
  const auto none = launch_environment({{"HOME", "/root"}});
  EXPECT_EQ(none.launcher, "none");
  EXPECT_FALSE(none.distributed());
  const auto torchrun = launch_environment({{"RANK", "3"},
                                            {"WORLD_SIZE", "8"},
                                            {"LOCAL_RANK", "1"},
                                            {"LOCAL_WORLD_SIZE", "2"},
                                            {"MASTER_ADDR", "node0"},
                                            {"MASTER_PORT", "29400"}});
  EXPECT_EQ(torchrun.launcher, "torchrun");
  EXPECT_EQ(torchrun.rank, 3);
  EXPECT_EQ(torchrun.world_size, 8);
  EXPECT_EQ(torchrun.local_rank, 1);
  EXPECT_EQ(torchrun.local_world_size, 2);
  EXPECT_EQ(torchrun.master_addr, "node0");
  EXPECT_EQ(torchrun.master_port, 29400);
  const auto slurm = launch_environment({{"SLURM_PROCID", "5"},
                                         {"SLURM_NTASKS", "8"},
                                         {"SLURM_LOCALID", "1"},
                                         {"SLURM_NTASKS_PER_NODE", "4(x2)"},
                                         {"SLURM_LAUNCH_NODE_IPADDR", "10.0.0.7"}});
  EXPECT_EQ(slurm.launcher, "slurm");
  EXPECT_EQ(slurm.rank, 5);
  EXPECT_EQ(slurm.local_world_size, 4);
  EXPECT_EQ(slurm.master_addr, "10.0.0.7");
  EXPECT_EQ(slurm.master_port, 29500);
  const auto mpi = launch_environment({{"OMPI_COMM_WORLD_RANK", "0"},
                                       {"OMPI_COMM_WORLD_SIZE", "2"},
                                       {"OMPI_COMM_WORLD_LOCAL_RANK", "0"},
                                       {"MASTER_ADDR", "127.0.0.1"},
                                       {"MASTER_PORT", "29501"}});
  EXPECT_EQ(mpi.launcher, "mpirun");
  EXPECT_EQ(mpi.world_size, 2);
  EXPECT_EQ(mpi.local_world_size, 2);
  // torchrun's variables win over Slurm's when srun runs torchrun.
  EXPECT_EQ(launch_environment(
                {{"RANK", "0"}, {"WORLD_SIZE", "1"}, {"SLURM_PROCID", "4"}, {"SLURM_NTASKS", "8"}})
                .launcher,
            "torchrun");
}

TEST(launch_environment, inconsistent_values_are_named) {
  EXPECT_NE(error({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "1"}})
                .find("RANK=2 is not below WORLD_SIZE=2"),
            std::string::npos);
  EXPECT_NE(error({{"RANK", "x"}, {"WORLD_SIZE", "2"}}).find("RANK='x' is not a non-negative"),
            std::string::npos);
  EXPECT_NE(error({{"RANK", "0"}}).find("WORLD_SIZE is not set"), std::string::npos);
  EXPECT_NE(error({{"RANK", "0"}, {"WORLD_SIZE", "2"}}).find("MASTER_ADDR is not set"),
            std::string::npos);
  EXPECT_NE(
      error({{"OMPI_COMM_WORLD_RANK", "0"}, {"OMPI_COMM_WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}})
          .find("MASTER_PORT is not set"),
      std::string::npos);
  EXPECT_NE(
      error({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}})
          .find("is not a port"),
      std::string::npos);
  EXPECT_NE(error({{"RANK", "0"},
                   {"WORLD_SIZE", "4"},
                   {"LOCAL_RANK", "2"},
                   {"LOCAL_WORLD_SIZE", "2"},
                   {"MASTER_ADDR", "h"},
                   {"MASTER_PORT", "5"}})
                .find("LOCAL_RANK=2 is not below the 2 processes of its node"),
            std::string::npos);
  EXPECT_EQ(error({{"RANK", "0"}, {"WORLD_SIZE", "1"}}), "") << "one process needs no master";
}
