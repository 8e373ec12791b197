// W4A8 / W8A8 over the 16-row tiles of weights/int_tiles.h with 256-bit vectors:
// each 64-byte step is two halves of 8 rows. `Dot` supplies the int8 dot product
// (AVX2 maddubs+madd, or AVX-VNNI vpdpbusd). Included by one .cpp per ISA, so
// everything here has internal linkage.
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/ref/ref_kernels.h"
#include "kernels/table.h"

namespace pocketllm {
namespace {

constexpr int64_t kTokenChunk256 = 64;
#ifndef POCKETLLM_GEMM_TOKENS
#define POCKETLLM_GEMM_TOKENS 4
#endif
constexpr int kGemmTokens256 = POCKETLLM_GEMM_TOKENS;  // tokens per register tile

inline __m256i bcast4_256(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

inline void store_rows_256(float* dst, __m256 v, int n_rows) {
  if (n_rows >= 8) {
    _mm256_storeu_ps(dst, v);
    return;
  }
  alignas(32) float tmp[8];
  _mm256_store_ps(tmp, v);
  for (int i = 0; i < n_rows; ++i) dst[i] = tmp[i];
}

// One 32-weight chunk of a group is 4 steps of 64 bytes. Dot::part() sums a chunk's
// products in a narrow accumulator (AVX2: int16, whose 8 maddubs terms stay within
// 8 * 2 * 15 * 127 = 30480) and Dot::flush() adds it to the int32 group sum.
inline __m256i nib_lo(__m256i v) { return _mm256_and_si256(v, _mm256_set1_epi8(0x0F)); }
inline __m256i nib_hi(__m256i v) { return _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0F)); }

// Decode (one token): both 8-row halves of a tile per pass, streamed once, prefetched ahead.
// kChunks: 32-weight chunks per group when known at compile time (g32: 1), else 0.
template <class Dot, int kChunks>
void w4_tile_gemv_256(const PackedInt& w, const QuantActs& a, int64_t tile, int64_t tok, float* y, int64_t ldy) {
  __m256 facc0 = _mm256_setzero_ps(), facc1 = _mm256_setzero_ps();
  const uint8_t* src = w.tile(tile);
  const uint16_t* sc = w.scales + tile * w.n_groups * kTileRows;
  const int64_t chunks = kChunks ? kChunks : w.group / 32;
  const int8_t* aq = a.q.data() + tok * a.kp;
  for (int64_t g = 0; g < w.n_groups; ++g) {
    __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
    for (int64_t c = 0; c < chunks; ++c) {
      __m256i p0 = Dot::zero_part(), p1 = Dot::zero_part();
      for (int s = 0; s < 4; ++s, src += 64, aq += 8) {
        _mm_prefetch(reinterpret_cast<const char*>(src) + 1024, _MM_HINT_T0);
        const __m256i alo = bcast4_256(aq), ahi = bcast4_256(aq + 4);
        const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
        const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 32));
        p0 = Dot::part(p0, nib_lo(v0), nib_hi(v0), alo, ahi);
        p1 = Dot::part(p1, nib_lo(v1), nib_hi(v1), alo, ahi);
      }
      acc0 = Dot::flush(acc0, p0);
      acc1 = Dot::flush(acc1, p1);
    }
    const int64_t ag = tok * a.n_groups + g;
    const __m256i corr = _mm256_set1_epi32(8 * a.sum[ag]);
    const __m256 da = _mm256_set1_ps(a.d[ag]);
    const __m256 ws0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc + g * kTileRows)));
    const __m256 ws1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc + g * kTileRows + 8)));
    facc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(acc0, corr)), _mm256_mul_ps(ws0, da), facc0);
    facc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(acc1, corr)), _mm256_mul_ps(ws1, da), facc1);
  }
  const int n_rows = static_cast<int>(std::min<int64_t>(kTileRows, w.rows - tile * kTileRows));
  float* dst = y + tok * ldy + tile * kTileRows;
  store_rows_256(dst, facc0, n_rows);
  if (n_rows > 8) store_rows_256(dst + 8, facc1, n_rows - 8);
}

