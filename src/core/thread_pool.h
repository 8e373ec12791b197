// A fixed pool of worker threads for data-parallel loops. The caller's thread
// takes part as thread 0, so a pool of 1 runs everything inline. Work is split
// into static contiguous ranges, so results never depend on scheduling.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
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

  // Calls fn(thread_index, n_threads) once on every thread and waits for all.
  void run(const std::function<void(int, int)>& fn);

  // The contiguous share [begin, end) of [0, n) that thread ti of nt gets.
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
  void worker(int index);

  int n_threads_;
  std::vector<std::thread> threads_;
  const std::function<void(int, int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
};

// Physical cores of this machine (SMT siblings counted once); at least 1.
int physical_core_count();

}  // namespace pocketllm
