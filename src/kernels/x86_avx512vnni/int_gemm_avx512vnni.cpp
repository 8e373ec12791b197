// W4A8 / W8A8 over the 16-row tiles of weights/int_tiles.h with 512-bit vpdpbusd:
// one zmm holds the int32 sums of 16 rows, activations are broadcast 4 bytes at a time.
// GCC 12's AVX-512 headers trip -Wuninitialized on their own _mm512_undefined_*().
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/table.h"
#include "kernels/x86_avx2/kv_q8_avx2.h"

namespace pocketllm {
namespace {

constexpr int64_t kTokenChunk = 64;  // tokens whose activations stay in L1/L2 while a tile is reused

// acc += u8 x s8 dot products (vpdpbusd). GCC 12's intrinsic does not keep the
// accumulator in place inside loops: it copies it to a scratch register and back
// around every instruction and spills under pressure (the prefill kernel issued
// a move per vpdpbusd and three stack round trips per step). The asm ties it.
inline void dpbusd(__m512i& acc, __m512i u8, __m512i s8) { asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8)); }

inline __m512i bcast4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

inline void store_rows(float* dst, __m512 v, int n_rows) {
  _mm512_mask_storeu_ps(dst, static_cast<__mmask16>((1u << n_rows) - 1), v);
}

// 4-bit: weights are unsigned nibbles u = q + 8, so sum(u * a) - 8 * sum(a) is the exact int dot.
template <int NT>
void w4_tile(const PackedInt& w, const QuantActs& a, int64_t tile, int64_t tok0, float* y, int64_t ldy) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512 facc[NT];
  for (int t = 0; t < NT; ++t) facc[t] = _mm512_setzero_ps();
  const uint8_t* src = w.tile(tile);
  const uint16_t* sc = w.scales + tile * w.n_groups * kTileRows;
  const int64_t steps = w.group / 8;
  for (int64_t g = 0; g < w.n_groups; ++g) {
    __m512i lo_acc[NT], hi_acc[NT];
    for (int t = 0; t < NT; ++t) lo_acc[t] = hi_acc[t] = _mm512_setzero_si512();
    const int8_t* aq = a.q.data() + tok0 * a.kp + g * w.group;
    for (int64_t s = 0; s < steps; ++s, src += 64, aq += 8) {
      const __m512i v = _mm512_loadu_si512(src);
      const __m512i lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
      for (int t = 0; t < NT; ++t) {
        dpbusd(lo_acc[t], lo, bcast4(aq + t * a.kp));
        dpbusd(hi_acc[t], hi, bcast4(aq + t * a.kp + 4));
      }
    }
    const __m512 ws = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sc + g * kTileRows)));
    for (int t = 0; t < NT; ++t) {
      const int64_t ag = (tok0 + t) * a.n_groups + g;
      const __m512i isum =
          _mm512_sub_epi32(_mm512_add_epi32(lo_acc[t], hi_acc[t]), _mm512_set1_epi32(8 * a.sum[ag]));
      facc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(ws, _mm512_set1_ps(a.d[ag])), facc[t]);
    }
  }
  const int n_rows = static_cast<int>(std::min<int64_t>(kTileRows, w.rows - tile * kTileRows));
  for (int t = 0; t < NT; ++t) store_rows(y + (tok0 + t) * ldy + tile * kTileRows, facc[t], n_rows);
}

