// A fixed pool of worker threads for data-parallel loops. A job is split into
// n_threads shares (fn(share, n_shares)); the caller and the workers claim shares
// from a counter, so a share always does the same work and results never depend
// on scheduling, but no thread waits for one that has not started: when another
// process holds a core (a phone's cores are always shared), the threads that do
// run take the shares of the one that does not. A pool of 1 runs everything inline.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace pocketllm {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(share, n_threads) once for every share in [0, n_threads), each on
  // whichever thread claims it (thread_local scratch is fine, the share index is
  // not a thread id), and returns when all are done; if shares threw, it then
  // rethrows the first exception (on any thread: a worker's is not lost).
  void run(const std::function<void(int, int)>& fn);

  // The contiguous part [begin, end) of [0, n) that share ti of nt gets.
  static std::pair<int64_t, int64_t> split(int64_t n, int ti, int nt) {
    const int64_t base = n / nt, rem = n % nt;
    const int64_t b = ti * base + std::min<int64_t>(ti, rem);
    return {b, b + base + (ti < rem ? 1 : 0)};
  }

  // f(begin, end) over a static split of [0, n).
  template <class F>
  void parallel_for(int64_t n, F&& f) {
    if (n <= 0) return;
    if (n_threads_ == 1 || n == 1) {
      f(int64_t{0}, n);
      return;
    }
    run([&](int ti, int nt) {
      auto [b, e] = split(n, ti, nt);
      if (b < e) f(b, e);
    });
  }

 private:
  void worker();
  void run_shares();  // claims and runs shares of the current job until none is left

  int n_threads_;
  std::vector<std::thread> threads_;
  const std::function<void(int, int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};  // bumped once per job
  std::atomic<int> next_share_{0};       // next unclaimed share of the current job
  std::atomic<int> done_shares_{0};
  std::atomic<int> sleepers_{0};         // workers blocked on cv_ (the caller wakes them only then)
  std::atomic<bool> stop_{false};
  std::mutex error_mu_;
  std::exception_ptr error_;  // the first exception a share of the current job threw (run() rethrows it)
  std::mutex mu_;
  std::condition_variable cv_;
};

// Physical cores (SMT siblings counted once) of the CPUs this process may run on
// (its affinity mask, and a cgroup CPU quota when one is set); at least 1.
int physical_core_count();

// The thread count commands use when -t is not given: physical_core_count().
int default_thread_count();

}  // namespace pocketllm
