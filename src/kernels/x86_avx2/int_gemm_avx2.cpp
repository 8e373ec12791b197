// AVX2 without VNNI: vpmaddubsw (u8 x s8 -> s16 pairs) + vpmaddwd. Neither use can
// saturate: nibbles give |pair| <= 2*15*127, and 8-bit weights use the sign trick
// |w| x (a * sign(w)) with |pair| <= 2*128*127.
#include "kernels/x86_avx2/int_gemm_256.h"
#include "kernels/x86_avx2/kv_q8_avx2.h"

namespace pocketllm {
namespace {
struct DotAvx2 {
  static constexpr bool kOffsetActs = false;
  // 4-bit: int16 partial sums over one 32-weight chunk (8 maddubs terms, |sum| <= 30480).
  static __m256i zero_part() { return _mm256_setzero_si256(); }
  static __m256i part(__m256i p, __m256i lo, __m256i hi, __m256i alo, __m256i ahi) {
    return _mm256_add_epi16(p, _mm256_add_epi16(_mm256_maddubs_epi16(lo, alo), _mm256_maddubs_epi16(hi, ahi)));
  }
  static __m256i flush(__m256i acc, __m256i p) { return _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16(1))); }
  static __m256i prepare_w8(__m256i w) { return _mm256_abs_epi8(w); }
  static __m256i bytes(__m256i acc, __m256i w, __m256i abs_w, __m256i a) {
    const __m256i p = _mm256_maddubs_epi16(abs_w, _mm256_sign_epi8(a, w));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
  }
};
}  // namespace

extern const KernelTable kAvx2Kernels = {
    .name = "avx2",
    .gemm_w4 = gemm_w4_256<DotAvx2>,
    .gemm_w8 = gemm_w8_256<DotAvx2>,
    .dot_f32 = dot_f32_256,
    .f16_to_f32_row = f16_row_f16c,
    .round_f16 = round_f16_f16c,
    .axpy_rows = axpy_rows_256,
    .reads_wsum128 = false,
    .softmax = ref_softmax,
    .quantize_act_row = quantize_act_row_256,
    .silu_mul = silu_mul_256,
    .axpy_rows_multi = nullptr,  // callers loop axpy_rows (axpy_rows_multi() in table.h)
    .ggml = kAvx2GgmlInt,
    .kv_q8_scores = kv_q8_scores_avx2,
    .kv_q8_wsum = kv_q8_wsum_avx2,
};

}  // namespace pocketllm