// Prefill: two tiles (32 rows) at once, so each 4-byte activation broadcast feeds
// two vpdpbusd instead of one (the single-tile kernel is bound by those loads).
// Low and high nibbles accumulate into one register per tile and token; the int
// sums are exact in any order, so results equal w4_tile's bit for bit.
template <int NT>
void w4_tile_pair(const PackedInt& w, const QuantActs& a, int64_t tile, int64_t tok0, float* y, int64_t ldy) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512 facc[2][NT];
  for (int t = 0; t < NT; ++t) facc[0][t] = facc[1][t] = _mm512_setzero_ps();
  const uint8_t* src0 = w.tile(tile);
  const uint8_t* src1 = w.tile(tile + 1);
  const uint16_t* sc0 = w.scales + tile * w.n_groups * kTileRows;
  const uint16_t* sc1 = sc0 + w.n_groups * kTileRows;
  const int64_t steps = w.group / 8;
  for (int64_t g = 0; g < w.n_groups; ++g) {
    __m512i acc[2][NT];
    for (int t = 0; t < NT; ++t) acc[0][t] = acc[1][t] = _mm512_setzero_si512();
    const int8_t* aq = a.q.data() + tok0 * a.kp + g * w.group;
    for (int64_t s = 0; s < steps; ++s, src0 += 64, src1 += 64, aq += 8) {
      const __m512i v0 = _mm512_loadu_si512(src0), v1 = _mm512_loadu_si512(src1);
      const __m512i lo0 = _mm512_and_si512(v0, m4), hi0 = _mm512_and_si512(_mm512_srli_epi16(v0, 4), m4);
      const __m512i lo1 = _mm512_and_si512(v1, m4), hi1 = _mm512_and_si512(_mm512_srli_epi16(v1, 4), m4);
      for (int t = 0; t < NT; ++t) {
        const __m512i b0 = bcast4(aq + t * a.kp), b1 = bcast4(aq + t * a.kp + 4);
        dpbusd(acc[0][t], lo0, b0);
        dpbusd(acc[1][t], lo1, b0);
        dpbusd(acc[0][t], hi0, b1);
        dpbusd(acc[1][t], hi1, b1);
      }
    }
    const __m512 ws0 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sc0 + g * kTileRows)));
    const __m512 ws1 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sc1 + g * kTileRows)));
    for (int t = 0; t < NT; ++t) {
      const int64_t ag = (tok0 + t) * a.n_groups + g;
      const __m512i corr = _mm512_set1_epi32(8 * a.sum[ag]);
      const __m512 da = _mm512_set1_ps(a.d[ag]);
      facc[0][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[0][t], corr)), _mm512_mul_ps(ws0, da), facc[0][t]);
      facc[1][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[1][t], corr)), _mm512_mul_ps(ws1, da), facc[1][t]);
    }
  }
  for (int h = 0; h < 2; ++h) {
    const int n_rows = static_cast<int>(std::min<int64_t>(kTileRows, w.rows - (tile + h) * kTileRows));
    for (int t = 0; t < NT; ++t) store_rows(y + (tok0 + t) * ldy + (tile + h) * kTileRows, facc[h][t], n_rows);
  }
}

// Software prefetch distance of the GEMV: 4 KiB ahead was +5% tg with 2 threads on
// Zen 5 (alternating runs, bench/RESULTS.md); prefetches past the end cannot fault.
constexpr int64_t kPrefetchAhead = 4096;

// Decode (one token): w4_tile<1> with two steps per iteration into four
// accumulators, so the vpdpbusd latency chain is not what bounds the stream
// (one chain per nibble half caps a core near 50 GB/s of weights).
void w4_tile_gemv(const PackedInt& w, const QuantActs& a, int64_t tile, float* y) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512 facc = _mm512_setzero_ps();
  const uint8_t* src = w.tile(tile);
  const uint16_t* sc = w.scales + tile * w.n_groups * kTileRows;
  const int64_t steps = w.group / 8;  // a multiple of 4: groups are multiples of 32
  for (int64_t g = 0; g < w.n_groups; ++g) {
    __m512i acc[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
    const int8_t* aq = a.q.data() + g * w.group;
    for (int64_t s = 0; s < steps; s += 2, src += 128, aq += 16) {
      _mm_prefetch(reinterpret_cast<const char*>(src + kPrefetchAhead), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(src + kPrefetchAhead + 64), _MM_HINT_T0);
      const __m512i v0 = _mm512_loadu_si512(src), v1 = _mm512_loadu_si512(src + 64);
      dpbusd(acc[0], _mm512_and_si512(v0, m4), bcast4(aq));
      dpbusd(acc[1], _mm512_and_si512(_mm512_srli_epi16(v0, 4), m4), bcast4(aq + 4));
      dpbusd(acc[2], _mm512_and_si512(v1, m4), bcast4(aq + 8));
      dpbusd(acc[3], _mm512_and_si512(_mm512_srli_epi16(v1, 4), m4), bcast4(aq + 12));
    }
    const __m512 ws = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sc + g * kTileRows)));
    const __m512i isum = _mm512_sub_epi32(_mm512_add_epi32(_mm512_add_epi32(acc[0], acc[1]), _mm512_add_epi32(acc[2], acc[3])),
                                          _mm512_set1_epi32(8 * a.sum[g]));
    facc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(ws, _mm512_set1_ps(a.d[g])), facc);
  }
  const int n_rows = static_cast<int>(std::min<int64_t>(kTileRows, w.rows - tile * kTileRows));
  store_rows(y + tile * kTileRows, facc, n_rows);
}

