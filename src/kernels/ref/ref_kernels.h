// The scalar reference kernels: plain loops over weights as stored. They are
// the oracle every SIMD kernel is tested against, so they stay obviously right.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "kernels/table.h"

namespace pocketllm {

// One activation already divided by its scale, to int8: round half to even, clamp
// to [-127, 127], NaN (a NaN input, or inf * 0) to 0. The NaN test comes before
// any arithmetic: casting NaN to int is undefined behaviour, and a test after the
// clamp can be folded away (GCC treats the clamped value as never NaN).
// y + 1.5 * 2^23 - 1.5 * 2^23 rounds like lrintf for |y| < 2^22 (larger ones clamp).
inline int8_t quantize_act_value(float y) {
  constexpr float kRound = 12582912.0f;
  y = std::isnan(y) ? 0.0f : y;
  return static_cast<int8_t>(static_cast<int>(std::clamp((y + kRound) - kRound, -127.0f, 127.0f)));
}

float ref_dot_f32(const float* a, const float* b, int64_t n);
void ref_f16_to_f32_row(const uint16_t* src, float* dst, int64_t n);
void ref_round_f16(float* x, int64_t n);
void ref_softmax(float* x, int64_t n);
void ref_quantize_act_row(const float* x, int64_t cols, int64_t group, int64_t n_groups, float static_d, int8_t* q,
                          float* d, int32_t* sum);
void ref_silu_mul(float* a, const float* b, int64_t n);
void ref_axpy_rows(const float* a, const float* rows, int64_t n_rows, int64_t n, int64_t ld, float* out);
void ref_kv_q8_scores(const int8_t* q, const float* qd, int64_t m, int64_t hd, const int8_t* k, const float* kd,
                      size_t stride, int64_t n, float* out, int64_t ldo);
void ref_kv_q8_wsum(const float* w, int64_t ldw, int64_t m, const int8_t* v, const float* vd, size_t stride, int64_t n,
                    int64_t hd, float* out, int64_t ldo);

// W4A8/W8A8 over stored rows [r0, r1): per group an exact int32 dot product of
// weight ints and activation ints, then y += isum * (d_w * d_a), groups in order.
void ref_linear_int(DType t, const uint8_t* data, size_t row_bytes, int64_t cols, const QuantActs& a, int64_t r0,
                    int64_t r1, float* y, int64_t ldy);

// The same over rows [r0, r1) of a tiled matrix.
void ref_linear_packed(const PackedInt& w, const QuantActs& a, int64_t r0, int64_t r1, float* y, int64_t ldy);

extern const KernelTable kRefKernels;

}  // namespace pocketllm
