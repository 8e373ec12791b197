// Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 rows (weights/blocks_legacy.h).
//
// Quantizers: Q4_0 / Q5_0 map the block's largest-magnitude weight to the grid's
// negative end (-8 / -16), so the other 15 / 31 levels cover the rest; Q4_1 /
// Q5_1 spread [min, max] over 16 / 32 levels; Q8_0 maps max|w| to 127. Scales
// are rounded to f16 first and the codes rounded to nearest against them.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/fp16.h"
#include "weights/block_pack.h"
#include "weights/blocks_legacy.h"
#include "weights/codecs_internal.h"

namespace pocketllm::codecs {

namespace {
constexpr int kHalf = kQK_Legacy / 2;

// Low and high nibble of byte j: weights j and j + 16.
void unpack_nibbles(const uint8_t* qs, int* q) {
  for (int j = 0; j < kHalf; ++j) {
    q[j] = qs[j] & 0x0F;
    q[j + kHalf] = qs[j] >> 4;
  }
}
void pack_nibbles(const int* q, uint8_t* qs) {
  for (int j = 0; j < kHalf; ++j) qs[j] = static_cast<uint8_t>(q[j] | (q[j + kHalf] << 4));
}

// 5-bit codes: the nibbles plus the fifth bits of qh (bit j = weight j).
void unpack_5bit(const uint8_t* qs, const uint8_t* qh4, int* q) {
  uint32_t qh;
  std::memcpy(&qh, qh4, 4);
  for (int j = 0; j < kHalf; ++j) {
    q[j] = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1) << 4);
    q[j + kHalf] = (qs[j] >> 4) | static_cast<int>(((qh >> (j + kHalf)) & 1) << 4);
  }
}
void pack_5bit(const int* q, uint8_t* qs, uint8_t* qh4) {
  uint32_t qh = 0;
  int low[kQK_Legacy];
  for (int j = 0; j < kQK_Legacy; ++j) {
    qh |= static_cast<uint32_t>(q[j] >> 4) << j;
    low[j] = q[j] & 0x0F;
  }
  std::memcpy(qh4, &qh, 4);
  pack_nibbles(low, qs);
}

// Codes to values, in ggml's order of operations: (q - zero) * d, or q * d + m.
void scale_codes(const int* q, int zero, float d, float* y) {
  for (int j = 0; j < kQK_Legacy; ++j) y[j] = static_cast<float>(q[j] - zero) * d;
}
void scale_codes_with_min(const int* q, float d, float m, float* y) {
  for (int j = 0; j < kQK_Legacy; ++j) y[j] = static_cast<float>(q[j]) * d + m;
}

// Symmetric blocks (Q4_0, Q5_0): the largest-magnitude weight maps to -zero.
uint16_t quantize_symmetric(const float* x, int zero, int* q) {
  const uint16_t d16 = f16_scale(signed_absmax(x, kQK_Legacy) / static_cast<float>(-zero));
  const float d = f16_to_f32(d16);
  for (int j = 0; j < kQK_Legacy; ++j) q[j] = quantize_value(x[j], d, -zero, zero - 1) + zero;
  return d16;
}

// Blocks with a min (Q4_1, Q5_1): levels min + d * q, q in [0, qmax].
void quantize_with_min(const float* x, int qmax, uint16_t& d16, uint16_t& m16, int* q) {
  signed_absmax(x, kQK_Legacy);  // rejects NaN / inf
  const auto [lo, hi] = std::minmax_element(x, x + kQK_Legacy);
  d16 = f16_scale((*hi - *lo) / static_cast<float>(qmax));
  m16 = f16_scale(*lo);
  const float d = f16_to_f32(d16), m = f16_to_f32(m16);
  for (int j = 0; j < kQK_Legacy; ++j) q[j] = quantize_value(x[j] - m, d, 0, qmax);
}
}  // namespace

void dequantize_q4_0(const uint8_t* row, float* out, int64_t n) {
  each_block<BlockQ4_0, kQK_Legacy>(row, out, n, [](const BlockQ4_0& blk, float* y) {
    int q[kQK_Legacy];
    unpack_nibbles(blk.qs, q);
    scale_codes(q, 8, f16_to_f32(blk.d), y);
  });
}