// 8-bit: vpdpbusd wants one unsigned side, so activations are offset to u = q + 128
// (au) and 128 * sum(w) per row and group (precomputed at pack time) is subtracted.
template <int NT>
void w8_tile(const PackedInt& w, const QuantActs& a, const uint8_t* au, int64_t tile, int64_t tok0, float* y,
             int64_t ldy) {
  __m512 facc[NT];
  for (int t = 0; t < NT; ++t) facc[t] = _mm512_setzero_ps();
  const uint8_t* src = w.tile(tile);
  const uint16_t* sc = w.scales + tile * w.n_groups * kTileRows;
  const int32_t* wsum = w.wsum128 + tile * w.n_groups * kTileRows;
  const int64_t steps = w.group / 4;  // even: groups are multiples of 32
  for (int64_t g = 0; g < w.n_groups; ++g) {
    __m512i acc0[NT], acc1[NT];
    for (int t = 0; t < NT; ++t) acc0[t] = acc1[t] = _mm512_setzero_si512();
    const uint8_t* ap = au + g * w.group;
    for (int64_t s = 0; s < steps; s += 2, src += 128, ap += 8) {
      const __m512i v0 = _mm512_loadu_si512(src), v1 = _mm512_loadu_si512(src + 64);
      for (int t = 0; t < NT; ++t) {
        dpbusd(acc0[t], bcast4(ap + t * a.kp), v0);
        dpbusd(acc1[t], bcast4(ap + t * a.kp + 4), v1);
      }
    }
    const __m512 ws = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sc + g * kTileRows)));
    const __m512i corr = _mm512_loadu_si512(wsum + g * kTileRows);
    for (int t = 0; t < NT; ++t) {
      const int64_t ag = (tok0 + t) * a.n_groups + g;
      const __m512i isum = _mm512_sub_epi32(_mm512_add_epi32(acc0[t], acc1[t]), corr);
      facc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(ws, _mm512_set1_ps(a.d[ag])), facc[t]);
    }
  }
  const int n_rows = static_cast<int>(std::min<int64_t>(kTileRows, w.rows - tile * kTileRows));
  for (int t = 0; t < NT; ++t) store_rows(y + (tok0 + t) * ldy + tile * kTileRows, facc[t], n_rows);
}

// Prefill: two tiles at once, so each activation broadcast feeds two vpdpbusd
// (w8_tile issues one broadcast load per vpdpbusd and is bound by those loads).
// Both k halves sum into one register per tile and token: exact int sums, so the
// results equal w8_tile's bit for bit.
template <int NT>
void w8_tile_pair(const PackedInt& w, const QuantActs& a, const uint8_t* au, int64_t tile, int64_t tok0, float* y,
                  int64_t ldy) {
  __m512 facc[2][NT];
  for (int t = 0; t < NT; ++t) facc[0][t] = facc[1][t] = _mm512_setzero_ps();
  const uint8_t* src0 = w.tile(tile);
  const uint8_t* src1 = w.tile(tile + 1);
  const size_t sc_stride = static_cast<size_t>(w.n_groups) * kTileRows;
  const uint16_t* sc0 = w.scales + tile * sc_stride;
  const int32_t* ws0 = w.wsum128 + tile * sc_stride;
  const int64_t steps = w.group / 4;  // even: groups are multiples of 32
  for (int64_t g = 0; g < w.n_groups; ++g) {
    __m512i acc[2][NT];
    for (int t = 0; t < NT; ++t) acc[0][t] = acc[1][t] = _mm512_setzero_si512();
    const uint8_t* ap = au + g * w.group;
    for (int64_t s = 0; s < steps; s += 2, src0 += 128, src1 += 128, ap += 8) {
      const __m512i v00 = _mm512_loadu_si512(src0), v01 = _mm512_loadu_si512(src0 + 64);
      const __m512i v10 = _mm512_loadu_si512(src1), v11 = _mm512_loadu_si512(src1 + 64);
      for (int t = 0; t < NT; ++t) {
        const __m512i b0 = bcast4(ap + t * a.kp), b1 = bcast4(ap + t * a.kp + 4);
        dpbusd(acc[0][t], b0, v00);
        dpbusd(acc[1][t], b0, v10);
        dpbusd(acc[0][t], b1, v01);
        dpbusd(acc[1][t], b1, v11);
      }
    }
    const __m512 wsc[2] = {_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sc0 + g * kTileRows))),
                           _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sc0 + sc_stride + g * kTileRows)))};
    const __m512i corr[2] = {_mm512_loadu_si512(ws0 + g * kTileRows), _mm512_loadu_si512(ws0 + sc_stride + g * kTileRows)};
    for (int t = 0; t < NT; ++t) {
      const __m512 da = _mm512_set1_ps(a.d[(tok0 + t) * a.n_groups + g]);
      for (int h = 0; h < 2; ++h)
        facc[h][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[h][t], corr[h])), _mm512_mul_ps(wsc[h], da), facc[h][t]);
    }
  }
  for (int h = 0; h < 2; ++h) {
    const int n_rows = static_cast<int>(std::min<int64_t>(kTileRows, w.rows - (tile + h) * kTileRows));
    for (int t = 0; t < NT; ++t) store_rows(y + (tok0 + t) * ldy + (tile + h) * kTileRows, facc[h][t], n_rows);
  }
}

