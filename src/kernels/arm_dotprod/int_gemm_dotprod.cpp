// ARMv8.2 dot product: sdot adds four int8 x int8 products into each int32 lane.
#include "kernels/arm_neon/ggml_int_neon.h"
#include "kernels/arm_neon/int_gemm_neon.h"
#include "kernels/arm_neon/kv_q8_neon.h"

namespace pocketllm {
namespace {
struct DotSdot {
  static int32x4_t dot(int32x4_t acc, int8x16_t w, int8x16_t a) { return vdotq_s32(acc, w, a); }
  static int32x4_t dot2(int32x4_t acc, int8x16_t w0, int8x16_t a0, int8x16_t w1, int8x16_t a1) {
    return vdotq_s32(vdotq_s32(acc, w0, a0), w1, a1);
  }
};
}  // namespace

extern const KernelTable kDotprodKernels = {
    .name = "dotprod",
    .gemm_w4 = gemm_w4_arm<DotSdot>,
    .gemm_w8 = gemm_w8_arm<DotSdot>,
    .dot_f32 = dot_f32_neon,
    .f16_to_f32_row = f16_row_neon,
    .round_f16 = round_f16_neon,
    .axpy_rows = axpy_rows_neon,
    .reads_wsum128 = false,
    .softmax = ref_softmax,
    .quantize_act_row = ref_quantize_act_row,
    .silu_mul = ref_silu_mul,
    .axpy_rows_multi = nullptr,  // callers loop axpy_rows (axpy_rows_multi() in table.h)
    .ggml = ggml_int_arm<DotSdot>(),
    .kv_q8_scores = kv_q8_scores_arm<DotSdot>,
    .kv_q8_wsum = kv_q8_wsum_arm,
};
}  // namespace pocketllm