void quantize_q4_0(const float* x, uint8_t* row, int64_t n) {
  each_block<BlockQ4_0, kQK_Legacy>(x, row, n, [](const float* xb, BlockQ4_0& blk) {
    int q[kQK_Legacy];
    blk.d = quantize_symmetric(xb, 8, q);
    pack_nibbles(q, blk.qs);
  });
}

void dequantize_q4_1(const uint8_t* row, float* out, int64_t n) {
  each_block<BlockQ4_1, kQK_Legacy>(row, out, n, [](const BlockQ4_1& blk, float* y) {
    int q[kQK_Legacy];
    unpack_nibbles(blk.qs, q);
    scale_codes_with_min(q, f16_to_f32(blk.d), f16_to_f32(blk.m), y);
  });
}

void quantize_q4_1(const float* x, uint8_t* row, int64_t n) {
  each_block<BlockQ4_1, kQK_Legacy>(x, row, n, [](const float* xb, BlockQ4_1& blk) {
    int q[kQK_Legacy];
    quantize_with_min(xb, 15, blk.d, blk.m, q);
    pack_nibbles(q, blk.qs);
  });
}

void dequantize_q5_0(const uint8_t* row, float* out, int64_t n) {
  each_block<BlockQ5_0, kQK_Legacy>(row, out, n, [](const BlockQ5_0& blk, float* y) {
    int q[kQK_Legacy];
    unpack_5bit(blk.qs, blk.qh, q);
    scale_codes(q, 16, f16_to_f32(blk.d), y);
  });
}

void quantize_q5_0(const float* x, uint8_t* row, int64_t n) {
  each_block<BlockQ5_0, kQK_Legacy>(x, row, n, [](const float* xb, BlockQ5_0& blk) {
    int q[kQK_Legacy];
    blk.d = quantize_symmetric(xb, 16, q);
    pack_5bit(q, blk.qs, blk.qh);
  });
}

void dequantize_q5_1(const uint8_t* row, float* out, int64_t n) {
  each_block<BlockQ5_1, kQK_Legacy>(row, out, n, [](const BlockQ5_1& blk, float* y) {
    int q[kQK_Legacy];
    unpack_5bit(blk.qs, blk.qh, q);
    scale_codes_with_min(q, f16_to_f32(blk.d), f16_to_f32(blk.m), y);
  });
}

void quantize_q5_1(const float* x, uint8_t* row, int64_t n) {
  each_block<BlockQ5_1, kQK_Legacy>(x, row, n, [](const float* xb, BlockQ5_1& blk) {
    int q[kQK_Legacy];
    quantize_with_min(xb, 31, blk.d, blk.m, q);
    pack_5bit(q, blk.qs, blk.qh);
  });
}

void dequantize_q8_0(const uint8_t* row, float* out, int64_t n) {
  each_block<BlockQ8_0, kQK_Legacy>(row, out, n, [](const BlockQ8_0& blk, float* y) {
    const float d = f16_to_f32(blk.d);
    for (int j = 0; j < kQK_Legacy; ++j) y[j] = static_cast<float>(blk.qs[j]) * d;
  });
}

void quantize_q8_0(const float* x, uint8_t* row, int64_t n) {
  each_block<BlockQ8_0, kQK_Legacy>(x, row, n, [](const float* xb, BlockQ8_0& blk) {
    blk.d = f16_scale(std::fabs(signed_absmax(xb, kQK_Legacy)) / 127.0f);
    const float d = f16_to_f32(blk.d);
    for (int j = 0; j < kQK_Legacy; ++j) blk.qs[j] = static_cast<int8_t>(quantize_value(xb[j], d, -127, 127));
  });
}

}  // namespace pocketllm::codecs

namespace pocketllm {

void pack_q5_0_block(uint16_t d, const int* q, uint8_t* block) {
  BlockQ5_0 blk{};
  blk.d = d;
  int u[kQK_Legacy];
  for (int j = 0; j < kQK_Legacy; ++j) u[j] = q[j] + 16;
  codecs::pack_5bit(u, blk.qs, blk.qh);
  codecs::store_block(blk, block);
}

}  // namespace pocketllm

