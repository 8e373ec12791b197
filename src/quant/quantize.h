// Weight quantization for pocketllm.
//
// API summary (what `pocketllm quantize` and the loaders call):
//   Scheme s{4, 32};                                  // bits 4|8, group 0 (per row)|32|64|128
//   QuantizedTensor q = quantize_rtn(w, rows, cols, s);  // -> q.type, q.bytes (rows * row_bytes)
//   std::vector<float> w2 = dequantize(type, bytes, nbytes, rows, cols);   // any readable type
//   QuantizedTensor c = requantize(DType::Q4_K, bytes, nbytes, rows, cols, Scheme{8, 32});
//   DType t = scheme_type(s, cols);                   // which type a scheme produces for a row length
//   bool ok = can_dequantize(type);
// Type choice: bits 4 / group 32 is GGML Q4_0 and bits 8 / group 32 is GGML Q8_0 when
// cols % 32 == 0 (standard GGUF types llama.cpp reads); otherwise and for other groups,
// pocketllm's own ids (weights/blocks_pocketllm.h, docs/FORMAT.md), which zero-pad the last group.
// Rounding: symmetric round-to-nearest; 4-bit scale = max|w| / 7 with q in [-7, 7]
// (Q4_0 could hold -8; we keep the grid symmetric), 8-bit scale = max|w| / 127. The
// scale is rounded to f16 first and q computed against the rounded scale.
// Calibration hook: Scheme::choose_scale, given a group's weights, returns the scale to
// use (e.g. a clipped max); values beyond the grid are clamped.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "weights/dtype.h"

namespace pocketllm {

struct Scheme {
  int bits = 4;   // 4 or 8
  int group = 32; // 0 (one scale per row), 32, 64 or 128; 8-bit supports 0 and 32
  // Optional: scale for the group w[0..n) at grid maximum qmax (7 or 127); default max|w| / qmax.
  std::function<float(const float* w, int64_t n, int qmax)> choose_scale;
};

struct QuantizedTensor {
  DType type = DType::F32;
  int64_t rows = 0, cols = 0;
  size_t row_bytes = 0;
  std::vector<uint8_t> bytes;  // rows * row_bytes
};

// The stored type a scheme gives for rows of `cols` (throws Error for an unsupported scheme).
DType scheme_type(const Scheme& s, int64_t cols);

// Round-to-nearest quantization of a row-major [rows][cols] float matrix.
QuantizedTensor quantize_rtn(const float* w, int64_t rows, int64_t cols, const Scheme& s);

// Every GGML type with a row codec (weights/row_codec.h) and pocketllm's W4/W8 types.
bool can_dequantize(DType t);
// One stored row of n elements to floats.
void dequantize_row(DType t, const uint8_t* row, int64_t n, float* out);
// A whole tensor; throws Error when nbytes is not exactly rows rows of that type.
std::vector<float> dequantize(DType t, const void* data, size_t nbytes, int64_t rows, int64_t cols);

// Stored weights of any readable type re-quantized to a scheme (dequantize, then quantize_rtn).
QuantizedTensor requantize(DType t, const void* data, size_t nbytes, int64_t rows, int64_t cols, const Scheme& s);

}  // namespace pocketllm
