#include "consort/common/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace consort {
namespace {

TEST(ParallelFor, CoversEveryIndexOnceWithDistinctWorkers) {
  for (int threads : {1, 2, 3, 8}) {
    for (size_t n : {0u, 1u, 5u, 1000u}) {
      std::vector<std::atomic<int>> seen(n);
      std::vector<std::atomic<int>> by_worker(threads);
      Status st = ParallelFor(n, threads, [&](size_t b, size_t e, int w) {
        for (size_t i = b; i < e; ++i) seen[i]++;
        by_worker[w]++;
        return OkStatus();
      });
      ASSERT_TRUE(st.ok());
      for (size_t i = 0; i < n; ++i) EXPECT_EQ(seen[i], 1) << "n " << n << " threads " << threads;
      for (int w = 0; w < threads; ++w) EXPECT_LE(by_worker[w], 1);
    }
  }
}

TEST(ParallelFor, ReturnsTheFirstWorkersErrorAfterAllFinished) {
  std::atomic<int> finished{0};
  Status st = ParallelFor(100, 4, [&](size_t, size_t, int w) -> Status {
    finished++;
    if (w == 1) return absl::DataLossError("worker 1");
    if (w == 3) return absl::InternalError("worker 3");
    return OkStatus();
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(finished, 4);
}

}  // namespace
}  // namespace consort