// Prefill: NT tokens against a whole tile; the nibbles unpacked once and each
// broadcast activation word feed both 8-row halves.
template <class Dot, int kChunks, int NT>
void w4_tile_gemm_256(const PackedInt& w, const QuantActs& a, int64_t tile, int64_t tok0, float* y, int64_t ldy) {
  __m256 facc[NT][2];
  for (int t = 0; t < NT; ++t) facc[t][0] = facc[t][1] = _mm256_setzero_ps();
  const uint8_t* src = w.tile(tile);
  const uint16_t* sc = w.scales + tile * w.n_groups * kTileRows;
  const int64_t chunks = kChunks ? kChunks : w.group / 32;
  const int8_t* aq = a.q.data() + tok0 * a.kp;
  for (int64_t g = 0; g < w.n_groups; ++g) {
    __m256i acc[NT][2];
    for (int t = 0; t < NT; ++t) acc[t][0] = acc[t][1] = _mm256_setzero_si256();
    for (int64_t c = 0; c < chunks; ++c) {
      __m256i part[NT][2];
      for (int t = 0; t < NT; ++t) part[t][0] = part[t][1] = Dot::zero_part();
      // Not unrolled: GCC would reassociate the int16 sums of 4 steps into a tree and spill it.
#pragma GCC unroll 1
      for (int s = 0; s < 4; ++s, src += 64, aq += 8) {
        const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
        const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 32));
        const __m256i lo0 = nib_lo(v0), hi0 = nib_hi(v0), lo1 = nib_lo(v1), hi1 = nib_hi(v1);
        for (int t = 0; t < NT; ++t) {
          const __m256i alo = bcast4_256(aq + t * a.kp), ahi = bcast4_256(aq + t * a.kp + 4);
          part[t][0] = Dot::part(part[t][0], lo0, hi0, alo, ahi);
          part[t][1] = Dot::part(part[t][1], lo1, hi1, alo, ahi);
        }
      }
      for (int t = 0; t < NT; ++t) {
        acc[t][0] = Dot::flush(acc[t][0], part[t][0]);
        acc[t][1] = Dot::flush(acc[t][1], part[t][1]);
      }
    }
    for (int h = 0; h < 2; ++h) {
      const __m256 ws = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc + g * kTileRows + 8 * h)));
      for (int t = 0; t < NT; ++t) {
        const int64_t ag = (tok0 + t) * a.n_groups + g;
        const __m256i isum = _mm256_sub_epi32(acc[t][h], _mm256_set1_epi32(8 * a.sum[ag]));
        facc[t][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(ws, _mm256_set1_ps(a.d[ag])), facc[t][h]);
      }
    }
  }
  const int n_rows = static_cast<int>(std::min<int64_t>(kTileRows, w.rows - tile * kTileRows));
  for (int t = 0; t < NT; ++t) {
    float* dst = y + (tok0 + t) * ldy + tile * kTileRows;
    store_rows_256(dst, facc[t][0], n_rows);
    if (n_rows > 8) store_rows_256(dst + 8, facc[t][1], n_rows - 8);
  }
}

// `acts` are the int8 activations, or q + 128 as bytes when Dot::kOffsetActs.
template <class Dot, int NT>
void w8_tile_256(const PackedInt& w, const QuantActs& a, const uint8_t* acts, int64_t tile, int64_t tok0, float* y,
                 int64_t ldy) {
  __m256 facc[NT][2];
  for (int t = 0; t < NT; ++t) facc[t][0] = facc[t][1] = _mm256_setzero_ps();
  const uint8_t* src = w.tile(tile);
  const uint16_t* sc = w.scales + tile * w.n_groups * kTileRows;
  // Null unless the table offsets activations (pack_int skips it): no arithmetic on it then.
  const int32_t* wsum = Dot::kOffsetActs ? w.wsum128 + tile * w.n_groups * kTileRows : nullptr;
  const int64_t steps = w.group / 4;
  for (int64_t g = 0; g < w.n_groups; ++g) {
    __m256i acc[NT][2];
    for (int t = 0; t < NT; ++t) acc[t][0] = acc[t][1] = _mm256_setzero_si256();
    const uint8_t* ap = acts + g * w.group;
    for (int64_t s = 0; s < steps; ++s, src += 64, ap += 4) {
      for (int h = 0; h < 2; ++h) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 32 * h));
        const __m256i vw = Dot::prepare_w8(v);
        for (int t = 0; t < NT; ++t) acc[t][h] = Dot::bytes(acc[t][h], v, vw, bcast4_256(ap + t * a.kp));
      }
    }
    for (int t = 0; t < NT; ++t) {
      const int64_t ag = (tok0 + t) * a.n_groups + g;
      const __m256 da = _mm256_set1_ps(a.d[ag]);
      for (int h = 0; h < 2; ++h) {
        const __m256 ws = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc + g * kTileRows + 8 * h)));
        __m256i isum = acc[t][h];
        if constexpr (Dot::kOffsetActs)
          isum = _mm256_sub_epi32(isum, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wsum + g * kTileRows + 8 * h)));
        facc[t][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(ws, da), facc[t][h]);
      }
    }
  }
  const int n_rows = static_cast<int>(std::min<int64_t>(kTileRows, w.rows - tile * kTileRows));
  for (int t = 0; t < NT; ++t) {
    float* dst = y + (tok0 + t) * ldy + tile * kTileRows;
    store_rows_256(dst, facc[t][0], n_rows);
    if (n_rows > 8) store_rows_256(dst + 8, facc[t][1], n_rows - 8);
  }
}

