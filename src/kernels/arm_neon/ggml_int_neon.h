// ARM kernels of kernels/ggml_int.h: one row's blocks (as stored in the file)
// against up to 4 tokens at a time, so each block is loaded and unpacked once
// per 4 tokens. Every weight value fits int8 as a signed number (Q4_K/Q5_K codes
// 0..31, Q6_K q - 32, Q5_0 q - 16, IQ4_XS levels), so `Dot` multiplies
// signed x signed with no sign juggling: sdot on dotprod CPUs, widening
// multiplies on plain NEON. Each sub-block's int32 lanes are scaled by its
// integer scale (mla) and summed lane-wise; one float rescale per super-block
// (Q5_0: per block) and token, into float lanes reduced once per row. The
// integer sums are exact (|lane| < 2^31 for every format), so results differ
// from the reference only by float summation order.
// Included by one .cpp per ISA, so everything here has internal linkage.
#pragma once
#include <arm_neon.h>

#include <algorithm>
#include <cstring>

#include "kernels/ggml_int.h"
#include "weights/blocks_iq4.h"
#include "weights/blocks_k.h"
#include "weights/blocks_legacy.h"

namespace pocketllm {
namespace {

inline float f16_arm(const uint8_t* p) {
  __fp16 h;  // AArch64 converts half to float in hardware (fcvt)
  std::memcpy(&h, p, 2);
  return static_cast<float>(h);
}

// The per-token pointers of tokens t0 .. t0 + NT - 1.
template <int NT>
struct ArmToks {
  const int8_t* q[NT];
  const float* d[NT];
  const int16_t* s16[NT];
  ArmToks(const GgmlActs& a, int64_t t0) {
    for (int t = 0; t < NT; ++t) q[t] = a.tok_q(t0 + t), d[t] = a.tok_d(t0 + t), s16[t] = a.tok_sum16(t0 + t);
  }
};

// Q4_K / Q5_K: sum_j sc_j * (codes . a)_j * d * da - sum_j m_j * sum(a)_j * dmin * da.
template <class Dot, bool kQh>
struct ArmQ45K {
  static constexpr int64_t kBlock = kQK_K;
  static constexpr size_t kBytes = kQh ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K);
  template <int NT>
  static void dot(const uint8_t* row, int64_t nb, const GgmlActs& a, int64_t t0, float* out) {
    const ArmToks<NT> tk(a, t0);
    const uint8x16_t m4 = vdupq_n_u8(0x0F), bit4 = vdupq_n_u8(0x10);
    float32x4_t facc[NT];
    for (int t = 0; t < NT; ++t) facc[t] = vdupq_n_f32(0.0f);
    for (int64_t i = 0; i < nb; ++i) {
      const uint8_t* b = row + i * kBytes;
      // The 12 scale bytes as three words: 6-bit scales and mins 0-3 are bytes
      // 0-3 / 4-7; 4-7 take their low 4 bits from bytes 8-11, top 2 from bits 6-7 of 0-7.
      uint32_t w[3];
      std::memcpy(w, b + 4, 12);
      const uint32_t sc4[2] = {w[0] & 0x3F3F3F3F, (w[2] & 0x0F0F0F0F) | ((w[0] >> 2) & 0x30303030)};
      const uint32_t m4w[2] = {w[1] & 0x3F3F3F3F, ((w[2] >> 4) & 0x0F0F0F0F) | ((w[1] >> 2) & 0x30303030)};
      uint8_t sc[8];
      std::memcpy(sc, sc4, 8);
      const int16x8_t mins = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(reinterpret_cast<const uint8_t*>(m4w))));
      const uint8_t* qs = b + (kQh ? 48 : 16);
      uint8x16_t qh0 = vdupq_n_u8(0), qh1 = vdupq_n_u8(0);
      if constexpr (kQh) qh0 = vld1q_u8(b + 16), qh1 = vld1q_u8(b + 32);
      int32x4_t iacc[NT];
      for (int t = 0; t < NT; ++t) iacc[t] = vdupq_n_s32(0);
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) {
        const uint8x16_t v0 = vld1q_u8(qs + 32 * c), v1 = vld1q_u8(qs + 32 * c + 16);
        uint8x16_t lo0 = vandq_u8(v0, m4), lo1 = vandq_u8(v1, m4), hi0 = vshrq_n_u8(v0, 4), hi1 = vshrq_n_u8(v1, 4);
        if constexpr (kQh) {  // bit j of qh[l] is the 5th bit of weight 32 j + l (j = 2c, 2c + 1)
          lo0 = vorrq_u8(lo0, vandq_u8(vshlq_n_u8(qh0, 4), bit4));
          lo1 = vorrq_u8(lo1, vandq_u8(vshlq_n_u8(qh1, 4), bit4));
          hi0 = vorrq_u8(hi0, vandq_u8(vshlq_n_u8(qh0, 3), bit4));
          hi1 = vorrq_u8(hi1, vandq_u8(vshlq_n_u8(qh1, 3), bit4));
          qh0 = vshrq_n_u8(qh0, 2);
          qh1 = vshrq_n_u8(qh1, 2);
        }
        const int8x16_t l0 = vreinterpretq_s8_u8(lo0), l1 = vreinterpretq_s8_u8(lo1);
        const int8x16_t h0 = vreinterpretq_s8_u8(hi0), h1 = vreinterpretq_s8_u8(hi1);
        for (int t = 0; t < NT; ++t) {
          const int8_t* x = tk.q[t] + i * kQK_K + 64 * c;
          const int32x4_t slo = Dot::dot(Dot::dot(vdupq_n_s32(0), l0, vld1q_s8(x)), l1, vld1q_s8(x + 16));
          const int32x4_t shi = Dot::dot(Dot::dot(vdupq_n_s32(0), h0, vld1q_s8(x + 32)), h1, vld1q_s8(x + 48));
          iacc[t] = vmlaq_n_s32(vmlaq_n_s32(iacc[t], slo, sc[2 * c]), shi, sc[2 * c + 1]);
        }
      }
      const float d = f16_arm(b), dmin = f16_arm(b + 2);
      for (int t = 0; t < NT; ++t) {
        const float da = tk.d[t][i];
        // Sums of the activations over each 32 (adjacent 16s), times the mins.
        const int16_t* s = tk.s16[t] + 16 * i;
        const int16x8_t s32 = vpaddq_s16(vld1q_s16(s), vld1q_s16(s + 8));  // |sum| <= 4064
        const int32x4_t msum = vmlal_high_s16(vmull_s16(vget_low_s16(s32), vget_low_s16(mins)), s32, mins);
        facc[t] = vfmaq_n_f32(facc[t], vcvtq_f32_s32(iacc[t]), d * da);
        facc[t] = vfmsq_n_f32(facc[t], vcvtq_f32_s32(msum), dmin * da);
      }
    }
    for (int t = 0; t < NT; ++t) out[t] = vaddvq_f32(facc[t]);
  }
};

