// IQ4_NL and IQ4_XS rows (weights/blocks_iq4.h).
//
// Quantizers: a block (IQ4_NL) or sub-block (IQ4_XS) maps its largest-magnitude
// weight to the table's -127 end, and each weight takes the nearest of the 16
// levels times that scale; IQ4_XS's 6-bit sub-block scales are rounded against
// the f16 super-block scale like Q3_K's. No search (docs/FORMAT.md).
#include <array>
#include <cmath>

#include "core/fp16.h"
#include "weights/blocks_iq4.h"
#include "weights/codecs_internal.h"

namespace pocketllm::codecs {

namespace {
constexpr int kSub = 32;  // weights per IQ4_NL block and per IQ4_XS sub-block

// The levels as floats (exact), so decoding is a lookup and a multiply.
constexpr auto kLevelsF = [] {
  std::array<float, 16> f{};
  for (int i = 0; i < 16; ++i) f[i] = static_cast<float>(kIQ4Levels[i]);
  return f;
}();

// 32 weights from 16 bytes of codes in Q4_0's nibble order, times scale d.
void decode_32(const uint8_t* qs, float d, float* out) {
  for (int j = 0; j < kSub / 2; ++j) {
    out[j] = d * kLevelsF[qs[j] & 0x0F];
    out[j + kSub / 2] = d * kLevelsF[qs[j] >> 4];
  }
}

// The code whose level times d is nearest to v (the first on ties; level 1, the
// one nearest zero, when d == 0).
int nearest_level(float v, float d) {
  if (d == 0) return 8;
  const float t = v / d;
  int best = 0;
  for (int c = 1; c < 16; ++c)
    if (std::fabs(static_cast<float>(kIQ4Levels[c]) - t) < std::fabs(static_cast<float>(kIQ4Levels[best]) - t)) best = c;
  return best;
}

void encode_32(const float* x, float d, uint8_t* qs) {
  for (int j = 0; j < kSub / 2; ++j)
    qs[j] = static_cast<uint8_t>(nearest_level(x[j], d) | (nearest_level(x[j + kSub / 2], d) << 4));
}

float block_scale(const float* x) { return signed_absmax(x, kSub) / static_cast<float>(kIQ4Levels[0]); }
}  // namespace

void dequantize_iq4_nl(const uint8_t* row, float* out, int64_t n) {
  each_block<BlockIQ4_NL, kSub>(row, out, n, [](const BlockIQ4_NL& blk, float* y) { decode_32(blk.qs, f16_to_f32(blk.d), y); });
}

void quantize_iq4_nl(const float* x, uint8_t* row, int64_t n) {
  each_block<BlockIQ4_NL, kSub>(x, row, n, [](const float* xb, BlockIQ4_NL& blk) {
    blk.d = f16_scale(block_scale(xb));
    encode_32(xb, f16_to_f32(blk.d), blk.qs);
  });
}

void dequantize_iq4_xs(const uint8_t* row, float* out, int64_t n) {
  each_block<BlockIQ4_XS, kQK_K>(row, out, n, [](const BlockIQ4_XS& blk, float* y) {
    const float d = f16_to_f32(blk.d);
    for (int s = 0; s < kQK_K / kSub; ++s) {
      const int ls = ((blk.scales_l[s / 2] >> (4 * (s % 2))) & 0x0F) | (((blk.scales_h >> (2 * s)) & 3) << 4);
      decode_32(blk.qs + 16 * s, d * static_cast<float>(ls - 32), y + kSub * s);
    }
  });
}

void quantize_iq4_xs(const float* x, uint8_t* row, int64_t n) {
  each_block<BlockIQ4_XS, kQK_K>(x, row, n, [](const float* xb, BlockIQ4_XS& blk) {
    constexpr int kNSub = kQK_K / kSub;
    float scale[kNSub];
    for (int s = 0; s < kNSub; ++s) scale[s] = block_scale(xb + kSub * s);
    blk.d = f16_scale(signed_absmax(scale, kNSub) / -32.0f);
    const float d = f16_to_f32(blk.d);
    for (int s = 0; s < kNSub; ++s) {
      const int ls = quantize_value(scale[s], d, -32, 31);
      const int c = ls + 32;
      blk.scales_l[s / 2] |= static_cast<uint8_t>((c & 0x0F) << (4 * (s % 2)));
      blk.scales_h |= static_cast<uint16_t>((c >> 4) << (2 * s));
      encode_32(xb + kSub * s, d * static_cast<float>(ls), blk.qs + 16 * s);
    }
  });
}

}  // namespace pocketllm::codecs
