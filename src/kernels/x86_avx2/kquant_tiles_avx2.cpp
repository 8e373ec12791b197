// Q4_K / Q6_K tile GEMMs (layout: weights/kquant_tiles.h) with AVX2: a ymm holds
// 8 of a tile's 16 rows (one half of each 64-byte step), activations broadcast
// 4 bytes at a time. vpmaddubsw gives int16 pair sums of unsigned codes times
// int8 activations; they are summed in int16 over a sub-block where that cannot
// overflow (Q4_K: 8 x 2*15*127 = 30480; Q6_K: 2 x 2*63*127 = 32004), then one
// vpmaddwd against the rows' integer scales (int16 lanes (sc, sc)) makes the
// scaled int32 sums: the scales cost nothing extra. Q4_K's min term and Q6_K's
// -32 offset come from GgmlActs::sum16 with vpmaddwd once per super-block.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/ggml_int.h"
#include "kernels/ggml_int_loops.h"

namespace pocketllm {
namespace {

constexpr int64_t kTokenChunk = 64;
constexpr int64_t kPrefetchAhead = 4096;

inline __m256i bcast4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}
inline __m256i load32(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m128i load8(const uint8_t* p) { return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)); }
inline __m256 load_f16x8(const uint8_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }

inline void store_rows(float* dst, __m256 v, int n_rows) {
  if (n_rows >= 8) return _mm256_storeu_ps(dst, v);
  alignas(32) float tmp[8];
  _mm256_store_ps(tmp, v);
  for (int i = 0; i < n_rows; ++i) dst[i] = tmp[i];
}

// Sub-block j's 6-bit values of rows 8h..8h+7 as int32 lanes (see the AVX-512 six_bits).
inline __m256i six_bits(const uint8_t* lo_plane, const uint8_t* hi_plane, int j, int h) {
  const __m256i lo = _mm256_cvtepu8_epi32(load8(lo_plane + 16 * (j / 2) + 8 * h));
  const __m256i hi = _mm256_cvtepu8_epi32(load8(hi_plane + 16 * (j / 4) + 8 * h));
  const __m256i low4 = _mm256_and_si256(_mm256_srli_epi32(lo, 4 * (j % 2)), _mm256_set1_epi32(15));
  const __m256i top2 = _mm256_and_si256(_mm256_srli_epi32(hi, 2 * (j % 4)), _mm256_set1_epi32(3));
  return _mm256_or_si256(low4, _mm256_slli_epi32(top2, 4));
}
// int32 lanes a, b (each < 2^15 in magnitude) to int16 pairs (a, b).
inline __m256i pair16(__m256i a, __m256i b) {
  return _mm256_or_si256(_mm256_and_si256(a, _mm256_set1_epi32(0xFFFF)), _mm256_slli_epi32(b, 16));
}
inline __m256i bcast_pair(int a, int b) {
  return _mm256_set1_epi32(static_cast<int>(static_cast<uint16_t>(a) | static_cast<uint32_t>(static_cast<uint16_t>(b)) << 16));
}

