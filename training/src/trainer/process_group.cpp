// Process groups: a single process, or c10d (Gloo; NCCL when LibTorch was built with it) over a
// TCPStore at MASTER_ADDR:MASTER_PORT, rank 0 hosting it.
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstdlib>

#include "tm/launch_environment.h"
#include "tm/trainer.h"

namespace terramind::training {
namespace {

class SingleProcess : public ProcessGroup {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  std::string backend() const override { return "none"; }
  void all_reduce_sum(std::vector<at::Tensor>&) override {}
  std::function<void()> all_reduce_sum_start(at::Tensor) override {
    return [] {};
  }
  void broadcast(std::vector<at::Tensor>&, int) override {}
  void barrier() override {}
};

class C10dGroup : public ProcessGroup {
 public:
  C10dGroup(c10::intrusive_ptr<c10d::ProcessGroup> pg, std::string backend, int rank, int world,
            std::size_t bucket_bytes)
      : pg_(std::move(pg)),
        backend_(std::move(backend)),
        rank_(rank),
        world_(world),
        bucket_bytes_(bucket_bytes) {}
  int rank() const override { return rank_; }
  int world_size() const override { return world_; }
  std::string backend() const override { return backend_; }

  // Buckets of same-dtype tensors flattened into one buffer each; every bucket's all-reduce is
  // started before the first is waited for, so transfers overlap each other and the copies.
  void all_reduce_sum(std::vector<at::Tensor>& tensors) override {
    struct Bucket {
      std::vector<std::size_t> members;
      at::Tensor flat;
      c10::intrusive_ptr<c10d::Work> work;
    };
    std::vector<Bucket> buckets;
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const auto& t = tensors[i];
      const std::size_t size = t.numel() * t.element_size();
      if (buckets.empty() || bytes + size > bucket_bytes_ ||
          tensors[buckets.back().members.front()].scalar_type() != t.scalar_type()) {
        buckets.emplace_back();
        bytes = 0;
      }
      buckets.back().members.push_back(i);
      bytes += size;
    }
    for (auto& b : buckets) {
      std::vector<at::Tensor> parts;
      for (auto i : b.members) parts.push_back(tensors[i].reshape({-1}));
      b.flat = torch::cat(parts);
      std::vector<at::Tensor> one{b.flat};
      b.work = pg_->allreduce(one);
    }
    for (auto& b : buckets) {
      b.work->wait();
      int64_t offset = 0;
      for (auto i : b.members) {
        auto& t = tensors[i];
        t.copy_(b.flat.narrow(0, offset, t.numel()).view_as(t));
        offset += t.numel();
      }
    }
  }
  std::function<void()> all_reduce_sum_start(at::Tensor tensor) override {
    std::vector<at::Tensor> one{tensor};
    auto work = pg_->allreduce(one);
    return [work] { work->wait(); };
  }
  void broadcast(std::vector<at::Tensor>& tensors, int root) override {
    c10d::BroadcastOptions o;
    o.rootRank = root;
    for (auto& t : tensors) {
      std::vector<at::Tensor> one{t};
      pg_->broadcast(one, o)->wait();
    }
  }
  void barrier() override { pg_->barrier()->wait(); }

 private:
  c10::intrusive_ptr<c10d::ProcessGroup> pg_;
  std::string backend_;
  int rank_, world_;
  std::size_t bucket_bytes_;
};

}  // namespace

std::unique_ptr<ProcessGroup> single_process() { return std::make_unique<SingleProcess>(); }

std::unique_ptr<ProcessGroup> process_group_from_environment(const std::string& backend,
                                                             const std::string& device,
                                                             std::size_t bucket_bytes) {
  LaunchEnvironment env;
  try {
    env = launch_environment_from_process();
  } catch (const std::invalid_argument& e) {
    throw TrainingError(std::string("launch environment: ") + e.what());
  }
  if (!env.distributed()) return single_process();
  const bool cuda = device.rfind("cuda", 0) == 0;
  std::string chosen = backend == "auto" ? (cuda ? "nccl" : "gloo") : backend;
  if (chosen != "gloo" && chosen != "nccl")
    throw TrainingError("backend '" + backend + "': expected auto, gloo or nccl");
  c10d::TCPStoreOptions o;
  o.port = static_cast<std::uint16_t>(env.master_port);
  o.isServer = env.rank == 0;
  o.numWorkers = env.world_size;
  o.timeout = std::chrono::seconds(300);
  c10::intrusive_ptr<c10d::Store> store;
  try {
    store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
  } catch (const std::exception& e) {
    throw TrainingError("rank " + std::to_string(env.rank) + " (" + env.launcher +
                        "): cannot reach the rendezvous at " + env.master_addr + ":" +
                        std::to_string(env.master_port) + ": " + e.what());
  }
  if (chosen == "nccl") {
#ifdef USE_C10D_NCCL
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    auto pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, env.rank, env.world_size, opts);
    return std::make_unique<C10dGroup>(pg, "nccl", env.rank, env.world_size, bucket_bytes);
#else
    throw TrainingError(
        "backend nccl: this LibTorch was built without NCCL (a CPU build); use a CUDA LibTorch, "
        "or backend gloo");
#endif
  }
  auto opts = c10d::ProcessGroupGloo::Options::create();
  opts->timeout = std::chrono::seconds(300);
  // As torch.distributed: GLOO_SOCKET_IFNAME picks the interface; a loopback master means a
  // one-host run on loopback; else the address the host name resolves to.
  const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
  if (ifname && *ifname)
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  else if (env.master_addr == "127.0.0.1" || env.master_addr == "localhost")
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  else
    opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, env.rank, env.world_size, opts);
  return std::make_unique<C10dGroup>(pg, "gloo", env.rank, env.world_size, bucket_bytes);
}

}  // namespace terramind::training
