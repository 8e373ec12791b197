// AVX2 kernels of kernels/ggml_int.h: one row's blocks (as stored in the file)
// against up to 4 tokens at a time, so each block is loaded and unpacked once
// per 4 tokens. Weights go to vpmaddubsw's unsigned side: Q4_K/Q5_K codes as
// they are (their mins are a separate term, as in the format); the signed
// values of Q6_K (q - 32), Q5_0 (q - 16) and IQ4_XS (levels) as |w| with the
// sign moved onto the activations. Offsetting unsigned codes instead would
// leave large int32 lanes that cancel only in float (losing precision where
// weights are ~0 and an activation is large). Pair sums are scaled by the
// integer sub-block scales with vpmaddwd into int32: one float rescale per
// super-block and token. No vpmaddubsw can saturate: |pair| <= 2*127*127.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/ggml_int.h"
#include "kernels/ggml_int_loops.h"
#include "weights/blocks_iq4.h"
#include "weights/blocks_k.h"
#include "weights/blocks_legacy.h"

namespace pocketllm {
namespace {

inline float f16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return _cvtsh_ss(v);
}

inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// u8 codes x int8 activations, pair sums times the int16 scales in `sc`, into int32.
inline __m256i dot_scaled(__m256i codes, __m256i acts, __m256i sc) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(codes, acts), sc);
}

// int16 lane pattern picking element j (< 8) of 8 int16 held in both 128-bit lanes.
inline __m256i pick16(int j) { return _mm256_set1_epi16(static_cast<short>((2 * j) | ((2 * j + 1) << 8))); }


// Q4_K / Q5_K: sum_j sc_j * (codes . a)_j * d * da - sum_j m_j * sum(a)_j * dmin * da.
template <bool kQh>
struct Q45K {
  static constexpr int64_t kBlock = kQK_K;
  static constexpr size_t kBytes = kQh ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K);
  template <int NT>
  static void dot(const uint8_t* row, int64_t nb, const GgmlActs& a, int64_t t0, float* out) {
    const Toks<NT> tk(a, t0);
    const __m256i m4 = _mm256_set1_epi8(0x0F), bit4 = _mm256_set1_epi8(0x10);
    __m256 facc[NT];
    for (int t = 0; t < NT; ++t) facc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      const uint8_t* b = row + i * kBytes;
      // The 12 scale bytes as three words: 6-bit scales and mins 0-3 are bytes
      // 0-3 / 4-7; 4-7 take their low 4 bits from bytes 8-11, top 2 from bits 6-7 of 0-7.
      uint32_t w[3];
      std::memcpy(w, b + 4, 12);
      const uint32_t sc_lo = w[0] & 0x3F3F3F3F, m_lo = w[1] & 0x3F3F3F3F;
      const uint32_t sc_hi = (w[2] & 0x0F0F0F0F) | ((w[0] >> 2) & 0x30303030);
      const uint32_t m_hi = ((w[2] >> 4) & 0x0F0F0F0F) | ((w[1] >> 2) & 0x30303030);
      const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_set_epi32(0, 0, int(sc_hi), int(sc_lo))));
      const __m128i m8 = _mm_set_epi32(0, 0, int(m_hi), int(m_lo));
      const __m256i mins = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));  // m0 m0 m1 m1 ... m7 m7
      const uint8_t* qs = b + (kQh ? 48 : 16);
      __m256i qh = kQh ? load32(b + 16) : _mm256_setzero_si256();
      __m256i iacc[NT];
      for (int t = 0; t < NT; ++t) iacc[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) {
        const __m256i v = load32(qs + 32 * c);
        __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
        if constexpr (kQh) {  // bit j of qh[l] is the 5th bit of weight 32 j + l
          lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(qh, 4), bit4));
          hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(qh, 3), bit4));
          qh = _mm256_srli_epi16(qh, 2);
        }
        const __m256i s_lo = _mm256_shuffle_epi8(sc, pick16(2 * c)), s_hi = _mm256_shuffle_epi8(sc, pick16(2 * c + 1));
        for (int t = 0; t < NT; ++t) {
          const int8_t* x = tk.q[t] + i * kQK_K + 64 * c;
          iacc[t] = _mm256_add_epi32(
              iacc[t], _mm256_add_epi32(dot_scaled(lo, load32(x), s_lo), dot_scaled(hi, load32(x + 32), s_hi)));
        }
      }
      const float d = f16(b), dmin = f16(b + 2);
      for (int t = 0; t < NT; ++t) {
        const float da = tk.d[t][i];
        const __m256i msum = _mm256_madd_epi16(load32(tk.s16[t] + 16 * i), mins);
        facc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(iacc[t]), _mm256_set1_ps(d * da), facc[t]);
        facc[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_set1_ps(dmin * da), facc[t]);
      }
    }
    for (int t = 0; t < NT; ++t) out[t] = hsum(facc[t]);
  }
};

