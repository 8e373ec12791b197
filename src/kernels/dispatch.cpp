// Picks the kernel table once from what the CPU (and the OS, for AVX state) supports.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/table.h"

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <sys/auxv.h>
#endif

namespace pocketllm {

#if defined(__x86_64__)
extern const KernelTable kAvx2Kernels, kAvxVnniKernels, kAvx512VnniKernels;
#elif defined(__aarch64__)
extern const KernelTable kNeonKernels, kDotprodKernels, kI8mmKernels;
#endif

namespace {
struct Candidate {
  const KernelTable* table;
  bool supported;
};

#if defined(__x86_64__)
uint64_t xgetbv0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t{hi} << 32) | lo;
}
#endif

// Ordered from plainest to fastest.
std::vector<Candidate> candidates() {
  std::vector<Candidate> c = {{&kRefKernels, true}};
#if defined(__x86_64__)
  unsigned a, b, cx, d;
  bool avx2 = false, avxvnni = false, avx512vnni = false;
  if (__get_cpuid_count(1, 0, &a, &b, &cx, &d)) {
    const bool osxsave = cx & (1u << 27), avx = cx & (1u << 28), fma = cx & (1u << 12), f16c = cx & (1u << 29);
    const uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    const bool ymm_os = (xcr0 & 0x6) == 0x6, zmm_os = (xcr0 & 0xE6) == 0xE6;
    if (avx && fma && f16c && ymm_os && __get_cpuid_count(7, 0, &a, &b, &cx, &d)) {
      avx2 = (b & (1u << 5)) && (b & (1u << 8));  // AVX2 + BMI2
      const bool f = b & (1u << 16), dq = b & (1u << 17), bw = b & (1u << 30), vl = b & (1u << 31);
      avx512vnni = avx2 && zmm_os && f && dq && bw && vl && (cx & (1u << 11));
      if (__get_cpuid_count(7, 1, &a, &b, &cx, &d)) avxvnni = avx2 && (a & (1u << 4));
    }
  }
  c.push_back({&kAvx2Kernels, avx2});
  c.push_back({&kAvxVnniKernels, avxvnni});
  c.push_back({&kAvx512VnniKernels, avx512vnni});
#elif defined(__aarch64__)
  const unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
  const bool asimd = hw & (1ul << 1), dotprod = hw & (1ul << 20), i8mm = hw2 & (1ul << 13);
  c.push_back({&kNeonKernels, asimd});
  c.push_back({&kDotprodKernels, asimd && dotprod});
  c.push_back({&kI8mmKernels, asimd && dotprod && i8mm});
#endif
  return c;
}

}  // namespace

const KernelTable& select_kernels(const char* want) {
  const auto all = candidates();
  if (want && *want) {
    for (const auto& c : all)
      if (std::strcmp(c.table->name, want) == 0) {
        if (!c.supported) fail("POCKETLLM_ISA={}: this CPU does not support it", want);
        return *c.table;
      }
    fail("POCKETLLM_ISA={}: unknown instruction set (this build knows: {})", want,
         fmt::join(compiled_isa_names(), ", "));
  }
  const KernelTable* best = &kRefKernels;
  for (const auto& c : all)
    if (c.supported) best = c.table;
  return *best;
}

const KernelTable& active_kernels() {
  static const KernelTable& t = select_kernels(std::getenv("POCKETLLM_ISA"));
  return t;
}

std::vector<const KernelTable*> available_kernels() {
  std::vector<const KernelTable*> out;
  for (const auto& c : candidates())
    if (c.supported) out.push_back(c.table);
  return out;
}

const KernelTable* find_kernels(std::string_view name) {
  for (const auto& c : candidates())
    if (c.supported && name == c.table->name) return c.table;
  return nullptr;
}

void axpy_rows_multi(const KernelTable& k, const float* a, int64_t lda, int64_t m, const float* rows, int64_t n_rows,
                     int64_t n, int64_t ld, float* out, int64_t ldo) {
  if (k.axpy_rows_multi) return k.axpy_rows_multi(a, lda, m, rows, n_rows, n, ld, out, ldo);
  for (int64_t i = 0; i < m; ++i) k.axpy_rows(a + i * lda, rows, n_rows, n, ld, out + i * ldo);
}

void kv_q8_scores(const KernelTable& k, const int8_t* q, const float* qd, int64_t m, int64_t hd, const int8_t* keys,
                  const float* kd, size_t stride, int64_t n, float* out, int64_t ldo) {
  (k.kv_q8_scores ? k.kv_q8_scores : ref_kv_q8_scores)(q, qd, m, hd, keys, kd, stride, n, out, ldo);
}

void kv_q8_wsum(const KernelTable& k, const float* w, int64_t ldw, int64_t m, const int8_t* v, const float* vd,
                size_t stride, int64_t n, int64_t hd, float* out, int64_t ldo) {
  (k.kv_q8_wsum ? k.kv_q8_wsum : ref_kv_q8_wsum)(w, ldw, m, v, vd, stride, n, hd, out, ldo);
}

namespace {
int default_gemv_streams() {
  // Read on first use, possibly on a pool worker mid-decode: a bad value is
  // reported and ignored rather than thrown there.
  if (const char* e = std::getenv("POCKETLLM_GEMV_STREAMS"); e && *e) {
    if (std::strcmp(e, "1") == 0 || std::strcmp(e, "2") == 0) return *e - '0';
    std::fprintf(stderr, "pocketllm: POCKETLLM_GEMV_STREAMS=%s ignored (use 1 or 2)\n", e);
  }
#if defined(__x86_64__)
  unsigned a, b, c, d;
  if (__get_cpuid(0, &a, &b, &c, &d) && b == 0x68747541 /* "Auth"enticAMD */ && __get_cpuid(1, &a, &b, &c, &d)) {
    const unsigned family = ((a >> 8) & 0xF) + ((a >> 20) & 0xFF);
    if (family >= 0x1A) return 2;  // Zen 5
  }
#endif
  return 1;
}
std::atomic<int>& gemv_streams_setting() {
  static std::atomic<int> n{default_gemv_streams()};
  return n;
}
}  // namespace

int gemv_streams() { return gemv_streams_setting().load(std::memory_order_relaxed); }
void set_gemv_streams(int n) { gemv_streams_setting().store(n < 2 ? 1 : 2, std::memory_order_relaxed); }

std::vector<std::string> compiled_isa_names() {
  std::vector<std::string> out;
  for (const auto& c : candidates()) out.emplace_back(c.table->name);
  return out;
}

}  // namespace pocketllm
