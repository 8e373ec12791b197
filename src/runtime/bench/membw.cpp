#include "runtime/bench/membw.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "core/error.h"

namespace pocketllm::bench {
namespace {

constexpr size_t kAlign = 4096;

// Each reader sums 64-byte lines in several independent accumulators so the
// loop is bound by loads, not by the add latency. It reads its share as S
// streams in lockstep (S equal parts): which S draws the most bandwidth from a
// core depends on the CPU (Zen 5: two streams ~20% more; Zen 4: one stream ~40%
// more), so measure() tries both and keeps the faster: a ceiling is the best
// the memory system gives, whatever the pattern.
#if defined(__x86_64__)
template <int S>
__attribute__((target("avx512f"))) uint64_t read_avx512(const uint8_t* p, size_t n) {
  __m512i a[2 * S];
  for (auto& v : a) v = _mm512_setzero_si512();
  const size_t part = n / S / 128 * 128;
  for (size_t i = 0; i + 128 <= part; i += 128)
    for (int s = 0; s < S; ++s) {
      a[2 * s] = _mm512_xor_si512(a[2 * s], _mm512_load_si512(p + s * part + i));
      a[2 * s + 1] = _mm512_xor_si512(a[2 * s + 1], _mm512_load_si512(p + s * part + i + 64));
    }
  __m512i x = a[0];
  for (int k = 1; k < 2 * S; ++k) x = _mm512_xor_si512(x, a[k]);
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, x);
  uint64_t r = 0;
  for (uint64_t v : lanes) r ^= v;
  return r;
}

template <int S>
__attribute__((target("avx2"))) uint64_t read_avx2(const uint8_t* p, size_t n) {
  __m256i a[2 * S];
  for (auto& v : a) v = _mm256_setzero_si256();
  const size_t part = n / S / 64 * 64;
  for (size_t i = 0; i + 64 <= part; i += 64)
    for (int s = 0; s < S; ++s) {
      a[2 * s] = _mm256_xor_si256(a[2 * s], _mm256_load_si256(reinterpret_cast<const __m256i*>(p + s * part + i)));
      a[2 * s + 1] = _mm256_xor_si256(a[2 * s + 1], _mm256_load_si256(reinterpret_cast<const __m256i*>(p + s * part + i + 32)));
    }
  __m256i x = a[0];
  for (int k = 1; k < 2 * S; ++k) x = _mm256_xor_si256(x, a[k]);
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), x);
  return lanes[0] ^ lanes[1] ^ lanes[2] ^ lanes[3];
}

#endif

template <int S>
uint64_t read_scalar(const uint8_t* p, size_t n) {
  uint64_t a[2 * S] = {};
  const size_t part = n / S / 16 * 16;
  for (size_t i = 0; i + 16 <= part; i += 16)
    for (int s = 0; s < S; ++s) {
      uint64_t w[2];
      std::memcpy(w, p + s * part + i, 16);
      a[2 * s] ^= w[0], a[2 * s + 1] ^= w[1];
    }
  uint64_t x = 0;
  for (uint64_t v : a) x ^= v;
  return x;
}

using Reader = uint64_t (*)(const uint8_t*, size_t);
struct Readers {
  Reader one_stream, two_streams;
};

Readers pick_readers() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return {read_avx512<1>, read_avx512<2>};
  if (__builtin_cpu_supports("avx2")) return {read_avx2<1>, read_avx2<2>};
#endif
  return {read_scalar<1>, read_scalar<2>};  // other CPUs: 64-bit loads the compiler vectorizes
}

}  // namespace

ReadBandwidthProbe::ReadBandwidthProbe(size_t bytes)
    : buffer_((std::max<size_t>(bytes, kAlign) + kAlign - 1) / kAlign * kAlign) {
  uint8_t* data = buffer_.data();
  for (size_t i = 0; i < buffer_.size(); ++i) data[i] = static_cast<uint8_t>(i * 131);
}

std::string ReadBandwidthProbe::isa() {
  [[maybe_unused]] const Reader r = pick_readers().one_stream;  // only x86 has vector readers
#if defined(__x86_64__)
  if (r == read_avx512<1>) return "avx512";
  if (r == read_avx2<1>) return "avx2";
#endif
  return "scalar";
}

double ReadBandwidthProbe::measure(int n_threads) {
  static const Readers readers = pick_readers();
  return std::max(measure_with(readers.one_stream, n_threads), measure_with(readers.two_streams, n_threads));
}

double ReadBandwidthProbe::measure_with(Reader reader, int n_threads) {
  n_threads = std::max(1, n_threads);
  // Shares are whole 4 KiB pages so every reader's loads stay aligned.
  const size_t pages = buffer_.size() / kAlign;
  std::vector<uint64_t> sums(static_cast<size_t>(n_threads));
  std::vector<std::thread> threads;
  const auto t0 = std::chrono::steady_clock::now();
  for (int t = 0; t < n_threads; ++t) {
    const size_t b = pages * static_cast<size_t>(t) / static_cast<size_t>(n_threads);
    const size_t e = pages * static_cast<size_t>(t + 1) / static_cast<size_t>(n_threads);
    threads.emplace_back([&, b, e, t] { sums[static_cast<size_t>(t)] = reader(buffer_.data() + b * kAlign, (e - b) * kAlign); });
  }
  for (auto& th : threads) th.join();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  uint64_t x = 0;
  for (auto v : sums) x ^= v;
  sink_ = sink_ ^ x;
  return static_cast<double>(buffer_.size()) / s;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

}  // namespace pocketllm::bench