// Q6_K: sum over sub-blocks of 16 of sc_j * (codes - 32) . a.
struct Q6K {
  static constexpr int64_t kBlock = kQK_K;
  template <int NT>
  static void dot(const uint8_t* row, int64_t nb, const GgmlActs& a, int64_t t0, float* out) {
    const Toks<NT> tk(a, t0);
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x30), off = _mm256_set1_epi8(32);
    __m256 facc[NT];
    for (int t = 0; t < NT; ++t) facc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      const uint8_t* b = row + i * sizeof(BlockQ6_K);
      const __m128i s8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + offsetof(BlockQ6_K, scales)));
      __m256i iacc[NT];
      for (int t = 0; t < NT; ++t) iacc[t] = _mm256_setzero_si256();
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        const __m256i ql0 = load32(b + 64 * h), ql1 = load32(b + 64 * h + 32), qh = load32(b + 128 + 32 * h);
        // Quarter k of this half: low 4 bits from ql (l, l + 32, l, l + 32; low
        // nibbles for k < 2), top 2 from bits 2k..2k+1 of qh[l].
        const __m256i q[4] = {
            _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m2)),
            _mm256_or_si256(_mm256_and_si256(ql1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m2)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), _mm256_and_si256(qh, m2)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                            _mm256_and_si256(_mm256_srli_epi16(qh, 2), m2))};
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) {
          // Bytes 0-7 = scale of the quarter's first 16 weights, 8-15 = of its second 16.
          const int j = 8 * h + 2 * k;
          const __m128i pick = _mm_set_epi64x(0x0101010101010101LL * (j + 1), 0x0101010101010101LL * j);
          const __m256i sv = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(s8, pick));
          const __m256i w = _mm256_sub_epi8(q[k], off), aw = _mm256_abs_epi8(w);  // |q - 32| <= 32
          for (int t = 0; t < NT; ++t) {
            const __m256i x = _mm256_sign_epi8(load32(tk.q[t] + i * kQK_K + 128 * h + 32 * k), w);
            iacc[t] = _mm256_add_epi32(iacc[t], dot_scaled(aw, x, sv));
          }
        }
      }
      const float d = f16(b + offsetof(BlockQ6_K, d));
      for (int t = 0; t < NT; ++t)
        facc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(iacc[t]), _mm256_set1_ps(d * tk.d[t][i]), facc[t]);
    }
    for (int t = 0; t < NT; ++t) out[t] = hsum(facc[t]);
  }
};

// 32 bits to 32 bytes: byte j = 0xFF if bit j of x is set, else 0.
inline __m256i expand_bits(uint32_t x) {
  const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3,
                                          3, 3, 3, 3, 3, 3);
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ULL));
  const __m256i v = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(x)), spread), bit);
  return _mm256_cmpeq_epi8(v, bit);
}