// Rows 8h..8h+7 of one tile against tokens t0 .. t0 + NT - 1.
template <int NT>
void q4k_half(const PackedKQuant& w, const GgmlActs& a, int64_t tile, int h, int64_t t0, float* y, int64_t ldy) {
  const Toks<NT> tk(a, t0);
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  __m256 facc[NT];
  for (int t = 0; t < NT; ++t) facc[t] = _mm256_setzero_ps();
  const uint8_t* sb = w.tile(tile);
  for (int64_t b = 0; b < w.n_sb; ++b, sb += kQ4KTileSb) {
    const __m256 d = load_f16x8(sb + 16 * h), dmin = load_f16x8(sb + 32 + 16 * h);
    {  // min term: int16 pairs (m_2p, m_2p+1) against pairs of 32-sums of the activations
      __m256i macc[NT];
      for (int t = 0; t < NT; ++t) macc[t] = _mm256_setzero_si256();
      for (int p = 0; p < 4; ++p) {
        const __m256i mp = pair16(six_bits(sb + 128, sb + 224, 2 * p, h), six_bits(sb + 128, sb + 224, 2 * p + 1, h));
        for (int t = 0; t < NT; ++t) {
          const int16_t* s = tk.s16[t] + 16 * b + 4 * p;
          macc[t] = _mm256_add_epi32(macc[t], _mm256_madd_epi16(mp, bcast_pair(s[0] + s[1], s[2] + s[3])));
        }
      }
      for (int t = 0; t < NT; ++t)
        facc[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(macc[t]), _mm256_mul_ps(dmin, _mm256_set1_ps(tk.d[t][b])), facc[t]);
    }
    __m256i iacc[NT];
    for (int t = 0; t < NT; ++t) iacc[t] = _mm256_setzero_si256();
    const uint8_t* codes = sb + kQ4KCodesAt + 32 * h;
    for (int j = 0; j < 8; ++j) {
      __m256i p16[NT];
      for (int t = 0; t < NT; ++t) p16[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
      for (int s = 0; s < 4; ++s) {
        const uint8_t* src = codes + 64 * (4 * j + s);
        if constexpr (NT == 1) _mm_prefetch(reinterpret_cast<const char*>(src + kPrefetchAhead), _MM_HINT_T0);
        const __m256i v = load32(src);
        const __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
        for (int t = 0; t < NT; ++t) {
          const int8_t* x = tk.q[t] + b * kQK_K + 32 * j + 8 * s;
          p16[t] = _mm256_add_epi16(p16[t], _mm256_add_epi16(_mm256_maddubs_epi16(lo, bcast4(x)),
                                                             _mm256_maddubs_epi16(hi, bcast4(x + 4))));
        }
      }
      const __m256i sc = six_bits(sb + 64, sb + 192, j, h);
      const __m256i sc16 = _mm256_or_si256(sc, _mm256_slli_epi32(sc, 16));
      for (int t = 0; t < NT; ++t) iacc[t] = _mm256_add_epi32(iacc[t], _mm256_madd_epi16(p16[t], sc16));
    }
    for (int t = 0; t < NT; ++t)
      facc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(iacc[t]), _mm256_mul_ps(d, _mm256_set1_ps(tk.d[t][b])), facc[t]);
  }
  const int n_rows = static_cast<int>(std::min<int64_t>(8, w.rows - tile * kKqTileRows - 8 * h));
  if (n_rows <= 0) return;
  for (int t = 0; t < NT; ++t) store_rows(y + (t0 + t) * ldy + tile * kKqTileRows + 8 * h, facc[t], n_rows);
}

