// The thread pool: every index of a parallel_for runs exactly once, results are
// visible to the caller when run() returns, and pools are created and destroyed
// cleanly. Small and fast, so the TSan stage of CI can run it many times.
#include <gtest/gtest.h>

#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
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

TEST(ThreadPool, RunCallsEveryShareOnce) {
  ThreadPool pool(3);
  ASSERT_EQ(pool.size(), 3);
  for (int round = 0; round < 100; ++round) {
    std::vector<int> seen(3, 0);
    pool.run([&](int ti, int nt) {
      ASSERT_EQ(nt, 3);
      seen[static_cast<size_t>(ti)] += 1;  // one thread runs a share: no race on its entry
    });
    EXPECT_EQ(seen, std::vector<int>({1, 1, 1}));
  }
}

#if !defined(__SANITIZE_THREAD__)  // TSan defers signals: the worker would not stop where this test needs it
namespace {
std::atomic<bool> g_release{false};
std::atomic<int> g_stopped{0};
void hold_thread(int) {  // a worker "preempted" by another process: it does not run until released
  g_stopped.fetch_add(1);
  while (!g_release.load()) usleep(1000);
}
}  // namespace

// A worker that does not get a core (another process holds it) must not hold up the
// job: the caller takes its share. The pool used to wait for every worker each job.
TEST(ThreadPool, AStalledWorkerDoesNotHoldUpTheCaller) {
  ThreadPool pool(2);
  std::vector<int> hits(1000, 0);
  pool.parallel_for(1000, [&](int64_t b, int64_t e) { for (int64_t i = b; i < e; ++i) hits[i]++; });
  struct sigaction sa {}, old {};
  sa.sa_handler = hold_thread;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(SIGUSR2, &sa, &old), 0);
  g_release = false;
  g_stopped = 0;
  // Stop every thread of this process but this one (the pool's worker).
  const pid_t self = static_cast<pid_t>(syscall(SYS_gettid));
  int sent = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) {
      const int tid = atoi(e->d_name);
      if (tid > 0 && tid != self && syscall(SYS_tgkill, getpid(), tid, SIGUSR2) == 0) ++sent;
    }
    closedir(d);
  }
  ASSERT_GE(sent, 1);
  for (int i = 0; i < 5000 && g_stopped.load() < sent; ++i) usleep(1000);
  ASSERT_EQ(g_stopped.load(), sent);
  // Release them after 5 s whatever happens, so the old behaviour shows as slowness, not a hang.
  std::thread watchdog([] {
    for (int i = 0; i < 5000 && !g_release.load(); ++i) usleep(1000);
    g_release = true;
  });
  const auto t0 = std::chrono::steady_clock::now();
  for (int round = 0; round < 100; ++round)
    pool.parallel_for(1000, [&](int64_t b, int64_t e) { for (int64_t i = b; i < e; ++i) hits[i]++; });
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  g_release = true;
  watchdog.join();
  sigaction(SIGUSR2, &old, nullptr);
  EXPECT_LT(ms, 2000.0) << "100 jobs waited for the stopped worker";
  for (int h : hits) ASSERT_EQ(h, 101);
}
#endif

// A share that throws (bad input found by a worker, e.g. a NaN weight) makes run()
// throw that exception once every share has finished, whichever thread ran it,
// instead of ending the process; the pool keeps working.
TEST(ThreadPool, AShareThatThrowsMakesRunThrowAndThePoolGoesOn) {
  ThreadPool pool(4);
  for (int i = 0; i < 200; ++i) {
    std::atomic<int> ran{0};
    EXPECT_THROW(pool.run([&](int k, int) {
      ++ran;
      if (k == 3) throw std::runtime_error("share 3");
    }),
                 std::runtime_error);
    EXPECT_EQ(ran.load(), 4) << "run() returned before every share ran";
  }
  std::atomic<int64_t> sum{0};
  pool.parallel_for(100, [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j) sum += j;
  });
  EXPECT_EQ(sum.load(), 4950);
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

// The default thread count follows the CPUs this process may use (taskset, cpusets),
// not every CPU of the machine.
TEST(ThreadPool, CoreCountFollowsTheAffinityMask) {
  cpu_set_t all, one;
  ASSERT_EQ(sched_getaffinity(0, sizeof all, &all), 0);
  if (CPU_COUNT(&all) < 2 || physical_core_count() < 2) GTEST_SKIP() << "needs two cores to restrict to one";
  int first = 0;
  while (!CPU_ISSET(first, &all)) ++first;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  const int n = physical_core_count();
  ASSERT_EQ(sched_setaffinity(0, sizeof all, &all), 0);
  EXPECT_EQ(n, 1);
}