// Q6_K: sum over sub-blocks of 16 of sc_j * (codes - 32) . a.
template <class Dot>
struct ArmQ6K {
  static constexpr int64_t kBlock = kQK_K;
  template <int NT>
  static void dot(const uint8_t* row, int64_t nb, const GgmlActs& a, int64_t t0, float* out) {
    const ArmToks<NT> tk(a, t0);
    const uint8x16_t m4 = vdupq_n_u8(0x0F), m2 = vdupq_n_u8(0x30);
    const int8x16_t off = vdupq_n_s8(32);
    float32x4_t facc[NT];
    for (int t = 0; t < NT; ++t) facc[t] = vdupq_n_f32(0.0f);
    for (int64_t i = 0; i < nb; ++i) {
      const uint8_t* b = row + i * sizeof(BlockQ6_K);
      int8_t sc[16];
      std::memcpy(sc, b + offsetof(BlockQ6_K, scales), 16);
      int32x4_t iacc[NT];
      for (int t = 0; t < NT; ++t) iacc[t] = vdupq_n_s32(0);
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
#pragma GCC unroll 2
        for (int r = 0; r < 2; ++r) {  // weights l = 16 r .. 16 r + 15 of each quarter
          const uint8x16_t ql0 = vld1q_u8(b + 64 * h + 16 * r), ql1 = vld1q_u8(b + 64 * h + 32 + 16 * r);
          const uint8x16_t qh = vld1q_u8(b + 128 + 32 * h + 16 * r);
          // Quarter k of this half: low 4 bits from ql (l, l + 32, l, l + 32; low
          // nibbles for k < 2), top 2 from bits 2k..2k+1 of qh[l].
          const uint8x16_t q[4] = {vorrq_u8(vandq_u8(ql0, m4), vandq_u8(vshlq_n_u8(qh, 4), m2)),
                                   vorrq_u8(vandq_u8(ql1, m4), vandq_u8(vshlq_n_u8(qh, 2), m2)),
                                   vorrq_u8(vshrq_n_u8(ql0, 4), vandq_u8(qh, m2)),
                                   vorrq_u8(vshrq_n_u8(ql1, 4), vandq_u8(vshrq_n_u8(qh, 2), m2))};
#pragma GCC unroll 4
          for (int k = 0; k < 4; ++k) {
            const int8x16_t wv = vsubq_s8(vreinterpretq_s8_u8(q[k]), off);  // in [-32, 31]
            const int first = 128 * h + 32 * k + 16 * r;
            for (int t = 0; t < NT; ++t) {
              const int32x4_t s = Dot::dot(vdupq_n_s32(0), wv, vld1q_s8(tk.q[t] + i * kQK_K + first));
              iacc[t] = vmlaq_n_s32(iacc[t], s, sc[first / 16]);
            }
          }
        }
      }
      const float d = f16_arm(b + offsetof(BlockQ6_K, d));
      for (int t = 0; t < NT; ++t) facc[t] = vfmaq_n_f32(facc[t], vcvtq_f32_s32(iacc[t]), d * tk.d[t][i]);
    }
    for (int t = 0; t < NT; ++t) out[t] = vaddvq_f32(facc[t]);
  }
};

