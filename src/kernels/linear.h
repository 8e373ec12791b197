// The one operation that dominates LLM inference: y = x · Wᵀ for a batch of
// tokens, over weights stored in any supported type (float or quantized).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "core/thread_pool.h"
#include "kernels/pack.h"
#include "weights/dtype.h"

namespace pocketllm {

// How activations meet quantized weights: W4A8/W8A8 quantize each token's
// activations to int8 and accumulate in int32; Float dequantizes the weights.
enum class ActPrecision { Int8, Float };

// A weight matrix of `rows` output features by `cols` input features, as stored
// (row r starts at data + r * row_bytes). `packed` holds an ISA-specific copy
// made by prepare_matrix(); when set, kernels read it instead of `data`.
struct Matrix {
  DType type = DType::F32;
  int64_t rows = 0, cols = 0;
  const uint8_t* data = nullptr;
  size_t row_bytes = 0;
  ActPrecision act = ActPrecision::Int8;
  float act_scale = 0;  // Int8: > 0 is a static (calibrated) activation scale for every token; 0 = per-token max
  std::shared_ptr<void> packed;
  size_t packed_bytes = 0;  // memory `packed` owns (0 when it views the stored tiles in place)
  size_t stream_bytes = 0;  // weight bytes one linear() call reads (set by prepare_matrix; 0: rows * row_bytes)

  bool empty() const { return data == nullptr && !packed; }
};

// Builds a Matrix view over stored bytes; throws Error if the type cannot hold `cols` per row.
Matrix make_matrix(DType type, int64_t rows, int64_t cols, const void* data);

// Repacks a matrix into the layout the active kernels want (a no-op for float
// types). Afterwards `packed` owns a copy of everything linear() and matrix_row()
// need, so the caller may drop `data`'s pages.
void prepare_matrix(Matrix& m);
struct KernelTable;
class HugeArena;
// The same with a given kernel table (tests and benchmarks compare tables).
// With an arena, integer tiles (repacked, or viewed in a tiled file) are kept
// in its huge pages: decode streams every weight once per token, and over 4 KiB
// pages of a mapped file it loses a quarter of its speed to TLB misses.
// `done` hears of source bytes already repacked (kernels/pack.h), so their file
// pages can be dropped while the rest is packed.
void prepare_matrix(Matrix& m, const KernelTable& kernels, const std::shared_ptr<HugeArena>& arena = nullptr,
                    const SourceDone& done = {});

// y[t * ldy + r] = sum_c W[r][c] * x[t * ldx + c], for t < n_tokens, r < W.rows.
// Integer weights (Q4_0, Q8_0, pocketllm W4/W8, weights/blocks_pocketllm.h) with act == Int8
// quantize x per token and group to int8 (scale max|x|/127, or the static act_scale)
// and accumulate in int32;
// with act == Float they are dequantized and multiplied in float.
// Q4_K, Q5_K, Q6_K, IQ4_XS and Q5_0 with act == Int8 are multiplied in place from the
// file's blocks with int8 activations per token and block of 256 (Q5_0: 32) where
// the table has kernels for them (kernels/ggml_int.h; ref and x86 tables, not ARM yet);
// Q4_K and Q6_K are repacked at load into 16-row tiles (weights/kquant_tiles.h)
// where the table has tile kernels for them (x86 SIMD tables).
// Every other GGML type pocketllm reads (weights/row_codec.h: F32/F16/BF16, Q2_K,
// Q3_K, IQ4_NL, Q4_1, Q5_1, and the above elsewhere) is multiplied in float, its rows
// converted from the stored bytes into a per-thread buffer of 8 rows as they are read.
void linear(const Matrix& w, const float* x, int64_t ldx, int64_t n_tokens, float* y, int64_t ldy, ThreadPool& pool);

// Several matrices over the same input (Q/K/V, gate/up): one activation
// quantization and one parallel pass over all their rows, instead of one per
// matrix. Same results as calling linear() for each; falls back to that when
// the matrices do not share a weight format and kernel table.
struct LinearOut {
  const Matrix* w;
  float* y;
  int64_t ldy;
};
void linear_shared_input(std::span<const LinearOut> outs, const float* x, int64_t ldx, int64_t n_tokens,
                         ThreadPool& pool);


// Whether linear() and matrix_row() read weights of type t.
bool can_multiply(DType t);
// Whether linear() multiplies weights of type t with int8 activations under the
// active kernel table (when the matrix asks for them): pocketllm's integer
// formats, Q4_0, Q8_0, and GGML blocks with a kernels/ggml_int.h kernel.
bool int8_activations(DType t);

// Writes row r of w as floats (embedding lookup).
void matrix_row(const Matrix& w, int64_t r, float* out);

}  // namespace pocketllm
