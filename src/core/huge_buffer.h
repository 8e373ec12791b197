// Anonymous memory for large read-mostly buffers (weights read into memory, the
// bandwidth probe), 2 MiB aligned and advised for transparent huge pages: a
// stream over 4 KiB pages takes a TLB miss per page, which costs much more under
// virtualization (shadow or nested page tables) and caps the read bandwidth.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace pocketllm {

class HugeBuffer {
 public:
  HugeBuffer() = default;
  explicit HugeBuffer(size_t bytes);  // zero-filled (lazily, by the kernel); throws Error when out of memory
  ~HugeBuffer();
  HugeBuffer(HugeBuffer&& o) noexcept : data_(o.data_), size_(o.size_), mapped_(o.mapped_) {
    o.data_ = nullptr;
    o.size_ = o.mapped_ = 0;
  }
  HugeBuffer& operator=(HugeBuffer&& o) noexcept;
  HugeBuffer(const HugeBuffer&) = delete;
  HugeBuffer& operator=(const HugeBuffer&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t mapped_ = 0;  // bytes of the mapping (size rounded up to 2 MiB, plus alignment slack)
};

// Bump allocation of many buffers (the weight matrices of a model) from a few
// HugeBuffers, so small matrices share huge pages instead of each rounding up to
// 2 MiB. Memory lives until the arena does: holders keep a shared_ptr to it.
class HugeArena {
 public:
  explicit HugeArena(size_t chunk_bytes = size_t{64} << 20) : chunk_(chunk_bytes) {}
  uint8_t* alloc(size_t bytes);  // 64-byte aligned; throws Error when out of memory
  size_t used() const { return used_; }

 private:
  size_t chunk_, used_ = 0, left_ = 0;
  uint8_t* next_ = nullptr;
  std::vector<HugeBuffer> chunks_;
};

// Maps the pages of [p, p + n) for reading in one call where the kernel can
// (MADV_POPULATE_READ), instead of one page fault per 4 KiB; a hint only.
void prefault_read(const void* p, size_t n);

// memcpy split over the machine's cores for large n: copying into fresh huge
// pages is bound by the kernel zeroing them on first touch, one core at a time.
void copy_parallel(uint8_t* dst, const uint8_t* src, size_t n, int max_threads = 0);  // 0: physical cores

// f(begin, end) over contiguous parts of [0, n), on up to the machine's cores
// (threads started for the call: for load-time work such as filling fresh pages,
// where no thread pool exists yet), none smaller than min_share unless n is.
void split_parallel(int64_t n, int64_t min_share, const std::function<void(int64_t, int64_t)>& f,
                    int max_threads = 0);  // 0: physical cores

// Pages straight from the kernel (zero until written) for large scratch vectors.
void* map_zero_pages(size_t bytes);  // throws std::bad_alloc
void unmap_pages(void* p, size_t bytes);

// An allocator for large scratch vectors (a batch's activations): fresh memory
// is the kernel's zero pages and resize() does not write it, so only the rows a
// batch uses become resident. Growing again after a shrink keeps the old values
// instead of zeros: use it for buffers that are sized once and then overwritten.
template <class T>
struct LazyZeroAllocator {
  using value_type = T;
  LazyZeroAllocator() = default;
  template <class U>
  LazyZeroAllocator(const LazyZeroAllocator<U>&) noexcept {}
  T* allocate(size_t n) { return static_cast<T*>(map_zero_pages(n * sizeof(T))); }
  void deallocate(T* p, size_t n) noexcept { unmap_pages(p, n * sizeof(T)); }
  template <class U>
  void construct(U*) noexcept {}  // value-initialization: the pages are zero already
  template <class U, class... A>
  void construct(U* p, A&&... a) {
    ::new (static_cast<void*>(p)) U(std::forward<A>(a)...);
  }
  bool operator==(const LazyZeroAllocator&) const noexcept { return true; }
};
template <class T>
using LazyZeroVector = std::vector<T, LazyZeroAllocator<T>>;

// Whether the kernel hands out transparent huge pages for madvise'd memory
// (/sys/kernel/mm/transparent_hugepage/enabled is "always" or "madvise").
bool transparent_huge_pages_enabled();

}  // namespace pocketllm
