// ARM attention kernels over the 8-bit KV cache (KvQ8ScoresFn / KvQ8WsumFn in
// kernels/table.h), templated on the int8 `Dot` of int_gemm_neon.h (sdot on
// dotprod CPUs, widening multiplies on plain NEON).
// Scores: per key, each full 32-dim block is two Dot steps per query head, the
// int32 lanes scaled by qd*kd into a float accumulator; a short last block
// (head_dim not a multiple of 32) is summed in scalar code. Up to 4 heads share
// each key load.
// Weighted sum: values dequantized on read (int8 -> f32 times the block scale),
// 16 dims x up to 4 heads of accumulators in registers, over tiles of positions
// small enough to stay in L1 while each 16-dim slice of them is read.
// Included by one .cpp per ISA, so everything here has internal linkage.
#pragma once
#include <arm_neon.h>

#include <algorithm>

#include "kernels/table.h"

namespace pocketllm {
namespace {

inline const float* kv_row_scales_arm(const float* d, size_t stride, int64_t j) {
  return reinterpret_cast<const float*>(reinterpret_cast<const uint8_t*>(d) + static_cast<size_t>(j) * stride);
}

template <class Dot, int M>
void kv_scores_m_arm(const int8_t* q, const float* qd, int64_t hd, const int8_t* k, const float* kd, size_t stride,
                     int64_t n, float* out, int64_t ldo) {
  const int64_t nb = (hd + kKvQ8Block - 1) / kKvQ8Block, full = hd / kKvQ8Block;
  for (int64_t j = 0; j < n; ++j) {
    const int8_t* kj = k + static_cast<size_t>(j) * stride;
    const float* dj = kv_row_scales_arm(kd, stride, j);
    float32x4_t acc[M];
    for (int i = 0; i < M; ++i) acc[i] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < full; ++b) {
      const int8x16_t k0 = vld1q_s8(kj + b * kKvQ8Block), k1 = vld1q_s8(kj + b * kKvQ8Block + 16);
      for (int i = 0; i < M; ++i) {
        const int8_t* qi = q + i * hd + b * kKvQ8Block;
        const int32x4_t s = Dot::dot(Dot::dot(vdupq_n_s32(0), k0, vld1q_s8(qi)), k1, vld1q_s8(qi + 16));
        acc[i] = vfmaq_n_f32(acc[i], vcvtq_f32_s32(s), qd[i * nb + b] * dj[b]);
      }
    }
    for (int i = 0; i < M; ++i) {
      float r = vaddvq_f32(acc[i]);
      if (full < nb) {  // the short last block
        int32_t s = 0;
        for (int64_t d = full * kKvQ8Block; d < hd; ++d) s += int32_t{q[i * hd + d]} * int32_t{kj[d]};
        r += qd[i * nb + full] * dj[full] * static_cast<float>(s);
      }
      out[i * ldo + j] = r;
    }
  }
}

constexpr int64_t kKvWsumTileArm = 128;  // positions per tile: 128 rows x (16 B + scale) stay in L1

template <int M>
void kv_wsum_m_arm(const float* w, int64_t ldw, const int8_t* v, const float* vd, size_t stride, int64_t n,
                   int64_t hd, float* out, int64_t ldo) {
  const int64_t c16 = hd / 16 * 16;
  for (int i = 0; i < M; ++i) std::fill(out + i * ldo, out + i * ldo + hd, 0.0f);
  for (int64_t j0 = 0; j0 < n; j0 += kKvWsumTileArm) {
    const int64_t j1 = std::min(n, j0 + kKvWsumTileArm);
    for (int64_t d0 = 0; d0 < c16; d0 += 16) {  // 16 | 32: a slice lies in one scale block
      const int64_t b = d0 / kKvQ8Block;
      float32x4_t acc[M][4];
      for (int i = 0; i < M; ++i)
        for (int c = 0; c < 4; ++c) acc[i][c] = vld1q_f32(out + i * ldo + d0 + 4 * c);
      for (int64_t j = j0; j < j1; ++j) {
        const int8x16_t x = vld1q_s8(v + static_cast<size_t>(j) * stride + d0);
        const float s = kv_row_scales_arm(vd, stride, j)[b];
        const int16x8_t lo = vmovl_s8(vget_low_s8(x)), hi = vmovl_high_s8(x);
        const float32x4_t xf[4] = {vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo))), s),
                                   vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(lo)), s),
                                   vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi))), s),
                                   vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(hi)), s)};
        for (int i = 0; i < M; ++i) {
          const float wv = w[i * ldw + j];
          for (int c = 0; c < 4; ++c) acc[i][c] = vfmaq_n_f32(acc[i][c], xf[c], wv);
        }
      }
      for (int i = 0; i < M; ++i)
        for (int c = 0; c < 4; ++c) vst1q_f32(out + i * ldo + d0 + 4 * c, acc[i][c]);
    }
    for (int64_t j = j0; j < j1 && c16 < hd; ++j) {  // dims past the last 16-dim slice
      const int8_t* vj = v + static_cast<size_t>(j) * stride;
      const float* dj = kv_row_scales_arm(vd, stride, j);
      for (int i = 0; i < M; ++i)
        for (int64_t d = c16; d < hd; ++d)
          out[i * ldo + d] += w[i * ldw + j] * dj[d / kKvQ8Block] * static_cast<float>(vj[d]);
    }
  }
}

template <class Dot>
void kv_q8_scores_arm(const int8_t* q, const float* qd, int64_t m, int64_t hd, const int8_t* k, const float* kd,
                      size_t stride, int64_t n, float* out, int64_t ldo) {
  const int64_t nb = (hd + kKvQ8Block - 1) / kKvQ8Block;
  for (int64_t i = 0; i < m; i += 4) {
    const int8_t* qi = q + i * hd;
    const float* di = qd + i * nb;
    float* oi = out + i * ldo;
    switch (std::min<int64_t>(4, m - i)) {
      case 1: kv_scores_m_arm<Dot, 1>(qi, di, hd, k, kd, stride, n, oi, ldo); break;
      case 2: kv_scores_m_arm<Dot, 2>(qi, di, hd, k, kd, stride, n, oi, ldo); break;
      case 3: kv_scores_m_arm<Dot, 3>(qi, di, hd, k, kd, stride, n, oi, ldo); break;
      default: kv_scores_m_arm<Dot, 4>(qi, di, hd, k, kd, stride, n, oi, ldo); break;
    }
  }
}

inline void kv_q8_wsum_arm(const float* w, int64_t ldw, int64_t m, const int8_t* v, const float* vd, size_t stride,
                           int64_t n, int64_t hd, float* out, int64_t ldo) {
  for (int64_t i = 0; i < m; i += 4) {
    const float* wi = w + i * ldw;
    float* oi = out + i * ldo;
    switch (std::min<int64_t>(4, m - i)) {
      case 1: kv_wsum_m_arm<1>(wi, ldw, v, vd, stride, n, hd, oi, ldo); break;
      case 2: kv_wsum_m_arm<2>(wi, ldw, v, vd, stride, n, hd, oi, ldo); break;
      case 3: kv_wsum_m_arm<3>(wi, ldw, v, vd, stride, n, hd, oi, ldo); break;
      default: kv_wsum_m_arm<4>(wi, ldw, v, vd, stride, n, hd, oi, ldo); break;
    }
  }
}

}  // namespace
}  // namespace pocketllm