// Decode: the share of tiles is read in order, or as two streams in lockstep (its
// first and second half) where that draws more bandwidth from one core (gemv_streams()).
template <class TileFn>
void gemv_streamed(int64_t tile0, int64_t tile1, TileFn&& tile_fn) {
  if (gemv_streams() == 1) {
    for (int64_t t = tile0; t < tile1; ++t) tile_fn(t);
    return;
  }
  const int64_t half = (tile1 - tile0) / 2;
  for (int64_t i = 0; i < half; ++i) {
    tile_fn(tile0 + i);
    tile_fn(tile0 + half + i);
  }
  if ((tile1 - tile0) % 2) tile_fn(tile1 - 1);
}

void gemm_w4(const PackedInt& w, const QuantActs& a, int64_t tile0, int64_t tile1, float* y, int64_t ldy) {
  if (a.n_tokens == 1)
    return gemv_streamed(tile0, tile1, [&](int64_t tile) { w4_tile_gemv(w, a, tile, y); });
  for (int64_t c0 = 0; c0 < a.n_tokens; c0 += kTokenChunk) {
    const int64_t c1 = std::min(a.n_tokens, c0 + kTokenChunk);
    int64_t tile = tile0;
    for (; tile + 2 <= tile1; tile += 2) {
      int64_t t = c0;
      for (; t + 4 <= c1; t += 4) w4_tile_pair<4>(w, a, tile, t, y, ldy);
      for (; t < c1; ++t) w4_tile_pair<1>(w, a, tile, t, y, ldy);
    }
    for (; tile < tile1; ++tile) {
      int64_t t = c0;
      for (; t + 4 <= c1; t += 4) w4_tile<4>(w, a, tile, t, y, ldy);
      switch (c1 - t) {
        case 3: w4_tile<3>(w, a, tile, t, y, ldy); break;
        case 2: w4_tile<2>(w, a, tile, t, y, ldy); break;
        case 1: w4_tile<1>(w, a, tile, t, y, ldy); break;
        default: break;
      }
    }
  }
}

void gemm_w8(const PackedInt& w, const QuantActs& a, int64_t tile0, int64_t tile1, float* y, int64_t ldy) {
  thread_local std::vector<uint8_t> scratch;
  if (a.n_tokens == 1) {
    const uint8_t* au = offset_act_rows(a, 0, 1, scratch);
    return gemv_streamed(tile0, tile1, [&](int64_t tile) { w8_tile<1>(w, a, au, tile, 0, y, ldy); });
  }
  for (int64_t c0 = 0; c0 < a.n_tokens; c0 += kTokenChunk) {
    const int64_t c1 = std::min(a.n_tokens, c0 + kTokenChunk);
    const uint8_t* au = offset_act_rows(a, c0, c1, scratch);
    int64_t tile = tile0;
    for (; tile + 2 <= tile1; tile += 2) {
      int64_t t = c0;
      for (; t + 4 <= c1; t += 4) w8_tile_pair<4>(w, a, au + (t - c0) * a.kp, tile, t, y, ldy);
      for (; t < c1; ++t) w8_tile_pair<1>(w, a, au + (t - c0) * a.kp, tile, t, y, ldy);
    }
    for (; tile < tile1; ++tile) {
      int64_t t = c0;
      for (; t + 4 <= c1; t += 4) w8_tile<4>(w, a, au + (t - c0) * a.kp, tile, t, y, ldy);
      const uint8_t* ap = au + (t - c0) * a.kp;
      switch (c1 - t) {
        case 3: w8_tile<3>(w, a, ap, tile, t, y, ldy); break;
        case 2: w8_tile<2>(w, a, ap, tile, t, y, ldy); break;
        case 1: w8_tile<1>(w, a, ap, tile, t, y, ldy); break;
        default: break;
      }
    }
  }
}

