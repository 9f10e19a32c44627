// GradientSync (internal to tm_trainer): buckets start in order during backward, unused
// parameters reduce as zeros, only the armed backward starts reductions.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "gradient_sync.h"

using namespace terramind::training;

namespace {

// A "world" whose other rank contributed the same gradients: the sum doubles every value.
// Records the order in which reductions start and when they are waited for.
class RecordingGroup : public ProcessGroup {
 public:
  std::vector<int64_t> started;  // numel of each started reduction, in order
  int waited = 0;
  int rank() const override { return 0; }
  int world_size() const override { return 2; }
  std::string backend() const override { return "recording"; }
  void all_reduce_sum(std::vector<at::Tensor>& tensors) override {
    for (auto& t : tensors) t.mul_(2);
  }
  std::function<void()> all_reduce_sum_start(at::Tensor tensor) override {
    started.push_back(tensor.numel());
    return [this, tensor]() mutable {
      tensor.mul_(2);
      ++waited;
    };
  }
  void broadcast(std::vector<at::Tensor>&, int) override {}
  void barrier() override {}
};

struct Chain {
  // y = w3 * (w2 * (w1 * x)); `unused` never takes part.
  at::Tensor w1 = torch::full({256}, 1.0, torch::requires_grad());
  at::Tensor w2 = torch::full({256}, 2.0, torch::requires_grad());
  at::Tensor w3 = torch::full({256}, 3.0, torch::requires_grad());
  at::Tensor unused = torch::full({256}, 4.0, torch::requires_grad());
  std::vector<at::Tensor> params() const { return {w1, w2, w3, unused}; }
  at::Tensor loss() const { return (w3 * (w2 * (w1 * torch::ones({256})))).sum(); }
};

}  // namespace

TEST(gradient_sync, buckets_start_during_backward_in_order_and_sum) {
  Chain c;
  RecordingGroup group;
  // 1 KiB buckets: one parameter (256 floats) each, the last registered first.
  GradientSync sync(group, c.params(), 1024);
  ASSERT_EQ(sync.buckets(), 4u);
  sync.arm();
  c.loss().backward();
  // unused (bucket 0) never becomes ready, so nothing could start before finish().
  EXPECT_TRUE(group.started.empty());
  EXPECT_EQ(sync.started_during_backward(), 0u);
  sync.finish();
  EXPECT_EQ(group.started.size(), 4u);
  EXPECT_EQ(group.waited, 4);
  EXPECT_TRUE(at::allclose(c.w1.grad(), torch::full({256}, 2.0 * 6)));  // d/dw1 = w2 w3 = 6
  EXPECT_TRUE(at::allclose(c.w3.grad(), torch::full({256}, 2.0 * 2)));  // d/dw3 = w1 w2 = 2
  EXPECT_TRUE(at::equal(c.unused.grad(), torch::zeros({256})));
}

TEST(gradient_sync, reductions_overlap_backward_when_every_parameter_is_reached) {
  Chain c;
  RecordingGroup group;
  std::vector<at::Tensor> used{c.w1, c.w2, c.w3};
  GradientSync sync(group, used, 1024);
  sync.arm();
  c.loss().backward();
  // Backward reached w3's bucket (0) first; every bucket was ready before finish().
  EXPECT_EQ(group.started.size(), 3u);
  EXPECT_EQ(sync.started_during_backward(), 3u);
  EXPECT_EQ(group.waited, 0);
  sync.finish();
  EXPECT_EQ(group.waited, 3);
  EXPECT_TRUE(at::allclose(c.w2.grad(), torch::full({256}, 2.0 * 3)));
}

TEST(gradient_sync, only_the_armed_backward_reduces_and_finish_without_backward_works) {
  Chain c;
  RecordingGroup group;
  std::vector<at::Tensor> used{c.w1, c.w2, c.w3};
  GradientSync sync(group, used, 1 << 20);  // one bucket
  c.loss().backward();  // an earlier micro-batch: accumulates, starts nothing
  EXPECT_TRUE(group.started.empty());
  sync.arm();
  c.loss().backward();
  sync.finish();
  ASSERT_EQ(group.started.size(), 1u);
  EXPECT_TRUE(at::allclose(c.w1.grad(), torch::full({256}, 2.0 * 12)));  // 2 micro-batches, x2
  // A step whose last micro-batch had nothing to predict: finish() without arm() or backward.
  for (auto& p : used) p.mutable_grad().zero_();
  sync.finish();
  EXPECT_EQ(group.started.size(), 2u);
  EXPECT_TRUE(at::equal(c.w1.grad(), torch::zeros({256})));
}