// Q5_0: per block of 32, d * da * ((codes - 16) . a); the activations have one
// scale per 32 here.
template <class Dot>
struct ArmQ50 {
  static constexpr int64_t kBlock = kQK_Legacy;
  template <int NT>
  static void dot(const uint8_t* row, int64_t nb, const GgmlActs& a, int64_t t0, float* out) {
    const ArmToks<NT> tk(a, t0);
    const uint8x16_t m4 = vdupq_n_u8(0x0F), bit4 = vdupq_n_u8(0x10);
    // Byte l tests bit l % 8 of the byte of qh it was given.
    const uint8x16_t bits = vreinterpretq_u8_u64(vdupq_n_u64(0x8040201008040201ULL));
    float32x4_t facc[NT];
    for (int t = 0; t < NT; ++t) facc[t] = vdupq_n_f32(0.0f);
    for (int64_t i = 0; i < nb; ++i) {
      const uint8_t* b = row + i * sizeof(BlockQ5_0);
      const uint8x16_t v = vld1q_u8(b + 6);
      // Fifth bits: weights 0-15 from qh bytes 0-1, weights 16-31 from bytes 2-3.
      const uint8x16_t h0 = vcombine_u8(vdup_n_u8(b[2]), vdup_n_u8(b[3]));
      const uint8x16_t h1 = vcombine_u8(vdup_n_u8(b[4]), vdup_n_u8(b[5]));
      const int8x16_t w0 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vandq_u8(v, m4), vandq_u8(vtstq_u8(h0, bits), bit4))),
                                    vreinterpretq_s8_u8(bit4));
      const int8x16_t w1 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(v, 4), vandq_u8(vtstq_u8(h1, bits), bit4))),
                                    vreinterpretq_s8_u8(bit4));
      const float d = f16_arm(b);
      for (int t = 0; t < NT; ++t) {
        const int8_t* x = tk.q[t] + 32 * i;
        const int32x4_t s = Dot::dot(Dot::dot(vdupq_n_s32(0), w0, vld1q_s8(x)), w1, vld1q_s8(x + 16));
        facc[t] = vfmaq_n_f32(facc[t], vcvtq_f32_s32(s), d * tk.d[t][i]);
      }
    }
    for (int t = 0; t < NT; ++t) out[t] = vaddvq_f32(facc[t]);
  }
};