float dot_f32(const float* a, const float* b, int64_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
  }
  if (i + 16 <= n) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    i += 16;
  }
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

void f16_row(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i))));
  for (; i < n; ++i) dst[i] = _cvtsh_ss(src[i]);
}

void round_f16(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(x + i, _mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT)));
  for (; i < n; ++i) x[i] = _cvtsh_ss(_cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT));
}

// Columns in blocks of 64 held in 4 registers across all rows; a masked last block.
void axpy_rows(const float* a, const float* rows, int64_t n_rows, int64_t n, int64_t ld, float* out) {
  for (int64_t i = 0; i < n; i += 64) {
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    __mmask16 m[4];
    for (int k = 0; k < 4; ++k) {
      const int64_t left = std::clamp<int64_t>(n - i - 16 * k, 0, 16);
      m[k] = static_cast<__mmask16>((1u << left) - 1);
    }
    for (int64_t j = 0; j < n_rows; ++j) {
      const __m512 aj = _mm512_set1_ps(a[j]);
      for (int k = 0; k < 4; ++k)
        acc[k] = _mm512_fmadd_ps(aj, _mm512_maskz_loadu_ps(m[k], rows + j * ld + i + 16 * k), acc[k]);
    }
    for (int k = 0; k < 4; ++k) _mm512_mask_storeu_ps(out + i + 16 * k, m[k], acc[k]);
  }
}

// axpy_rows for MI vectors: columns in blocks of 64 (4 registers) for all MI at
// once, so each row load feeds MI FMAs; per output the same FMA chain as axpy_rows.
template <int MI>
void axpy_block(const float* a, int64_t lda, const float* rows, int64_t n_rows, int64_t n, int64_t ld, float* out,
                int64_t ldo) {
  for (int64_t c = 0; c < n; c += 64) {
    __m512 acc[MI][4];
    __mmask16 m[4];
    for (int k = 0; k < 4; ++k) {
      m[k] = static_cast<__mmask16>((1u << std::clamp<int64_t>(n - c - 16 * k, 0, 16)) - 1);
      for (int i = 0; i < MI; ++i) acc[i][k] = _mm512_setzero_ps();
    }
    for (int64_t j = 0; j < n_rows; ++j) {
      __m512 r[4];
      for (int k = 0; k < 4; ++k) r[k] = _mm512_maskz_loadu_ps(m[k], rows + j * ld + c + 16 * k);
      for (int i = 0; i < MI; ++i) {
        const __m512 aij = _mm512_set1_ps(a[i * lda + j]);
        for (int k = 0; k < 4; ++k) acc[i][k] = _mm512_fmadd_ps(aij, r[k], acc[i][k]);
      }
    }
    for (int i = 0; i < MI; ++i)
      for (int k = 0; k < 4; ++k) _mm512_mask_storeu_ps(out + i * ldo + c + 16 * k, m[k], acc[i][k]);
  }
}

void axpy_rows_multi(const float* a, int64_t lda, int64_t m, const float* rows, int64_t n_rows, int64_t n, int64_t ld,
                     float* out, int64_t ldo) {
  int64_t i = 0;
  for (; i + 4 <= m; i += 4) axpy_block<4>(a + i * lda, lda, rows, n_rows, n, ld, out + i * ldo, ldo);
  switch (m - i) {
    case 3: axpy_block<3>(a + i * lda, lda, rows, n_rows, n, ld, out + i * ldo, ldo); break;
    case 2: axpy_block<2>(a + i * lda, lda, rows, n_rows, n, ld, out + i * ldo, ldo); break;
    case 1: axpy_block<1>(a + i * lda, lda, rows, n_rows, n, ld, out + i * ldo, ldo); break;
    default: break;
  }
}

// exp(x) for x <= 0 (softmax's shifted scores): 2^n * p(r), r = x - n ln2 in
// [-ln2/2, ln2/2] (ln2 split in two for an exact product), p the classic
// single-precision minimax polynomial (about 1 ulp, as libm's expf); below -87
// the result is 0, where expf's would be denormal or zero.
inline __m512 exp_nonpositive(__m512 x) {
  const __m512 xc = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  const __mmask16 tiny = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.0f), _CMP_LT_OQ);
  return _mm512_maskz_mov_ps(static_cast<__mmask16>(~tiny), _mm512_scalef_ps(p, n));
}

