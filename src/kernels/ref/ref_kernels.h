// The scalar reference kernels: plain loops over weights as stored. They are
// the oracle every SIMD kernel is tested against, so they stay obviously right.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/table.h"

namespace pocketllm {

float ref_dot_f32(const float* a, const float* b, int64_t n);
void ref_f16_to_f32_row(const uint16_t* src, float* dst, int64_t n);
void ref_round_f16(float* x, int64_t n);
void ref_softmax(float* x, int64_t n);
void ref_axpy_rows(const float* a, const float* rows, int64_t n_rows, int64_t n, int64_t ld, float* out);

// W4A8/W8A8 over stored rows [r0, r1): per group an exact int32 dot product of
// weight ints and activation ints, then y += isum * (d_w * d_a), groups in order.
void ref_linear_int(DType t, const uint8_t* data, size_t row_bytes, int64_t cols, const QuantActs& a, int64_t r0,
                    int64_t r1, float* y, int64_t ldy);

// The same over rows [r0, r1) of a tiled matrix.
void ref_linear_packed(const PackedInt& w, const QuantActs& a, int64_t r0, int64_t r1, float* y, int64_t ldy);

extern const KernelTable kRefKernels;

}  // namespace pocketllm
