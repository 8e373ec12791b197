#include "core/thread_pool.h"

#include <sched.h>

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
// An idle worker spins this many rounds for the next job before it sleeps: decode
// issues hundreds of small jobs per token and a futex wake costs more than a job.
// It yields the core every kYieldEvery rounds, so on a shared core the thread with
// work (ours or another process's) gets it.
constexpr int kIdleSpins = 20000;
constexpr int kYieldEvery = 256;
// The caller, its own shares done, spins this long for shares other threads still
// run, then yields: a worker that was preempted mid-share needs a core to finish.
constexpr int kWaitSpins = 2000;
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this] { worker(); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  generation_.fetch_add(1);
  {
    std::lock_guard lk(mu_);
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::run_shares() {
  for (int k; (k = next_share_.fetch_add(1, std::memory_order_acq_rel)) < n_threads_;) {
    try {
      (*job_)(k, n_threads_);
    } catch (...) {  // a worker must not die of it, nor the caller leave while shares still run
      std::lock_guard lk(error_mu_);
      if (!error_) error_ = std::current_exception();
    }
    done_shares_.fetch_add(1, std::memory_order_release);
  }
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  if (n_threads_ == 1) {
    fn(0, 1);
    return;
  }
  // A claim that reads the reset counter sees job_ and the reset done count (release/acquire);
  // a worker still looping on the previous job can only claim shares of this one, which is fine.
  job_ = &fn;
  done_shares_.store(0, std::memory_order_relaxed);
  next_share_.store(0, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {  // seq_cst pairs with the sleeper's (no lost wake-up)
    { std::lock_guard lk(mu_); }
    cv_.notify_all();
  }
  run_shares();
  for (int spin = 0; done_shares_.load(std::memory_order_acquire) != n_threads_; ++spin) {
    if (spin < kWaitSpins) POCKETLLM_PAUSE();
    else std::this_thread::yield();
  }
  job_ = nullptr;
  if (error_) {  // every share has finished: the first error is the job's
    std::exception_ptr e;
    std::swap(e, error_);
    std::rethrow_exception(e);
  }
}

void ThreadPool::worker() {
  // A worker may start after jobs (or the destructor) have run: it only waits for a
  // generation it has not seen, and the stop flag ends any wait.
  uint64_t seen = generation_.load(std::memory_order_acquire);
  for (;;) {
    uint64_t g = generation_.load(std::memory_order_acquire);
    for (int spin = 1; g == seen && spin <= kIdleSpins && !stop_.load(std::memory_order_relaxed); ++spin) {
      if (spin % kYieldEvery == 0) std::this_thread::yield();
      else POCKETLLM_PAUSE();
      g = generation_.load(std::memory_order_acquire);
    }
    if (g == seen && !stop_.load()) {
      std::unique_lock lk(mu_);
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      cv_.wait(lk, [&] { return stop_.load() || generation_.load(std::memory_order_seq_cst) != seen; });
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      g = generation_.load(std::memory_order_acquire);
    }
    if (stop_.load()) return;
    seen = g;
    run_shares();  // often nothing left: the caller and the other workers took every share
  }
}

namespace {
// CPUs this process may run on: its affinity mask (taskset, cpusets), else every online one.
std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int i = 0; i < CPU_SETSIZE; ++i)
      if (CPU_ISSET(i, &set)) cpus.push_back(i);
  }
  if (cpus.empty())
    for (unsigned i = 0, n = std::thread::hardware_concurrency(); i < n; ++i) cpus.push_back(static_cast<int>(i));
  return cpus;
}

// A cgroup v2 CPU quota ("200000 100000" in cpu.max = 2 CPUs' worth), rounded up; 0 when none.
int cgroup_cpu_limit() {
  std::ifstream f("/sys/fs/cgroup/cpu.max");
  std::string quota;
  long long period = 0;
  if (!(f >> quota >> period) || quota == "max" || period <= 0) return 0;
  try {
    const long long q = std::stoll(quota);
    return q > 0 ? static_cast<int>((q + period - 1) / period) : 0;
  } catch (const std::exception&) {
    return 0;
  }
}
}  // namespace

int physical_core_count() {
  const std::vector<int> cpus = allowed_cpus();
  std::set<std::pair<std::string, std::string>> cores;
  for (int i : cpus) {
    const std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(i) + "/topology/";
    std::ifstream pk(base + "physical_package_id"), co(base + "core_id");
    std::string p, c;
    if (!(pk >> p) || !(co >> c)) {  // no topology (some containers, Android): count CPUs
      cores.clear();
      for (int j : cpus) cores.insert({"", std::to_string(j)});
      break;
    }
    cores.insert({p, c});
  }
  int n = cores.empty() ? 1 : static_cast<int>(cores.size());
  if (const int limit = cgroup_cpu_limit(); limit > 0 && limit < n) n = limit;
  return n;
}

int default_thread_count() {
  static const int n = physical_core_count();
  return n;
}

}  // namespace pocketllm
