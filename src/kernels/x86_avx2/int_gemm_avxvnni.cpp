// AVX-VNNI (256-bit vpdpbusd, VEX encoded): for CPUs with AVX-VNNI but without
// AVX-512. Only avxvnni is added to this folder's AVX2 flags, so no EVEX code.
#pragma GCC push_options
#pragma GCC target("avxvnni")
#include "kernels/x86_avx2/int_gemm_256.h"
#include "kernels/x86_avx2/kv_q8_avx2.h"

namespace pocketllm {
namespace {
struct DotAvxVnni {
  static constexpr bool kOffsetActs = true;  // activations as q + 128, minus 128 * sum(w)
  // 4-bit: vpdpbusd sums straight into int32, so a chunk's "part" is already int32.
  static __m256i zero_part() { return _mm256_setzero_si256(); }
  static __m256i part(__m256i p, __m256i lo, __m256i hi, __m256i alo, __m256i ahi) {
    return _mm256_dpbusd_avx_epi32(_mm256_dpbusd_avx_epi32(p, lo, alo), hi, ahi);
  }
  static __m256i flush(__m256i acc, __m256i p) { return _mm256_add_epi32(acc, p); }
  static __m256i prepare_w8(__m256i w) { return w; }
  static __m256i bytes(__m256i acc, __m256i w, __m256i, __m256i a_offset) {
    return _mm256_dpbusd_avx_epi32(acc, a_offset, w);
  }
};
}  // namespace

extern const KernelTable kAvxVnniKernels = {
    .name = "avxvnni",
    .gemm_w4 = gemm_w4_256<DotAvxVnni>,
    .gemm_w8 = gemm_w8_256<DotAvxVnni>,
    .dot_f32 = dot_f32_256,
    .f16_to_f32_row = f16_row_f16c,
    .round_f16 = round_f16_f16c,
    .axpy_rows = axpy_rows_256,
    .reads_wsum128 = true,
    .softmax = ref_softmax,
    .quantize_act_row = quantize_act_row_256,
    .silu_mul = silu_mul_256,
    .axpy_rows_multi = nullptr,  // callers loop axpy_rows (axpy_rows_multi() in table.h)
    .ggml = kAvxVnniGgmlInt,  // AVX2 in-place kernels, AVX-VNNI K-quant tiles
    .kv_q8_scores = kv_q8_scores_avx2,
    .kv_q8_wsum = kv_q8_wsum_avx2,
};

}  // namespace pocketllm
#pragma GCC pop_options
