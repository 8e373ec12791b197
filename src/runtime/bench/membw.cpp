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
// loop is bound by loads, not by the add latency. It reads its share as two
// streams in lockstep (first and second half): one stream per core leaves
// bandwidth unused on some CPUs (Zen 5: ~20% less), and a decode that wants
// the ceiling can read its weights the same way.
#if defined(__x86_64__)
__attribute__((target("avx512f"))) uint64_t read_avx512(const uint8_t* p, size_t n) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  const size_t half = n / 2 / 128 * 128;
  const uint8_t* q = p + half;
  for (size_t i = 0; i + 128 <= half; i += 128) {
    a0 = _mm512_xor_si512(a0, _mm512_load_si512(p + i));
    a1 = _mm512_xor_si512(a1, _mm512_load_si512(p + i + 64));
    a2 = _mm512_xor_si512(a2, _mm512_load_si512(q + i));
    a3 = _mm512_xor_si512(a3, _mm512_load_si512(q + i + 64));
  }
  __m512i s = _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3));
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, s);
  uint64_t x = 0;
  for (uint64_t v : lanes) x ^= v;
  return x;
}

__attribute__((target("avx2"))) uint64_t read_avx2(const uint8_t* p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  const size_t half = n / 2 / 64 * 64;
  const uint8_t* q = p + half;
  for (size_t i = 0; i + 64 <= half; i += 64) {
    a0 = _mm256_xor_si256(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_xor_si256(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_xor_si256(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(q + i)));
    a3 = _mm256_xor_si256(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(q + i + 32)));
  }
  __m256i s = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), s);
  return lanes[0] ^ lanes[1] ^ lanes[2] ^ lanes[3];
}

#endif

uint64_t read_scalar(const uint8_t* p, size_t n) {
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  const size_t half = n / 2 / 16 * 16;
  for (size_t i = 0; i + 16 <= half; i += 16) {
    uint64_t w[4];
    std::memcpy(w, p + i, 16);
    std::memcpy(w + 2, p + half + i, 16);
    a0 ^= w[0], a1 ^= w[1], a2 ^= w[2], a3 ^= w[3];
  }
  return a0 ^ a1 ^ a2 ^ a3;
}

using Reader = uint64_t (*)(const uint8_t*, size_t);

Reader pick_reader() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return read_avx512;
  if (__builtin_cpu_supports("avx2")) return read_avx2;
#endif
  return read_scalar;  // other CPUs: 64-bit loads the compiler vectorizes
}

}  // namespace

ReadBandwidthProbe::ReadBandwidthProbe(size_t bytes)
    : buffer_((std::max<size_t>(bytes, kAlign) + kAlign - 1) / kAlign * kAlign) {
  uint8_t* data = buffer_.data();
  for (size_t i = 0; i < buffer_.size(); ++i) data[i] = static_cast<uint8_t>(i * 131);
}

std::string ReadBandwidthProbe::isa() {
  Reader r = pick_reader();
#if defined(__x86_64__)
  if (r == read_avx512) return "avx512";
  if (r == read_avx2) return "avx2";
#endif
  return r == read_scalar ? "scalar" : "?";
}

double ReadBandwidthProbe::measure(int n_threads) {
  static const Reader reader = pick_reader();
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