void softmax(float* x, int64_t n) {
  const auto mask = [&](int64_t i) { return static_cast<__mmask16>(n - i >= 16 ? 0xFFFF : (1u << (n - i)) - 1); };
  __m512 mx = _mm512_set1_ps(-INFINITY);
  for (int64_t i = 0; i < n; i += 16) mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(mx, mask(i), x + i));
  const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
  __m512 sum = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = mask(i);
    const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), m));
    _mm512_mask_storeu_ps(x + i, k, e);
    sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(k, e));
  }
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
  for (int64_t i = 0; i < n; i += 16) _mm512_mask_storeu_ps(x + i, mask(i), _mm512_mul_ps(_mm512_maskz_loadu_ps(mask(i), x + i), inv));
}

// ref_quantize_act_row with 16 lanes: the same max (max_ps returns its second
// operand when either is NaN, so a NaN never sets the scale, as in std::max), the
// same 1 / d, and RNE rounding, so q, d and sum are bit for bit the reference's.
void quantize_act_row(const float* x, int64_t cols, int64_t group, int64_t n_groups, float static_d, int8_t* q,
                      float* d, int32_t* sum) {
  const auto mask = [](int64_t left) { return static_cast<__mmask16>(left >= 16 ? 0xFFFF : (1u << left) - 1); };
  for (int64_t gi = 0; gi < n_groups; ++gi) {
    const int64_t c0 = gi * group, n = std::min(cols, c0 + group) - c0;
    float dg = static_d;
    if (dg == 0) {
      __m512 mx = _mm512_setzero_ps();
      for (int64_t i = 0; i < n; i += 16) mx = _mm512_max_ps(_mm512_abs_ps(_mm512_maskz_loadu_ps(mask(n - i), x + c0 + i)), mx);
      dg = _mm512_reduce_max_ps(mx) / 127.0f;
    }
    const __m512 inv = _mm512_set1_ps(dg > 0 ? 1.0f / dg : 0.0f);
    __m512i s = _mm512_setzero_si512();
    for (int64_t i = 0; i < group; i += 16) {
      const __mmask16 k = mask(n - i > 0 ? n - i : 0);
      __m512 y = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + c0 + i), inv);
      y = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(y, y, _CMP_ORD_Q), y);  // NaN (and padding) -> 0
      y = _mm512_roundscale_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      y = _mm512_min_ps(_mm512_max_ps(y, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f));
      const __m512i v = _mm512_cvtps_epi32(y);
      s = _mm512_add_epi32(s, v);
      _mm512_mask_cvtepi32_storeu_epi8(q + c0 + i, mask(group - i), v);
    }
    d[gi] = dg;
    sum[gi] = _mm512_reduce_add_epi32(s);
  }
}

// silu(a) * b with e = exp(-|a|) in (0, 1]: silu(a) = a / (1 + e) for a >= 0 and
// a * e / (1 + e) below, so exp never overflows; within a few ulp of ref_silu_mul.
void silu_mul(float* a, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = static_cast<__mmask16>(n - i >= 16 ? 0xFFFF : (1u << (n - i)) - 1);
    const __m512 x = _mm512_maskz_loadu_ps(k, a + i);
    const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(x)));
    const __m512 num = _mm512_mask_mul_ps(x, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), x, e);
    const __m512 r = _mm512_mul_ps(_mm512_div_ps(num, _mm512_add_ps(_mm512_set1_ps(1.0f), e)), _mm512_maskz_loadu_ps(k, b + i));
    _mm512_mask_storeu_ps(a + i, k, r);
  }
}

}  // namespace

extern const KernelTable kAvx512VnniKernels = {
    .name = "avx512vnni",
    .gemm_w4 = gemm_w4,
    .gemm_w8 = gemm_w8,
    .dot_f32 = dot_f32,
    .f16_to_f32_row = f16_row,
    .round_f16 = round_f16,
    .axpy_rows = axpy_rows,
    .reads_wsum128 = true,
    .softmax = softmax,
    .quantize_act_row = quantize_act_row,
    .silu_mul = silu_mul,
    .axpy_rows_multi = axpy_rows_multi,
    .ggml = kAvx512VnniGgmlInt,  // AVX2 in-place kernels, AVX-512 tiles for Q4_K / Q6_K
    .kv_q8_scores = kv_q8_scores_avx2,  // AVX2 code: no AVX-512 q8 kernels yet
    .kv_q8_wsum = kv_q8_wsum_avx2,
};

}  // namespace pocketllm
