// Threads that run complete requests: started on demand (a new one only when
// none is idle) up to a cap; items beyond the cap wait in a queue.
#pragma once
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace pocketllm::server::http {

template <class Item>
class WorkerPool {
 public:
  WorkerPool(size_t max_threads, std::function<void(Item)> work)
      : max_threads_(max_threads < 1 ? 1 : max_threads), work_(std::move(work)) {}
  ~WorkerPool() { join(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void submit(Item item) {
    std::lock_guard<std::mutex> lk(mu_);
    queue_.push_back(std::move(item));
    if (idle_ < queue_.size() && threads_.size() < max_threads_) threads_.emplace_back([this] { loop(); });
    cv_.notify_one();
  }

  // Runs what is queued, then ends every thread.
  void join() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      ++idle_;
      cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
      --idle_;
      if (queue_.empty()) return;  // stopping
      Item item = std::move(queue_.front());
      queue_.pop_front();
      lk.unlock();
      work_(std::move(item));
      lk.lock();
    }
  }

  const size_t max_threads_;
  std::function<void(Item)> work_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  std::vector<std::thread> threads_;
  size_t idle_ = 0;
  bool stop_ = false;
};

}  // namespace pocketllm::server::http
