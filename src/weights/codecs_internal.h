// Per-family row codecs behind weights/row_codec.h's table (not a public API).
#pragma once
#include <cstdint>
#include <cstring>

namespace pocketllm::codecs {

// Blocks are read and written with memcpy: rows in a file need not be aligned.
template <class Block>
Block load_block(const uint8_t* p) {
  Block b;
  std::memcpy(&b, p, sizeof(Block));
  return b;
}
template <class Block>
void store_block(const Block& b, uint8_t* p) {
  std::memcpy(p, &b, sizeof(Block));
}

// A row's blocks one by one: f(block, out) for each of the n / kN blocks being
// dequantized, and f(x, block) for each being quantized (the block starts
// zeroed and is stored after f).
template <class Block, int kN, class F>
void each_block(const uint8_t* row, float* out, int64_t n, F&& f) {
  for (int64_t b = 0; b < n / kN; ++b) f(load_block<Block>(row + b * sizeof(Block)), out + b * kN);
}
template <class Block, int kN, class F>
void each_block(const float* x, uint8_t* row, int64_t n, F&& f) {
  for (int64_t b = 0; b < n / kN; ++b) {
    Block blk{};
    f(x + b * kN, blk);
    store_block(blk, row + b * sizeof(Block));
  }
}

// Shared by the quantizers (quant_math.cpp).
// An f16 scale for `scale`, failing when it is NaN, inf or too large for an f16.
uint16_t f16_scale(float scale);
// The element of x[0, n) with the largest magnitude, sign kept (first on ties);
// fails on NaN or inf.
float signed_absmax(const float* x, int n);
// Round to nearest (ties to even), clamped to [lo, hi].
int round_clamp(float v, int lo, int hi);
// v / d rounded and clamped; 0 when d == 0.
int quantize_value(float v, float d, int lo, int hi);

// One pair per type: n elements (whole blocks) to f32, and back.
void dequantize_f32(const uint8_t* row, float* out, int64_t n);
void quantize_f32(const float* x, uint8_t* row, int64_t n);
void dequantize_f16(const uint8_t* row, float* out, int64_t n);
void quantize_f16(const float* x, uint8_t* row, int64_t n);
void dequantize_bf16(const uint8_t* row, float* out, int64_t n);
void quantize_bf16(const float* x, uint8_t* row, int64_t n);
void dequantize_q4_0(const uint8_t* row, float* out, int64_t n);
void quantize_q4_0(const float* x, uint8_t* row, int64_t n);
void dequantize_q4_1(const uint8_t* row, float* out, int64_t n);
void quantize_q4_1(const float* x, uint8_t* row, int64_t n);
void dequantize_q5_0(const uint8_t* row, float* out, int64_t n);
void quantize_q5_0(const float* x, uint8_t* row, int64_t n);
void dequantize_q5_1(const uint8_t* row, float* out, int64_t n);
void quantize_q5_1(const float* x, uint8_t* row, int64_t n);
void dequantize_q8_0(const uint8_t* row, float* out, int64_t n);
void quantize_q8_0(const float* x, uint8_t* row, int64_t n);
void dequantize_q2_k(const uint8_t* row, float* out, int64_t n);
void quantize_q2_k(const float* x, uint8_t* row, int64_t n);
void dequantize_q3_k(const uint8_t* row, float* out, int64_t n);
void quantize_q3_k(const float* x, uint8_t* row, int64_t n);
void dequantize_q4_k(const uint8_t* row, float* out, int64_t n);
void quantize_q4_k(const float* x, uint8_t* row, int64_t n);
void dequantize_q5_k(const uint8_t* row, float* out, int64_t n);
void quantize_q5_k(const float* x, uint8_t* row, int64_t n);
void dequantize_q6_k(const uint8_t* row, float* out, int64_t n);
void quantize_q6_k(const float* x, uint8_t* row, int64_t n);
void dequantize_iq4_nl(const uint8_t* row, float* out, int64_t n);
void quantize_iq4_nl(const float* x, uint8_t* row, int64_t n);
void dequantize_iq4_xs(const uint8_t* row, float* out, int64_t n);
void quantize_iq4_xs(const float* x, uint8_t* row, int64_t n);

}  // namespace pocketllm::codecs
