#include "core/huge_buffer.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"

namespace pocketllm {

namespace {
constexpr size_t kHuge = size_t{2} << 20;
}

HugeBuffer::HugeBuffer(size_t bytes) {
  if (bytes == 0) return;
  const size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
  // Map one huge page more than needed and trim, so the buffer starts on a 2 MiB boundary.
  void* p = mmap(nullptr, rounded + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fail("cannot allocate {} bytes: {}", bytes, std::strerror(errno));
  auto* base = static_cast<uint8_t*>(p);
  auto* aligned = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(base) + kHuge - 1) / kHuge * kHuge);
  if (aligned > base) munmap(base, static_cast<size_t>(aligned - base));
  const size_t tail = static_cast<size_t>(base + rounded + kHuge - (aligned + rounded));
  if (tail) munmap(aligned + rounded, tail);
#ifdef MADV_HUGEPAGE
  madvise(aligned, rounded, MADV_HUGEPAGE);  // a hint: without THP the buffer simply uses 4 KiB pages
#endif
  data_ = aligned;
  size_ = bytes;
  mapped_ = rounded;
}

HugeBuffer::~HugeBuffer() {
  if (data_) munmap(data_, mapped_);
}

HugeBuffer& HugeBuffer::operator=(HugeBuffer&& o) noexcept {
  if (this != &o) {
    if (data_) munmap(data_, mapped_);
    data_ = o.data_;
    size_ = o.size_;
    mapped_ = o.mapped_;
    o.data_ = nullptr;
    o.size_ = o.mapped_ = 0;
  }
  return *this;
}

uint8_t* HugeArena::alloc(size_t bytes) {
  bytes = (bytes + 63) / 64 * 64;
  if (bytes > left_) {
    chunks_.emplace_back(std::max(chunk_, bytes));
    next_ = chunks_.back().data();
    left_ = chunks_.back().size();
  }
  uint8_t* p = next_;
  next_ += bytes;
  left_ -= bytes;
  used_ += bytes;
  return p;
}

void* map_zero_pages(size_t bytes) {
  if (bytes == 0) bytes = 1;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return p;
}

void unmap_pages(void* p, size_t bytes) {
  if (p) munmap(p, bytes == 0 ? 1 : bytes);
}

void prefault_read(const void* p, size_t n) {
#ifdef MADV_POPULATE_READ
  const uintptr_t page = 4096, b = reinterpret_cast<uintptr_t>(p) / page * page;
  madvise(reinterpret_cast<void*>(b), reinterpret_cast<uintptr_t>(p) + n - b, MADV_POPULATE_READ);
#else
  (void)p, (void)n;
#endif
}

void split_parallel(int64_t n, int64_t min_share, const std::function<void(int64_t, int64_t)>& f, int max_threads) {
  static const int physical = default_thread_count();
  if (n <= 0) return;
  const int64_t cores = max_threads > 0 ? max_threads : physical;
  const int64_t n_threads = std::min(cores, std::max<int64_t>(1, n / std::max<int64_t>(min_share, 1)));
  if (n_threads <= 1) return f(0, n);
  std::vector<std::exception_ptr> errors(static_cast<size_t>(n_threads));
  auto share = [&](int64_t i) {
    try {
      const auto [b, e] = ThreadPool::split(n, static_cast<int>(i), static_cast<int>(n_threads));
      f(b, e);
    } catch (...) {
      errors[static_cast<size_t>(i)] = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  for (int64_t i = 1; i < n_threads; ++i) threads.emplace_back(share, i);
  share(0);
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

void copy_parallel(uint8_t* dst, const uint8_t* src, size_t n, int max_threads) {
  if (n == 0) return;  // memcpy wants valid pointers even for 0 bytes
  // Shares of whole 4 KiB pages, at least 4 MiB each.
  const int64_t pages = static_cast<int64_t>((n + 4095) / 4096);
  split_parallel(
      pages, 1024,
      [&](int64_t b, int64_t e) {
        const size_t from = static_cast<size_t>(b) * 4096, to = std::min(n, static_cast<size_t>(e) * 4096);
        std::memcpy(dst + from, src + from, to - from);
      },
      max_threads);
}

bool transparent_huge_pages_enabled() {
  static const bool enabled = [] {
    std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
    std::string s;
    std::getline(f, s);
    return s.find("[always]") != std::string::npos || s.find("[madvise]") != std::string::npos;
  }();
  return enabled;
}

}  // namespace pocketllm