template <int NT>
void q6k_half(const PackedKQuant& w, const GgmlActs& a, int64_t tile, int h, int64_t t0, float* y, int64_t ldy) {
  const Toks<NT> tk(a, t0);
  const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x30);
  __m256 facc[NT];
  for (int t = 0; t < NT; ++t) facc[t] = _mm256_setzero_ps();
  const uint8_t* sb = w.tile(tile);
  for (int64_t b = 0; b < w.n_sb; ++b, sb += kQ6KTileSb) {
    const uint8_t* scales = sb + kQ6KScalesAt + 8 * h;
    __m256i iacc[NT];
    // The offset: -32 * sum_j sc_j * sum(a)_j, as int16 pairs of scales against pairs of 16-sums.
    for (int t = 0; t < NT; ++t) iacc[t] = _mm256_setzero_si256();
    for (int p = 0; p < 8; ++p) {
      const __m256i sp = pair16(_mm256_cvtepi8_epi32(load8(scales + 32 * p)), _mm256_cvtepi8_epi32(load8(scales + 32 * p + 16)));
      for (int t = 0; t < NT; ++t) {
        const int16_t* s = tk.s16[t] + 16 * b + 2 * p;
        iacc[t] = _mm256_add_epi32(iacc[t], _mm256_madd_epi16(sp, bcast_pair(s[0], s[1])));
      }
    }
    for (int t = 0; t < NT; ++t) iacc[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(iacc[t], 5));
#pragma GCC unroll 2
    for (int j = 0; j < 16; ++j) {
      const uint8_t* g = sb + kQ6KGroupsAt + kQ6KGroupBytes * j + 32 * h;
      if constexpr (NT == 1) {
        _mm_prefetch(reinterpret_cast<const char*>(g + kPrefetchAhead), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(g + kPrefetchAhead + 64), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(g + kPrefetchAhead + 128), _MM_HINT_T0);
      }
      const __m256i v0 = load32(g), v1 = load32(g + 64), hb = load32(g + 128);
      const __m256i q0 = _mm256_or_si256(_mm256_and_si256(v0, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 4), m2));
      const __m256i q1 =
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v0, 4), m4), _mm256_and_si256(_mm256_slli_epi16(hb, 2), m2));
      const __m256i q2 = _mm256_or_si256(_mm256_and_si256(v1, m4), _mm256_and_si256(hb, m2));
      const __m256i q3 =
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(hb, 2), m2));
      const __m256i sc = _mm256_cvtepi8_epi32(load8(scales + 16 * j));
      const __m256i sc16 = pair16(sc, sc);
      for (int t = 0; t < NT; ++t) {
        const int8_t* x = tk.q[t] + b * kQK_K + 16 * j;
        const __m256i p0 = _mm256_add_epi16(_mm256_maddubs_epi16(q0, bcast4(x)), _mm256_maddubs_epi16(q1, bcast4(x + 4)));
        const __m256i p1 = _mm256_add_epi16(_mm256_maddubs_epi16(q2, bcast4(x + 8)), _mm256_maddubs_epi16(q3, bcast4(x + 12)));
        iacc[t] = _mm256_add_epi32(iacc[t], _mm256_add_epi32(_mm256_madd_epi16(p0, sc16), _mm256_madd_epi16(p1, sc16)));
      }
    }
    const __m256 d = load_f16x8(sb + 16 * h);
    for (int t = 0; t < NT; ++t)
      facc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(iacc[t]), _mm256_mul_ps(d, _mm256_set1_ps(tk.d[t][b])), facc[t]);
  }
  const int n_rows = static_cast<int>(std::min<int64_t>(8, w.rows - tile * kKqTileRows - 8 * h));
  if (n_rows <= 0) return;
  for (int t = 0; t < NT; ++t) store_rows(y + (t0 + t) * ldy + tile * kKqTileRows + 8 * h, facc[t], n_rows);
}

// Tokens in chunks of 64, each tile's two 8-row halves against 4 tokens at a time;
// kernel(nt, tile, h, t) runs half h of one tile against nt tokens from t.
template <class Kernel>
void tiles_tokens(const GgmlActs& a, int64_t tile0, int64_t tile1, Kernel&& kernel) {
  const int64_t n = a.n_tokens();
  for (int64_t c0 = 0; c0 < n; c0 += kTokenChunk) {
    const int64_t c1 = std::min(n, c0 + kTokenChunk);
    for (int64_t tile = tile0; tile < tile1; ++tile)
      for (int h = 0; h < 2; ++h) token_groups(c0, c1, [&](auto nt, int64_t t) { kernel(nt, tile, h, t); });
  }
}
}  // namespace

void avx2_kquant_q4_k_tiles(const PackedKQuant& w, const GgmlActs& a, int64_t tile0, int64_t tile1, float* y,
                            int64_t ldy) {
  tiles_tokens(a, tile0, tile1, [&](auto nt, int64_t tile, int h, int64_t t) { q4k_half<decltype(nt)::value>(w, a, tile, h, t, y, ldy); });
}
void avx2_kquant_q6_k_tiles(const PackedKQuant& w, const GgmlActs& a, int64_t tile0, int64_t tile1, float* y,
                            int64_t ldy) {
  tiles_tokens(a, tile0, tile1, [&](auto nt, int64_t tile, int h, int64_t t) { q6k_half<decltype(nt)::value>(w, a, tile, h, t, y, ldy); });
}

}  // namespace pocketllm