// Q5_0: per block of 32, d * da * ((codes - 16) . a); the activations have one
// scale per 32 here. Blocks go in pairs: their int32 lanes are interleaved
// (i, j, i, j, ...) so one conversion and one FMA against (d da)_i, (d da)_j
// serve both blocks.
struct Q50 {
  static constexpr int64_t kBlock = kQK_Legacy;
  // Block b's values q - 16 in [-16, 15] (w) and their magnitudes (aw).
  static void decode(const uint8_t* b, __m256i& w, __m256i& aw) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), bit4 = _mm256_set1_epi8(0x10);
    const __m128i nib = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 6));
    uint32_t qh;
    std::memcpy(&qh, b + 2, 4);
    const __m256i codes = _mm256_or_si256(_mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(nib, 4), nib), m4),
                                          _mm256_and_si256(expand_bits(qh), bit4));
    w = _mm256_sub_epi8(codes, bit4);
    aw = _mm256_abs_epi8(w);
  }
  static __m256i block_dot(__m256i w, __m256i aw, const int8_t* x) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(load32(x), w)), _mm256_set1_epi16(1));
  }
  template <int NT>
  static void dot(const uint8_t* row, int64_t nb, const GgmlActs& a, int64_t t0, float* out) {
    const Toks<NT> tk(a, t0);
    __m256 facc[NT];
    for (int t = 0; t < NT; ++t) facc[t] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
      const uint8_t* b = row + i * sizeof(BlockQ5_0);
      __m256i w0, aw0, w1, aw1;
      decode(b, w0, aw0);
      decode(b + sizeof(BlockQ5_0), w1, aw1);
      const float d0 = f16(b), d1 = f16(b + sizeof(BlockQ5_0));
      const __m256 dw = _mm256_setr_ps(d0, d1, d0, d1, d0, d1, d0, d1);
      for (int t = 0; t < NT; ++t) {
        const __m256i p0 = block_dot(w0, aw0, tk.q[t] + 32 * i), p1 = block_dot(w1, aw1, tk.q[t] + 32 * i + 32);
        const __m256i s = _mm256_add_epi32(_mm256_unpacklo_epi32(p0, p1), _mm256_unpackhi_epi32(p0, p1));
        double da2;  // (da_i, da_j), adjacent floats
        std::memcpy(&da2, tk.d[t] + i, 8);
        const __m256 da = _mm256_castpd_ps(_mm256_set1_pd(da2));
        facc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, da), facc[t]);
      }
    }
    if (i < nb) {
      const uint8_t* b = row + i * sizeof(BlockQ5_0);
      __m256i w, aw;
      decode(b, w, aw);
      const float d = f16(b);
      for (int t = 0; t < NT; ++t)
        facc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(block_dot(w, aw, tk.q[t] + 32 * i)),
                                  _mm256_set1_ps(d * tk.d[t][i]), facc[t]);
    }
    for (int t = 0; t < NT; ++t) out[t] = hsum(facc[t]);
  }
};

