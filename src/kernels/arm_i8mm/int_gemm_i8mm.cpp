// ARMv8.6 int8 matrix multiply: smmla multiplies a 2x8 int8 tile (2 weight rows)
// by an 8x2 tile (2 tokens), giving 4 int32 sums per instruction, so pairs of
// tokens share every unpacked weight. Single tokens (decode) use sdot, and so
// do the GGML block kernels and the q8 KV cache's scores (the dotprod table's code).
#include "kernels/arm_neon/ggml_int_neon.h"
#include "kernels/arm_neon/int_gemm_neon.h"
#include "kernels/arm_neon/kv_q8_neon.h"

namespace pocketllm {
namespace {
struct DotSdot {
  static int32x4_t dot(int32x4_t acc, int8x16_t w, int8x16_t a) { return vdotq_s32(acc, w, a); }
  static int32x4_t dot2(int32x4_t acc, int8x16_t w0, int8x16_t a0, int8x16_t w1, int8x16_t a1) {
    return vdotq_s32(vdotq_s32(acc, w0, a0), w1, a1);
  }
};

// Interleaves 4 rows x 4 k (x) and the same rows' next 4 k (y) into two 2x8 smmla tiles.
inline void rows_2x8(int8x16_t x, int8x16_t y, int8x16_t& rows01, int8x16_t& rows23) {
  const uint32x4_t a = vreinterpretq_u32_s8(x), b = vreinterpretq_u32_s8(y);
  rows01 = vreinterpretq_s8_u32(vzip1q_u32(a, b));
  rows23 = vreinterpretq_s8_u32(vzip2q_u32(a, b));
}

// Two tokens (tok0, tok0 + 1) against one 16-row tile; acc[rp] holds
// [row 2rp . t0, row 2rp . t1, row 2rp+1 . t0, row 2rp+1 . t1].
template <int Bits>
void tile_2tokens(const PackedInt& w, const QuantActs& a, int64_t tile, int64_t tok0, float* y, int64_t ldy) {
  const uint8x16_t m4 = vdupq_n_u8(0x0F);
  float32x4_t facc[8];
  for (auto& f : facc) f = vdupq_n_f32(0.0f);
  const uint8_t* src = w.tile(tile);
  const uint16_t* sc = w.scales + tile * w.n_groups * kTileRows;
  const int64_t steps = w.group / 8;
  const int8_t* a0 = a.q.data() + tok0 * a.kp;
  const int8_t* a1 = a0 + a.kp;
  for (int64_t g = 0; g < w.n_groups; ++g) {
    int32x4_t acc[8];
    for (auto& v : acc) v = vdupq_n_s32(0);
    for (int64_t s = 0; s < steps; ++s) {
      const int64_t k = g * w.group + 8 * s;
      const int8x16_t b = vcombine_s8(vld1_s8(a0 + k), vld1_s8(a1 + k));
      for (int q = 0; q < 4; ++q) {
        int8x16_t x, z;
        if constexpr (Bits == 4) {
          const uint8x16_t v = vld1q_u8(src + 16 * q);
          x = vreinterpretq_s8_u8(vandq_u8(v, m4));
          z = vreinterpretq_s8_u8(vshrq_n_u8(v, 4));
        } else {
          x = vld1q_s8(reinterpret_cast<const int8_t*>(src + 16 * q));
          z = vld1q_s8(reinterpret_cast<const int8_t*>(src + 64 + 16 * q));
        }
        int8x16_t r01, r23;
        rows_2x8(x, z, r01, r23);
        acc[2 * q] = vmmlaq_s32(acc[2 * q], r01, b);
        acc[2 * q + 1] = vmmlaq_s32(acc[2 * q + 1], r23, b);
      }
      src += Bits == 4 ? 64 : 128;
    }
    const int64_t ag0 = tok0 * a.n_groups + g, ag1 = ag0 + a.n_groups;
    const float da[4] = {a.d[ag0], a.d[ag1], a.d[ag0], a.d[ag1]};
    const float32x4_t dav = vld1q_f32(da);
    int32x4_t corr = vdupq_n_s32(0);
    if constexpr (Bits == 4) {
      const int32_t c[4] = {8 * a.sum[ag0], 8 * a.sum[ag1], 8 * a.sum[ag0], 8 * a.sum[ag1]};
      corr = vld1q_s32(c);
    }
    float ws_all[kTileRows];
    for (int q = 0; q < 4; ++q) vst1q_f32(ws_all + 4 * q, scales4(sc + g * kTileRows + 4 * q));
    for (int rp = 0; rp < 8; ++rp) {
      const float* ws = ws_all + 2 * rp;
      const float32x4_t wv = vcombine_f32(vdup_n_f32(ws[0]), vdup_n_f32(ws[1]));
      facc[rp] = vfmaq_f32(facc[rp], vcvtq_f32_s32(vsubq_s32(acc[rp], corr)), vmulq_f32(wv, dav));
    }
  }
  float32x4_t t0[4], t1[4];
  for (int q = 0; q < 4; ++q) {
    t0[q] = vuzp1q_f32(facc[2 * q], facc[2 * q + 1]);
    t1[q] = vuzp2q_f32(facc[2 * q], facc[2 * q + 1]);
  }
  const int n_rows = static_cast<int>(std::min<int64_t>(kTileRows, w.rows - tile * kTileRows));
  store_rows_arm(y + tok0 * ldy + tile * kTileRows, t0, n_rows);
  store_rows_arm(y + (tok0 + 1) * ldy + tile * kTileRows, t1, n_rows);
}

template <int Bits>
void gemm_i8mm(const PackedInt& w, const QuantActs& a, int64_t tile0, int64_t tile1, float* y, int64_t ldy) {
  for (int64_t c0 = 0; c0 < a.n_tokens; c0 += kArmTokenChunk) {
    const int64_t c1 = std::min(a.n_tokens, c0 + kArmTokenChunk);
    for (int64_t tile = tile0; tile < tile1; ++tile) {
      int64_t t = c0;
      for (; t + 2 <= c1; t += 2) tile_2tokens<Bits>(w, a, tile, t, y, ldy);
      if (t < c1) {
        if constexpr (Bits == 4)
          w4_tile_arm<DotSdot, 1>(w, a, tile, t, y, ldy);
        else
          w8_tile_arm<DotSdot, 1>(w, a, tile, t, y, ldy);
      }
    }
  }
}
}  // namespace

extern const KernelTable kI8mmKernels = {
    .name = "i8mm",
    .gemm_w4 = gemm_i8mm<4>,
    .gemm_w8 = gemm_i8mm<8>,
    .dot_f32 = dot_f32_neon,
    .f16_to_f32_row = f16_row_neon,
    .round_f16 = round_f16_neon,
    .axpy_rows = axpy_rows_neon,
    .reads_wsum128 = false,
    .softmax = ref_softmax,
    .quantize_act_row = ref_quantize_act_row,
    .silu_mul = ref_silu_mul,
    .axpy_rows_multi = nullptr,  // callers loop axpy_rows (axpy_rows_multi() in table.h)
    .ggml = ggml_int_arm<DotSdot>(),
    .kv_q8_scores = kv_q8_scores_arm<DotSdot>,
    .kv_q8_wsum = kv_q8_wsum_arm,
};
}  // namespace pocketllm