template <class Dot, int kChunks>
void gemm_w4_chunks_256(const PackedInt& w, const QuantActs& a, int64_t tile0, int64_t tile1, float* y, int64_t ldy) {
  if (a.n_tokens == 1) {
    for (int64_t tile = tile0; tile < tile1; ++tile) w4_tile_gemv_256<Dot, kChunks>(w, a, tile, 0, y, ldy);
    return;
  }
  for (int64_t c0 = 0; c0 < a.n_tokens; c0 += kTokenChunk256) {
    const int64_t c1 = std::min(a.n_tokens, c0 + kTokenChunk256);
    for (int64_t tile = tile0; tile < tile1; ++tile) {
      int64_t t = c0;
      for (; t + kGemmTokens256 <= c1; t += kGemmTokens256)
        w4_tile_gemm_256<Dot, kChunks, kGemmTokens256>(w, a, tile, t, y, ldy);
      for (; t < c1; ++t) w4_tile_gemm_256<Dot, kChunks, 1>(w, a, tile, t, y, ldy);
    }
  }
}

template <class Dot>
void gemm_w4_256(const PackedInt& w, const QuantActs& a, int64_t tile0, int64_t tile1, float* y, int64_t ldy) {
  if (w.group == 32) return gemm_w4_chunks_256<Dot, 1>(w, a, tile0, tile1, y, ldy);
  gemm_w4_chunks_256<Dot, 0>(w, a, tile0, tile1, y, ldy);
}

template <class Dot>
void gemm_w8_256(const PackedInt& w, const QuantActs& a, int64_t tile0, int64_t tile1, float* y, int64_t ldy) {
  thread_local std::vector<uint8_t> scratch;
  for (int64_t c0 = 0; c0 < a.n_tokens; c0 += kTokenChunk256) {
    const int64_t c1 = std::min(a.n_tokens, c0 + kTokenChunk256);
    const uint8_t* acts = reinterpret_cast<const uint8_t*>(a.q.data() + c0 * a.kp);
    if constexpr (Dot::kOffsetActs) acts = offset_act_rows(a, c0, c1, scratch);  // q + 128
    for (int64_t tile = tile0; tile < tile1; ++tile) {
      int64_t t = c0;
      for (; t + 2 <= c1; t += 2) w8_tile_256<Dot, 2>(w, a, acts + (t - c0) * a.kp, tile, t, y, ldy);
      if (t < c1) w8_tile_256<Dot, 1>(w, a, acts + (t - c0) * a.kp, tile, t, y, ldy);
    }
  }
}

inline float dot_f32_256(const float* a, const float* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  if (i + 8 <= n) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    i += 8;
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, _mm256_add_ps(acc0, acc1));
  float s = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

inline void f16_row_f16c(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  for (; i < n; ++i) dst[i] = _cvtsh_ss(src[i]);
}

inline void round_f16_f16c(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(x + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT)));
  for (; i < n; ++i) x[i] = _cvtsh_ss(_cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT));
}