// IQ4_XS: codes looked up in the 16 signed levels (vpshufb); |level| times
// a * sign(level) keeps vpmaddubsw's unsigned side unsigned.
struct IQ4XS {
  static constexpr int64_t kBlock = kQK_K;
  template <int NT>
  static void dot(const uint8_t* row, int64_t nb, const GgmlActs& a, int64_t t0, float* out) {
    const Toks<NT> tk(a, t0);
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i levels = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIQ4Levels)));
    __m256 facc[NT];
    for (int t = 0; t < NT; ++t) facc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      const uint8_t* b = row + i * sizeof(BlockIQ4_XS);
      uint16_t sh;
      std::memcpy(&sh, b + 2, 2);
      alignas(16) int16_t ls[8];
      for (int j = 0; j < 8; ++j) ls[j] = static_cast<int16_t>((((b[4 + j / 2] >> (4 * (j % 2))) & 0x0F) | (((sh >> (2 * j)) & 3) << 4)) - 32);
      const __m256i sc = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(ls)));
      __m256i iacc[NT];
      for (int t = 0; t < NT; ++t) iacc[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) {
        // 32 bytes = sub-blocks 2c (low 128 bits) and 2c + 1, each low nibbles then high nibbles.
        const __m256i v = load32(b + 8 + 32 * c);
        const __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
        const __m256i w0 = _mm256_shuffle_epi8(levels, _mm256_permute2x128_si256(lo, hi, 0x20));
        const __m256i w1 = _mm256_shuffle_epi8(levels, _mm256_permute2x128_si256(lo, hi, 0x31));
        const __m256i aw0 = _mm256_abs_epi8(w0), aw1 = _mm256_abs_epi8(w1);
        const __m256i s0 = _mm256_shuffle_epi8(sc, pick16(2 * c)), s1 = _mm256_shuffle_epi8(sc, pick16(2 * c + 1));
        for (int t = 0; t < NT; ++t) {
          const int8_t* x = tk.q[t] + i * kQK_K + 64 * c;
          iacc[t] = _mm256_add_epi32(iacc[t], _mm256_add_epi32(dot_scaled(aw0, _mm256_sign_epi8(load32(x), w0), s0),
                                                               dot_scaled(aw1, _mm256_sign_epi8(load32(x + 32), w1), s1)));
        }
      }
      const float d = f16(b);
      for (int t = 0; t < NT; ++t)
        facc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(iacc[t]), _mm256_set1_ps(d * tk.d[t][i]), facc[t]);
    }
    for (int t = 0; t < NT; ++t) out[t] = hsum(facc[t]);
  }
};

// Rows [r0, r1) x every token: tokens in chunks of 64 (their activations stay
// in L2 while the rows pass), each row against 4 tokens at a time (the row
// stays in L1 across the chunk).
template <class K>
void rows_tokens(const uint8_t* data, size_t row_bytes, int64_t cols, const GgmlActs& a, int64_t r0, int64_t r1,
                 float* y, int64_t ldy) {
  const int64_t nb = cols / K::kBlock, n = a.n_tokens();
  constexpr int64_t kChunk = 64;
  for (int64_t tc = 0; tc < n; tc += kChunk) {
    const int64_t te = std::min(n, tc + kChunk);
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* row = data + r * row_bytes;
      token_groups(tc, te, [&](auto nt, int64_t t) {
        float out[decltype(nt)::value];
        K::template dot<decltype(nt)::value>(row, nb, a, t, out);
        for (int i = 0; i < decltype(nt)::value; ++i) y[(t + i) * ldy + r] = out[i];
      });
    }
  }
}
}  // namespace

void avx2_ggml_q4_k(const uint8_t* d, size_t rb, int64_t c, const GgmlActs& a, int64_t r0, int64_t r1, float* y,
                    int64_t ldy) {
  rows_tokens<Q45K<false>>(d, rb, c, a, r0, r1, y, ldy);
}
void avx2_ggml_q5_k(const uint8_t* d, size_t rb, int64_t c, const GgmlActs& a, int64_t r0, int64_t r1, float* y,
                    int64_t ldy) {
  rows_tokens<Q45K<true>>(d, rb, c, a, r0, r1, y, ldy);
}
void avx2_ggml_q6_k(const uint8_t* d, size_t rb, int64_t c, const GgmlActs& a, int64_t r0, int64_t r1, float* y,
                    int64_t ldy) {
  rows_tokens<Q6K>(d, rb, c, a, r0, r1, y, ldy);
}
void avx2_ggml_q5_0(const uint8_t* d, size_t rb, int64_t c, const GgmlActs& a, int64_t r0, int64_t r1, float* y,
                    int64_t ldy) {
  rows_tokens<Q50>(d, rb, c, a, r0, r1, y, ldy);
}
void avx2_ggml_iq4_xs(const uint8_t* d, size_t rb, int64_t c, const GgmlActs& a, int64_t r0, int64_t r1, float* y,
                      int64_t ldy) {
  rows_tokens<IQ4XS>(d, rb, c, a, r0, r1, y, ldy);
}

}  // namespace pocketllm
