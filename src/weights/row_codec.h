// Rows of GGML weight types to and from f32: the one place that knows each
// block's layout. Dequantizers are bit-exact to ggml's (checked against the
// PyPI gguf package's, tests/weights); quantizers are simple deterministic
// round-to-nearest ones (docs/FORMAT.md), not llama.cpp's searches.
#pragma once
#include <cstdint>

#include "weights/dtype.h"

namespace pocketllm {

using RowToF32Fn = void (*)(const uint8_t* row, float* out, int64_t n);
using RowFromF32Fn = void (*)(const float* x, uint8_t* row, int64_t n);

struct RowCodec {
  DType type;
  RowToF32Fn to_f32;      // n elements (a multiple of the block size) to f32
  RowFromF32Fn from_f32;  // throws Error for NaN/inf weights or a scale past f16's range
};

// The codec of a GGML type pocketllm reads (F32, F16, BF16, Q4_0, Q4_1, Q5_0,
// Q5_1, Q8_0, Q2_K..Q6_K, IQ4_NL, IQ4_XS), or nullptr.
const RowCodec* ggml_row_codec(DType t);

// The same through the table; throws Error naming the type when it has no codec
// or n is not a whole number of its blocks.
void ggml_row_to_f32(DType t, const uint8_t* row, float* out, int64_t n);
void ggml_row_from_f32(DType t, const float* x, uint8_t* row, int64_t n);

}  // namespace pocketllm
