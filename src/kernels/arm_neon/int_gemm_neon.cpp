#include "kernels/arm_neon/ggml_int_neon.h"
#include "kernels/arm_neon/int_gemm_neon.h"
#include "kernels/arm_neon/kv_q8_neon.h"

namespace pocketllm {
extern const KernelTable kNeonKernels = {
    .name = "neon",
    .gemm_w4 = gemm_w4_arm<DotNeon>,
    .gemm_w8 = gemm_w8_arm<DotNeon>,
    .dot_f32 = dot_f32_neon,
    .f16_to_f32_row = f16_row_neon,
    .round_f16 = round_f16_neon,
    .axpy_rows = axpy_rows_neon,
    .reads_wsum128 = false,
    .softmax = ref_softmax,
    .quantize_act_row = ref_quantize_act_row,
    .silu_mul = ref_silu_mul,
    .axpy_rows_multi = nullptr,  // callers loop axpy_rows (axpy_rows_multi() in table.h)
    .ggml = ggml_int_arm<DotNeon>(),
    .kv_q8_scores = kv_q8_scores_arm<DotNeon>,
    .kv_q8_wsum = kv_q8_wsum_arm,
};
}  // namespace pocketllm