// Columns in blocks of 32 held in 4 registers across all rows, so `out` is written once.
inline void axpy_rows_256(const float* a, const float* rows, int64_t n_rows, int64_t n, int64_t ld, float* out) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t j = 0; j < n_rows; ++j) {
      const __m256 aj = _mm256_set1_ps(a[j]);
      for (int k = 0; k < 4; ++k) acc[k] = _mm256_fmadd_ps(aj, _mm256_loadu_ps(rows + j * ld + i + 8 * k), acc[k]);
    }
    for (int k = 0; k < 4; ++k) _mm256_storeu_ps(out + i + 8 * k, acc[k]);
  }
  for (; i + 8 <= n; i += 8) {
    __m256 acc = _mm256_setzero_ps();
    for (int64_t j = 0; j < n_rows; ++j) acc = _mm256_fmadd_ps(_mm256_set1_ps(a[j]), _mm256_loadu_ps(rows + j * ld + i), acc);
    _mm256_storeu_ps(out + i, acc);
  }
  for (; i < n; ++i) {
    float s = 0.0f;
    for (int64_t j = 0; j < n_rows; ++j) s += a[j] * rows[j * ld + i];
    out[i] = s;
  }
}

// ref_quantize_act_row with 8 lanes (max_ps keeps its second operand when either is
// NaN, as std::max does; the same 1 / d; RNE rounding): bit for bit the reference.
// Tails of fewer than 8 go through the reference's own per-value rule.
inline void quantize_act_row_256(const float* x, int64_t cols, int64_t group, int64_t n_groups, float static_d,
                                 int8_t* q, float* d, int32_t* sum) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  for (int64_t gi = 0; gi < n_groups; ++gi) {
    const int64_t c0 = gi * group, n = std::max<int64_t>(0, std::min(cols, c0 + group) - c0);
    const float* xg = x + c0;
    int8_t* qg = q + c0;
    float dg = static_d;
    if (dg == 0) {
      __m256 mx = _mm256_setzero_ps();
      int64_t i = 0;
      for (; i + 8 <= n; i += 8) mx = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(xg + i), abs_mask), mx);
      alignas(32) float lanes[8];
      _mm256_store_ps(lanes, mx);
      float amax = 0;
      for (float m : lanes) amax = std::max(amax, m);
      for (; i < n; ++i) amax = std::max(amax, std::fabs(xg[i]));
      dg = amax / 127.0f;
    }
    const float inv_s = dg > 0 ? 1.0f / dg : 0.0f;
    const __m256 inv = _mm256_set1_ps(inv_s);
    __m256i s = _mm256_setzero_si256();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
      __m256 y = _mm256_mul_ps(_mm256_loadu_ps(xg + i), inv);
      y = _mm256_and_ps(y, _mm256_cmp_ps(y, y, _CMP_ORD_Q));  // NaN -> 0
      y = _mm256_round_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      y = _mm256_min_ps(_mm256_max_ps(y, _mm256_set1_ps(-127.0f)), _mm256_set1_ps(127.0f));
      const __m256i v = _mm256_cvtps_epi32(y);
      s = _mm256_add_epi32(s, v);
      const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(qg + i), _mm_packs_epi16(w16, w16));
    }
    alignas(32) int32_t lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), s);
    int32_t total = 0;
    for (int32_t v : lanes) total += v;
    for (; i < n; ++i) total += qg[i] = quantize_act_value(xg[i] * inv_s);
    for (; i < group; ++i) qg[i] = 0;
    d[gi] = dg;
    sum[gi] = total;
  }
}

// exp(x) for x <= 0 (x >= -87 computes, below gives 0): 2^n * p(r) as the
// AVX-512 table's exp_nonpositive, 2^n built in the exponent bits (n >= -126).
inline __m256 exp_nonpositive_256(__m256 x) {
  const __m256 xc = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256 pow2n = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
  const __m256 keep = _mm256_cmp_ps(x, _mm256_set1_ps(-87.0f), _CMP_GE_OQ);  // NaN and x < -87 -> 0
  return _mm256_and_ps(_mm256_mul_ps(p, pow2n), keep);
}

// silu(a) * b as the AVX-512 table computes it (e = exp(-|a|), no overflow).
inline void silu_mul_256(float* a, const float* b, int64_t n) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF)), one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(a + i);
    const __m256 e = exp_nonpositive_256(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_and_ps(x, abs_mask)));
    const __m256 num = _mm256_blendv_ps(x, _mm256_mul_ps(x, e), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
    _mm256_storeu_ps(a + i, _mm256_mul_ps(_mm256_div_ps(num, _mm256_add_ps(one, e)), _mm256_loadu_ps(b + i)));
  }
  ref_silu_mul(a + i, b + i, n - i);
}

}  // namespace
}  // namespace pocketllm
