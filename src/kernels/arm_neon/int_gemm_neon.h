// W4A8 / W8A8 over the 16-row tiles of weights/int_tiles.h with 128-bit NEON: a tile
// is 4 int32x4 vectors of 4 rows each; `Dot` multiplies 4 rows x 4 bytes by 4
// broadcast activation bytes (signed x signed). 4-bit weights stay unsigned
// nibbles and 8 * sum(a) is subtracted, as on x86. Included by one .cpp per ISA,
// so everything here has internal linkage.
#pragma once
#include <arm_neon.h>

#include <algorithm>
#include <cstring>

#include "kernels/ref/ref_kernels.h"
#include "kernels/table.h"

namespace pocketllm {
namespace {

constexpr int64_t kArmTokenChunk = 64;

inline int8x16_t bcast4_arm(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return vreinterpretq_s8_s32(vdupq_n_s32(v));
}

inline void store_rows_arm(float* dst, const float32x4_t* v, int n_rows) {
  if (n_rows >= kTileRows) {
    for (int q = 0; q < 4; ++q) vst1q_f32(dst + 4 * q, v[q]);
    return;
  }
  float tmp[kTileRows];
  for (int q = 0; q < 4; ++q) vst1q_f32(tmp + 4 * q, v[q]);
  for (int i = 0; i < n_rows; ++i) dst[i] = tmp[i];
}

// Four f16 scales to f32 (fcvtl is base AArch64).
inline float32x4_t scales4(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }

template <class Dot, int NT>
void w4_tile_arm(const PackedInt& w, const QuantActs& a, int64_t tile, int64_t tok0, float* y, int64_t ldy) {
  const uint8x16_t m4 = vdupq_n_u8(0x0F);
  float32x4_t facc[NT][4];
  for (int t = 0; t < NT; ++t)
    for (int q = 0; q < 4; ++q) facc[t][q] = vdupq_n_f32(0.0f);
  const uint8_t* src = w.tile(tile);
  const uint16_t* sc = w.scales + tile * w.n_groups * kTileRows;
  const int64_t steps = w.group / 8;
  for (int64_t g = 0; g < w.n_groups; ++g) {
    int32x4_t acc[NT][4];
    for (int t = 0; t < NT; ++t)
      for (int q = 0; q < 4; ++q) acc[t][q] = vdupq_n_s32(0);
    const int8_t* aq = a.q.data() + tok0 * a.kp + g * w.group;
    for (int64_t s = 0; s < steps; ++s, src += 64, aq += 8) {
      int8x16_t alo[NT], ahi[NT];
      for (int t = 0; t < NT; ++t) {
        alo[t] = bcast4_arm(aq + t * a.kp);
        ahi[t] = bcast4_arm(aq + t * a.kp + 4);
      }
      for (int q = 0; q < 4; ++q) {
        const uint8x16_t v = vld1q_u8(src + 16 * q);
        const int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(v, m4)), hi = vreinterpretq_s8_u8(vshrq_n_u8(v, 4));
        for (int t = 0; t < NT; ++t) acc[t][q] = Dot::dot2(acc[t][q], lo, alo[t], hi, ahi[t]);
      }
    }
    for (int t = 0; t < NT; ++t) {
      const int64_t ag = (tok0 + t) * a.n_groups + g;
      const int32x4_t corr = vdupq_n_s32(8 * a.sum[ag]);
      for (int q = 0; q < 4; ++q) {
        const float32x4_t f = vmulq_n_f32(scales4(sc + g * kTileRows + 4 * q), a.d[ag]);
        facc[t][q] = vfmaq_f32(facc[t][q], vcvtq_f32_s32(vsubq_s32(acc[t][q], corr)), f);
      }
    }
  }
  const int n_rows = static_cast<int>(std::min<int64_t>(kTileRows, w.rows - tile * kTileRows));
  for (int t = 0; t < NT; ++t) store_rows_arm(y + (tok0 + t) * ldy + tile * kTileRows, facc[t], n_rows);
}

template <class Dot, int NT>
void w8_tile_arm(const PackedInt& w, const QuantActs& a, int64_t tile, int64_t tok0, float* y, int64_t ldy) {
  float32x4_t facc[NT][4];
  for (int t = 0; t < NT; ++t)
    for (int q = 0; q < 4; ++q) facc[t][q] = vdupq_n_f32(0.0f);
  const uint8_t* src = w.tile(tile);
  const uint16_t* sc = w.scales + tile * w.n_groups * kTileRows;
  const int64_t steps = w.group / 8;  // two 4-k steps at a time
  for (int64_t g = 0; g < w.n_groups; ++g) {
    int32x4_t acc[NT][4];
    for (int t = 0; t < NT; ++t)
      for (int q = 0; q < 4; ++q) acc[t][q] = vdupq_n_s32(0);
    const int8_t* aq = a.q.data() + tok0 * a.kp + g * w.group;
    for (int64_t s = 0; s < steps; ++s, src += 128, aq += 8) {
      int8x16_t a0[NT], a1[NT];
      for (int t = 0; t < NT; ++t) {
        a0[t] = bcast4_arm(aq + t * a.kp);
        a1[t] = bcast4_arm(aq + t * a.kp + 4);
      }
      for (int q = 0; q < 4; ++q) {
        const int8x16_t v0 = vld1q_s8(reinterpret_cast<const int8_t*>(src + 16 * q));
        const int8x16_t v1 = vld1q_s8(reinterpret_cast<const int8_t*>(src + 64 + 16 * q));
        for (int t = 0; t < NT; ++t) acc[t][q] = Dot::dot2(acc[t][q], v0, a0[t], v1, a1[t]);
      }
    }
    for (int t = 0; t < NT; ++t) {
      const int64_t ag = (tok0 + t) * a.n_groups + g;
      for (int q = 0; q < 4; ++q) {
        const float32x4_t f = vmulq_n_f32(scales4(sc + g * kTileRows + 4 * q), a.d[ag]);
        facc[t][q] = vfmaq_f32(facc[t][q], vcvtq_f32_s32(acc[t][q]), f);
      }
    }
  }
  const int n_rows = static_cast<int>(std::min<int64_t>(kTileRows, w.rows - tile * kTileRows));
  for (int t = 0; t < NT; ++t) store_rows_arm(y + (tok0 + t) * ldy + tile * kTileRows, facc[t], n_rows);
}

template <class Dot>
void gemm_w4_arm(const PackedInt& w, const QuantActs& a, int64_t tile0, int64_t tile1, float* y, int64_t ldy) {
  for (int64_t c0 = 0; c0 < a.n_tokens; c0 += kArmTokenChunk) {
    const int64_t c1 = std::min(a.n_tokens, c0 + kArmTokenChunk);
    for (int64_t tile = tile0; tile < tile1; ++tile) {
      int64_t t = c0;
      for (; t + 2 <= c1; t += 2) w4_tile_arm<Dot, 2>(w, a, tile, t, y, ldy);
      if (t < c1) w4_tile_arm<Dot, 1>(w, a, tile, t, y, ldy);
    }
  }
}

template <class Dot>
void gemm_w8_arm(const PackedInt& w, const QuantActs& a, int64_t tile0, int64_t tile1, float* y, int64_t ldy) {
  for (int64_t c0 = 0; c0 < a.n_tokens; c0 += kArmTokenChunk) {
    const int64_t c1 = std::min(a.n_tokens, c0 + kArmTokenChunk);
    for (int64_t tile = tile0; tile < tile1; ++tile) {
      int64_t t = c0;
      for (; t + 2 <= c1; t += 2) w8_tile_arm<Dot, 2>(w, a, tile, t, y, ldy);
      if (t < c1) w8_tile_arm<Dot, 1>(w, a, tile, t, y, ldy);
    }
  }
}

inline float dot_f32_neon(const float* a, const float* b, int64_t n) {
  float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = vdupq_n_f32(0.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
    acc1 = vfmaq_f32(acc1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
  }
  float s = vaddvq_f32(vaddq_f32(acc0, acc1));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

inline void f16_row_neon(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(dst + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(src + i))));
  for (; i < n; ++i) {
    float16x4_t h = vreinterpret_f16_u16(vdup_n_u16(src[i]));
    dst[i] = vgetq_lane_f32(vcvt_f32_f16(h), 0);
  }
}

inline void round_f16_neon(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(x + i, vcvt_f32_f16(vcvt_f16_f32(vld1q_f32(x + i))));
  for (; i < n; ++i) x[i] = vgetq_lane_f32(vcvt_f32_f16(vcvt_f16_f32(vdupq_n_f32(x[i]))), 0);
}

// Columns in blocks of 16 held in 4 registers across all rows, so `out` is written once.
inline void axpy_rows_neon(const float* a, const float* rows, int64_t n_rows, int64_t n, int64_t ld, float* out) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    float32x4_t acc[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    for (int64_t j = 0; j < n_rows; ++j)
      for (int k = 0; k < 4; ++k) acc[k] = vfmaq_n_f32(acc[k], vld1q_f32(rows + j * ld + i + 4 * k), a[j]);
    for (int k = 0; k < 4; ++k) vst1q_f32(out + i + 4 * k, acc[k]);
  }
  for (; i < n; ++i) {
    float s = 0.0f;
    for (int64_t j = 0; j < n_rows; ++j) s += a[j] * rows[j * ld + i];
    out[i] = s;
  }
}

// Plain ARMv8 NEON: widening multiplies, then pairwise adds down to one int32 per row.
// Pair sums fit int16: |w| <= 128 and |a| <= 127.
struct DotNeon {
  static int32x4_t dot(int32x4_t acc, int8x16_t w, int8x16_t a) {
    const int16x8_t p = vpaddq_s16(vmull_s8(vget_low_s8(w), vget_low_s8(a)), vmull_high_s8(w, a));
    return vpadalq_s16(acc, p);
  }
  static int32x4_t dot2(int32x4_t acc, int8x16_t w0, int8x16_t a0, int8x16_t w1, int8x16_t a1) {
    return dot(dot(acc, w0, a0), w1, a1);
  }
};

}  // namespace
}  // namespace pocketllm