// IQ4_XS: codes looked up in the 16 signed levels (tbl), sub-blocks of 32 with
// 6-bit scales ls - 32.
template <class Dot>
struct ArmIQ4XS {
  static constexpr int64_t kBlock = kQK_K;
  template <int NT>
  static void dot(const uint8_t* row, int64_t nb, const GgmlActs& a, int64_t t0, float* out) {
    const ArmToks<NT> tk(a, t0);
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    const int8x16_t levels = vld1q_s8(kIQ4Levels);
    float32x4_t facc[NT];
    for (int t = 0; t < NT; ++t) facc[t] = vdupq_n_f32(0.0f);
    for (int64_t i = 0; i < nb; ++i) {
      const uint8_t* b = row + i * sizeof(BlockIQ4_XS);
      uint16_t sh;
      std::memcpy(&sh, b + 2, 2);
      int32_t ls[8];
      for (int j = 0; j < 8; ++j) ls[j] = ((((b[4 + j / 2] >> (4 * (j % 2))) & 0x0F) | (((sh >> (2 * j)) & 3) << 4))) - 32;
      int32x4_t iacc[NT];
      for (int t = 0; t < NT; ++t) iacc[t] = vdupq_n_s32(0);
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        // Sub-block j: 16 bytes, low nibbles are weights 0-15, high nibbles 16-31.
        const uint8x16_t v = vld1q_u8(b + 8 + 16 * j);
        const int8x16_t w0 = vqtbl1q_s8(levels, vandq_u8(v, m4)), w1 = vqtbl1q_s8(levels, vshrq_n_u8(v, 4));
        for (int t = 0; t < NT; ++t) {
          const int8_t* x = tk.q[t] + i * kQK_K + 32 * j;
          const int32x4_t s = Dot::dot(Dot::dot(vdupq_n_s32(0), w0, vld1q_s8(x)), w1, vld1q_s8(x + 16));
          iacc[t] = vmlaq_n_s32(iacc[t], s, ls[j]);
        }
      }
      const float d = f16_arm(b);
      for (int t = 0; t < NT; ++t) facc[t] = vfmaq_n_f32(facc[t], vcvtq_f32_s32(iacc[t]), d * tk.d[t][i]);
    }
    for (int t = 0; t < NT; ++t) out[t] = vaddvq_f32(facc[t]);
  }
};

// Rows [r0, r1) x every token: tokens in chunks of 64 (their activations stay
// in L2 while the rows pass), each row against 4 tokens at a time (the row
// stays in L1 across the chunk).
template <class K>
void ggml_rows_tokens_arm(const uint8_t* data, size_t row_bytes, int64_t cols, const GgmlActs& a, int64_t r0,
                          int64_t r1, float* y, int64_t ldy) {
  const int64_t nb = cols / K::kBlock, n = a.n_tokens();
  constexpr int64_t kChunk = 64;
  for (int64_t tc = 0; tc < n; tc += kChunk) {
    const int64_t te = std::min(n, tc + kChunk);
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* row = data + r * row_bytes;
      float out[4];
      int64_t t = tc;
      for (; t + 4 <= te; t += 4) {
        K::template dot<4>(row, nb, a, t, out);
        for (int i = 0; i < 4; ++i) y[(t + i) * ldy + r] = out[i];
      }
      const int64_t rest = te - t;
      if (rest == 3) K::template dot<3>(row, nb, a, t, out);
      else if (rest == 2) K::template dot<2>(row, nb, a, t, out);
      else if (rest == 1) K::template dot<1>(row, nb, a, t, out);
      for (int64_t i = 0; i < rest; ++i) y[(t + i) * ldy + r] = out[i];
    }
  }
}

// The five kernels for one Dot, as a GgmlIntKernels.
template <class Dot>
constexpr GgmlIntKernels ggml_int_arm() {
  return {.q4_k = ggml_rows_tokens_arm<ArmQ45K<Dot, false>>,
          .q5_k = ggml_rows_tokens_arm<ArmQ45K<Dot, true>>,
          .q6_k = ggml_rows_tokens_arm<ArmQ6K<Dot>>,
          .q5_0 = ggml_rows_tokens_arm<ArmQ50<Dot>>,
          .iq4_xs = ggml_rows_tokens_arm<ArmIQ4XS<Dot>>};
}

}  // namespace
}  // namespace pocketllm
