// Memory read bandwidth probe: the ceiling a memory-bound decode step can reach.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/huge_buffer.h"

namespace pocketllm::bench {

class ReadBandwidthProbe {
 public:
  // A buffer of `bytes` (rounded up to 4 KiB; huge pages when granted), touched once so pages are resident.
  explicit ReadBandwidthProbe(size_t bytes = size_t{1} << 30);
  ReadBandwidthProbe(const ReadBandwidthProbe&) = delete;
  ReadBandwidthProbe& operator=(const ReadBandwidthProbe&) = delete;

  // Reads the whole buffer with n_threads threads, each a contiguous share, once
  // as one stream and once as two streams in lockstep (vector loads), and returns
  // the faster in bytes/second.
  double measure(int n_threads);
  size_t bytes() const { return buffer_.size(); }
  // "avx512", "avx2" or "scalar": the loads measure() uses on this CPU.
  static std::string isa();

 private:
  using Reader = uint64_t (*)(const uint8_t*, size_t);
  double measure_with(Reader reader, int n_threads);
  HugeBuffer buffer_;
  volatile uint64_t sink_ = 0;  // keeps the reads from being optimized away
};

double median(std::vector<double> v);

}  // namespace pocketllm::bench
