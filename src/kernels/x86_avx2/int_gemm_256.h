// W4A8 / W8A8 over the 16-row tiles of kernels/table.h with 256-bit vectors:
// each 64-byte step is two halves of 8 rows. `Dot` supplies the int8 dot product
// (AVX2 maddubs+madd, or AVX-VNNI vpdpbusd). Included by one .cpp per ISA, so
// everything here has internal linkage.
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/table.h"

namespace pocketllm {
namespace {

constexpr int64_t kTokenChunk256 = 64;

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

template <class Dot, int NT>
void w4_tile_256(const PackedInt& w, const QuantActs& a, int64_t tile, int64_t tok0, float* y, int64_t ldy) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  __m256 facc[NT][2];
  for (int t = 0; t < NT; ++t) facc[t][0] = facc[t][1] = _mm256_setzero_ps();
  const uint8_t* src = w.tile(tile);
  const uint16_t* sc = w.scales.data() + tile * w.n_groups * kTileRows;
  const int64_t steps = w.group / 8;
  for (int64_t g = 0; g < w.n_groups; ++g) {
    __m256i acc[NT][2];
    for (int t = 0; t < NT; ++t) acc[t][0] = acc[t][1] = _mm256_setzero_si256();
    const int8_t* aq = a.q.data() + tok0 * a.kp + g * w.group;
    for (int64_t s = 0; s < steps; ++s, src += 64, aq += 8) {
      for (int h = 0; h < 2; ++h) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 32 * h));
        const __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
        for (int t = 0; t < NT; ++t)
          acc[t][h] = Dot::nibbles(acc[t][h], lo, hi, bcast4_256(aq + t * a.kp), bcast4_256(aq + t * a.kp + 4));
      }
    }
    for (int t = 0; t < NT; ++t) {
      const int64_t ag = (tok0 + t) * a.n_groups + g;
      const __m256i corr = _mm256_set1_epi32(8 * a.sum[ag]);
      const __m256 da = _mm256_set1_ps(a.d[ag]);
      for (int h = 0; h < 2; ++h) {
        const __m256 ws = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc + g * kTileRows + 8 * h)));
        const __m256i isum = _mm256_sub_epi32(acc[t][h], corr);
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

// `acts` are the int8 activations, or q + 128 as bytes when Dot::kOffsetActs.
template <class Dot, int NT>
void w8_tile_256(const PackedInt& w, const QuantActs& a, const uint8_t* acts, int64_t tile, int64_t tok0, float* y,
                 int64_t ldy) {
  __m256 facc[NT][2];
  for (int t = 0; t < NT; ++t) facc[t][0] = facc[t][1] = _mm256_setzero_ps();
  const uint8_t* src = w.tile(tile);
  const uint16_t* sc = w.scales.data() + tile * w.n_groups * kTileRows;
  const int32_t* wsum = w.wsum128.data() + tile * w.n_groups * kTileRows;
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

template <class Dot>
void gemm_w4_256(const PackedInt& w, const QuantActs& a, int64_t tile0, int64_t tile1, float* y, int64_t ldy) {
  for (int64_t c0 = 0; c0 < a.n_tokens; c0 += kTokenChunk256) {
    const int64_t c1 = std::min(a.n_tokens, c0 + kTokenChunk256);
    for (int64_t tile = tile0; tile < tile1; ++tile) {
      int64_t t = c0;
      for (; t + 2 <= c1; t += 2) w4_tile_256<Dot, 2>(w, a, tile, t, y, ldy);
      if (t < c1) w4_tile_256<Dot, 1>(w, a, tile, t, y, ldy);
    }
  }
}

template <class Dot>
void gemm_w8_256(const PackedInt& w, const QuantActs& a, int64_t tile0, int64_t tile1, float* y, int64_t ldy) {
  thread_local std::vector<uint8_t> au;
  for (int64_t c0 = 0; c0 < a.n_tokens; c0 += kTokenChunk256) {
    const int64_t c1 = std::min(a.n_tokens, c0 + kTokenChunk256);
    const auto* q = reinterpret_cast<const uint8_t*>(a.q.data() + c0 * a.kp);
    const uint8_t* acts = q;
    if constexpr (Dot::kOffsetActs) {
      au.resize(static_cast<size_t>((c1 - c0) * a.kp));
      for (size_t i = 0; i < au.size(); ++i) au[i] = q[i] ^ 0x80;  // q + 128
      acts = au.data();
    }
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

}  // namespace
}  // namespace pocketllm
