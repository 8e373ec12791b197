#include "core/thread_pool.h"

#include <fstream>
#include <set>
#include <string>

#if defined(__x86_64__)
#include <immintrin.h>
#define POCKETLLM_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define POCKETLLM_PAUSE() asm volatile("yield")
#else
#define POCKETLLM_PAUSE() ((void)0)
#endif

namespace pocketllm {

namespace {
// Workers spin this many rounds for the next job before sleeping: decode issues
// hundreds of small jobs per token and a futex wake costs more than the job.
constexpr int kSpinRounds = 20000;
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lk(mu_);
    stop_.store(true);
    generation_.fetch_add(1);
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  if (n_threads_ == 1) {
    fn(0, 1);
    return;
  }
  job_ = &fn;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  {
    std::lock_guard lk(mu_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  cv_.notify_all();
  fn(0, n_threads_);
  // Spin briefly, then yield: when the machine is oversubscribed the workers
  // need this core to finish their share.
  for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
    if (spin < kSpinRounds) POCKETLLM_PAUSE();
    else std::this_thread::yield();
  }
  job_ = nullptr;
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t g = generation_.load(std::memory_order_acquire);
    for (int spin = 0; g == seen && spin < kSpinRounds; ++spin) {
      if (spin % 1024 == 1023) std::this_thread::yield();
      else POCKETLLM_PAUSE();
      g = generation_.load(std::memory_order_acquire);
    }
    if (g == seen) {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      g = generation_.load(std::memory_order_acquire);
    }
    seen = g;
    if (stop_.load()) return;
    (*job_)(index, n_threads_);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

int physical_core_count() {
  std::set<std::pair<std::string, std::string>> cores;
  unsigned n = std::thread::hardware_concurrency();
  for (unsigned i = 0; i < n; ++i) {
    std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(i) + "/topology/";
    std::ifstream pk(base + "physical_package_id"), co(base + "core_id");
    std::string p, c;
    if (!(pk >> p) || !(co >> c)) return n ? static_cast<int>(n) : 1;
    cores.insert({p, c});
  }
  return cores.empty() ? 1 : static_cast<int>(cores.size());
}

}  // namespace pocketllm
