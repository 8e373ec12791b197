// The thread pool: every index of a parallel_for runs exactly once, results are
// visible to the caller when run() returns, and pools are created and destroyed
// cleanly. Small and fast, so the TSan stage of CI can run it many times.
#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "core/thread_pool.h"

using namespace pocketllm;

TEST(ThreadPool, SplitCoversTheRangeContiguously) {
  for (int64_t n : {0, 1, 5, 7, 64, 1001})
    for (int nt : {1, 2, 3, 8}) {
      int64_t next = 0;
      for (int ti = 0; ti < nt; ++ti) {
        auto [b, e] = ThreadPool::split(n, ti, nt);
        EXPECT_EQ(b, next) << n << " " << ti << "/" << nt;
        EXPECT_LE(e - b, n / nt + 1);
        next = e;
      }
      EXPECT_EQ(next, n);
    }
}

TEST(ThreadPool, EveryIndexRunsOnceAndWritesAreVisible) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    std::vector<int> hits(997, 0);  // plain ints: run() must publish them to this thread
    for (int round = 0; round < 200; ++round)
      pool.parallel_for(static_cast<int64_t>(hits.size()), [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)] += 1;
      });
    for (size_t i = 0; i < hits.size(); ++i) ASSERT_EQ(hits[i], 200) << i << " with " << threads << " threads";
  }
}

TEST(ThreadPool, RunCallsEveryThreadOnceWithItsIndex) {
  ThreadPool pool(3);
  ASSERT_EQ(pool.size(), 3);
  for (int round = 0; round < 100; ++round) {
    std::vector<int> seen(3, 0);
    pool.run([&](int ti, int nt) {
      ASSERT_EQ(nt, 3);
      seen[static_cast<size_t>(ti)] += 1;  // each thread writes its own entry
    });
    EXPECT_EQ(seen, std::vector<int>({1, 1, 1}));
  }
}

TEST(ThreadPool, IdlePoolsShutDownAndUsedOnesToo) {
  for (int i = 0; i < 20; ++i) {
    ThreadPool idle(2);  // destroyed without ever running a job
  }
  std::atomic<int> total{0};
  for (int i = 0; i < 20; ++i) {
    ThreadPool pool(2);
    pool.run([&](int, int) { total.fetch_add(1); });
  }
  EXPECT_EQ(total.load(), 40);
}

TEST(ThreadPool, PhysicalCoreCountIsPositive) { EXPECT_GE(physical_core_count(), 1); }
