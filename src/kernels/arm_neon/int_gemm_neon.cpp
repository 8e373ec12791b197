#include "kernels/arm_neon/int_gemm_neon.h"

namespace pocketllm {
extern const KernelTable kNeonKernels = {"neon", gemm_w4_arm<DotNeon>, gemm_w8_arm<DotNeon>, dot_f32_neon, f16_row_neon, round_f16_neon, axpy_rows_neon, false, ref_softmax, ref_quantize_act_row, ref_silu_mul};
}  // namespace pocketllm
