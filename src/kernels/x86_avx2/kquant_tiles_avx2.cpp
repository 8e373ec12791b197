// Q4_K / Q5_K / Q6_K tile GEMMs (layout: weights/kquant_tiles.h) with AVX2: a ymm holds
// 8 of a tile's 16 rows (one half of each 64-byte step), activations broadcast
// 4 bytes at a time. vpmaddubsw gives int16 pair sums of unsigned codes times
// int8 activations; they are summed in int16 as far as that cannot overflow
// (Q4_K: 8 x 2*15*127 = 30480; Q5_K: 4 x 2*31*127 = 31496; Q6_K: 2 x 2*63*127 =
// 32004), then one vpmaddwd against the rows' integer scales (int16 lanes
// (sc, sc)) makes the scaled int32 sums. Q4_K/Q5_K's min term and Q6_K's -32
// offset come from GgmlActs::sum16 with vpmaddwd once per super-block.
//
// Loop order: tokens in chunks of 64; per tile, per super-block, per half, the
// rows' scales are decoded once (into a few ymm) and serve every 4-token group
// of the chunk; the float sums of the chunk's tokens x 16 rows stay in a small
// buffer (L1) across the super-blocks. So per weight-token pair the inner loop
// is only vpmaddubsw, vpaddw and a broadcast, and each group of 4 tokens keeps
// its int16 and int32 sums in registers (no spills).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/ggml_int.h"
#include "kernels/ggml_int_loops.h"
#include "weights/blocks_iq4.h"

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
// Pins v in a register here: without it GCC reassociates a sub-block's 8-16
// vpmaddubsw results into a tree whose partial sums no longer fit the 16 ymm
// registers (spills cost more than the adds).
inline void keep(__m256i& v) { __asm__("" : "+x"(v)); }
inline __m256 load_f16x8(const uint8_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }

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

// acc[t] (8 floats: rows 8h..8h+7 of token t) += sums * scale * da_t.
inline void add_scaled(float* acc, __m256i sums, __m256 scale, float da) {
  const __m256 v = _mm256_loadu_ps(acc);
  _mm256_storeu_ps(acc, _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_mul_ps(scale, _mm256_set1_ps(da)), v));
}

// One tile-super-block's rows 8h..8h+7: scales as vpmaddwd operands.
struct Q45KScales {
  __m256i sc[8];    // sub-block j: int16 lanes (sc_j, sc_j) per row
  __m256i mins[4];  // int16 lanes (m_2p, m_2p+1) per row
  __m256 d, dmin;
  Q45KScales(const uint8_t* sb, int h) {
    for (int j = 0; j < 8; ++j) {
      const __m256i s = six_bits(sb + 64, sb + 192, j, h);
      sc[j] = _mm256_or_si256(s, _mm256_slli_epi32(s, 16));
    }
    for (int p = 0; p < 4; ++p)
      mins[p] = pair16(six_bits(sb + 128, sb + 224, 2 * p, h), six_bits(sb + 128, sb + 224, 2 * p + 1, h));
    d = load_f16x8(sb + 16 * h), dmin = load_f16x8(sb + 32 + 16 * h);
  }
};

// Q4_K (kQh: Q5_K) super-block b of one tile, rows 8h..8h+7, against tokens
// t0..t0+NT-1 of the chunk starting at c0. `pairs` holds per token of the chunk
// and super-block the four int16 pairs (S_2p, S_2p+1) of 32-sums of the
// activations; acc[16 (t - c0) + 8h ...] the tokens' float sums.
template <bool kQh, int NT>
void q45k_sb(const uint8_t* sb, int h, const Q45KScales& s, const GgmlActs& a, int64_t b, int64_t t0, int64_t c0,
             const int32_t* pairs, int64_t n_sb, float* acc) {
  const Toks<NT> tk(a, t0);
  const __m256i m4 = _mm256_set1_epi8(0x0F), bit4 = _mm256_set1_epi8(0x10);
  __m256i iacc[NT];
  for (int t = 0; t < NT; ++t) iacc[t] = _mm256_setzero_si256();
  const uint8_t* codes = sb + kQ4KCodesAt + 32 * h;
  for (int j = 0; j < 8; ++j) {
    __m256i hb = kQh ? load32(sb + kQ5KBitsAt + 64 * j + 32 * h) : _mm256_setzero_si256();
    // Q5_K: codes up to 31, so int16 sums go to vpmaddwd every 2 steps.
    constexpr int kStepsPerMadd = kQh ? 2 : 4;
#pragma GCC unroll 2
    for (int s0 = 0; s0 < 4; s0 += kStepsPerMadd) {
      __m256i p16[NT];
#pragma GCC unroll 4
      for (int s = s0; s < s0 + kStepsPerMadd; ++s) {
        const uint8_t* src = codes + 64 * (4 * j + s);
        if constexpr (NT == 1) _mm_prefetch(reinterpret_cast<const char*>(src + kPrefetchAhead), _MM_HINT_T0);
        const __m256i v = load32(src);
        __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
        if constexpr (kQh) {  // bit 2s of hb: 5th bit of lo, bit 2s + 1 of hi
          lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(hb, 4), bit4));
          hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(hb, 3), bit4));
          hb = _mm256_srli_epi16(hb, 2);
        }
        for (int t = 0; t < NT; ++t) {
          const int8_t* x = tk.q[t] + b * kQK_K + 32 * j + 8 * s;
          const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, bcast4(x)), _mm256_maddubs_epi16(hi, bcast4(x + 4)));
          p16[t] = s == s0 ? p : _mm256_add_epi16(p16[t], p);
          keep(p16[t]);
        }
      }
      for (int t = 0; t < NT; ++t) iacc[t] = _mm256_add_epi32(iacc[t], _mm256_madd_epi16(p16[t], s.sc[j]));
    }
  }
  for (int t = 0; t < NT; ++t) {
    const int32_t* pr = pairs + ((t0 - c0 + t) * n_sb + b) * 4;
    __m256i macc = _mm256_madd_epi16(s.mins[0], _mm256_set1_epi32(pr[0]));
    for (int p = 1; p < 4; ++p) macc = _mm256_add_epi32(macc, _mm256_madd_epi16(s.mins[p], _mm256_set1_epi32(pr[p])));
    float* at = acc + kKqTileRows * (t0 - c0 + t) + 8 * h;
    const float da = tk.d[t][b];
    add_scaled(at, iacc[t], s.d, da);
    add_scaled(at, _mm256_sub_epi32(_mm256_setzero_si256(), macc), s.dmin, da);
  }
}

struct Q6KScales {
  __m256i sc[16];  // group j: int16 lanes (sc_j, sc_j) per row
  __m256i sp[8];   // int16 lanes (sc_2p, sc_2p+1) per row
  __m256 d;
  Q6KScales(const uint8_t* sb, int h) {
    const uint8_t* scales = sb + kQ6KScalesAt + 8 * h;
    for (int j = 0; j < 16; ++j) {
      const __m256i s = _mm256_cvtepi8_epi32(load8(scales + 16 * j));
      sc[j] = pair16(s, s);
    }
    for (int p = 0; p < 8; ++p)
      sp[p] = pair16(_mm256_cvtepi8_epi32(load8(scales + 32 * p)), _mm256_cvtepi8_epi32(load8(scales + 32 * p + 16)));
    d = load_f16x8(sb + 16 * h);
  }
};

template <int NT>
void q6k_sb(const uint8_t* sb, int h, const Q6KScales& s, const GgmlActs& a, int64_t b, int64_t t0, int64_t c0,
            float* acc) {
  const Toks<NT> tk(a, t0);
  const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x30);
  __m256i iacc[NT];
  // The offset: -32 * sum_j sc_j * sum(a)_j, as int16 pairs of scales against pairs of 16-sums.
  for (int t = 0; t < NT; ++t) {
    const int16_t* s16 = tk.s16[t] + 16 * b;
    __m256i off = _mm256_madd_epi16(s.sp[0], bcast4(s16));
    for (int p = 1; p < 8; ++p) off = _mm256_add_epi32(off, _mm256_madd_epi16(s.sp[p], bcast4(s16 + 2 * p)));
    iacc[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(off, 5));
  }
#pragma GCC unroll 2
  for (int j = 0; j < 16; ++j) {
    const uint8_t* g = sb + kQ6KGroupsAt + kQ6KGroupBytes * j + 32 * h;
    if constexpr (NT == 1) {
      _mm_prefetch(reinterpret_cast<const char*>(g + kPrefetchAhead), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(g + kPrefetchAhead + 64), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(g + kPrefetchAhead + 128), _MM_HINT_T0);
    }
    // Two passes of 8 weights each (low nibbles of v0 / v1 with the matching top
    // bits), so only two decoded vectors are live next to the 4 tokens' sums.
    const __m256i hb = load32(g + 128);
#pragma GCC unroll 2
    for (int k = 0; k < 2; ++k) {
      const __m256i v = load32(g + 64 * k), top = k ? hb : _mm256_slli_epi16(hb, 4);
      const __m256i qa = _mm256_or_si256(_mm256_and_si256(v, m4), _mm256_and_si256(top, m2));
      const __m256i qb =
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), m4), _mm256_and_si256(_mm256_srli_epi16(top, 2), m2));
      for (int t = 0; t < NT; ++t) {
        const int8_t* x = tk.q[t] + b * kQK_K + 16 * j + 8 * k;
        const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(qa, bcast4(x)), _mm256_maddubs_epi16(qb, bcast4(x + 4)));
        iacc[t] = _mm256_add_epi32(iacc[t], _mm256_madd_epi16(p, s.sc[j]));
        keep(iacc[t]);
      }
    }
  }
  for (int t = 0; t < NT; ++t) add_scaled(acc + kKqTileRows * (t0 - c0 + t) + 8 * h, iacc[t], s.d, tk.d[t][b]);
}

// IQ4_XS: sub-block scales ls - 32 in int16 pairs, like Q4_K's sc.
struct IQ4XSScales {
  __m256i sc[8];
  __m256 d;
  IQ4XSScales(const uint8_t* sb, int h) {
    for (int j = 0; j < 8; ++j) {
      const __m256i s = _mm256_sub_epi32(six_bits(sb + 32, sb + 96, j, h), _mm256_set1_epi32(32));
      sc[j] = pair16(s, s);
    }
    d = load_f16x8(sb + 16 * h);
  }
};

// IQ4_XS: the 16 signed levels looked up (vpshufb); |level| on vpmaddubsw's
// unsigned side and the broadcast activations given each row's sign of the level.
// A pair sum can reach 2*127*127, so every vpmaddubsw goes to vpmaddwd at once
// (no int16 sums): the gain over the in-place kernel is the lookups and loads
// shared by 4 tokens, and the activations read once per 8 rows.
template <int NT>
void iq4xs_sb(const uint8_t* sb, int h, const IQ4XSScales& s, const GgmlActs& a, int64_t b, int64_t t0, int64_t c0,
              float* acc) {
  const Toks<NT> tk(a, t0);
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i levels = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIQ4Levels)));
  __m256i iacc[NT];
  for (int t = 0; t < NT; ++t) iacc[t] = _mm256_setzero_si256();
  const uint8_t* codes = sb + kIQ4XSCodesAt + 32 * h;
  for (int j = 0; j < 8; ++j) {
#pragma GCC unroll 4
    for (int st = 0; st < 4; ++st) {
      const uint8_t* src = codes + 64 * (4 * j + st);
      if constexpr (NT == 1) _mm_prefetch(reinterpret_cast<const char*>(src + kPrefetchAhead), _MM_HINT_T0);
      const __m256i v = load32(src);
      const __m256i wl = _mm256_shuffle_epi8(levels, _mm256_and_si256(v, m4));
      const __m256i wh = _mm256_shuffle_epi8(levels, _mm256_and_si256(_mm256_srli_epi16(v, 4), m4));
      const __m256i al = _mm256_abs_epi8(wl), ah = _mm256_abs_epi8(wh);
      for (int t = 0; t < NT; ++t) {
        const int8_t* x = tk.q[t] + b * kQK_K + 32 * j + 8 * st;
        const __m256i pl = _mm256_maddubs_epi16(al, _mm256_sign_epi8(bcast4(x), wl));
        const __m256i ph = _mm256_maddubs_epi16(ah, _mm256_sign_epi8(bcast4(x + 4), wh));
        iacc[t] = _mm256_add_epi32(iacc[t], _mm256_add_epi32(_mm256_madd_epi16(pl, s.sc[j]), _mm256_madd_epi16(ph, s.sc[j])));
        keep(iacc[t]);
      }
    }
  }
  for (int t = 0; t < NT; ++t) add_scaled(acc + kKqTileRows * (t0 - c0 + t) + 8 * h, iacc[t], s.d, tk.d[t][b]);
}

// Tokens in chunks of 64; per tile and super-block, each half's scales decoded
// once, then sb_kernel(nt, sb, h, scales, b, t, c0, acc) for the chunk's 4-token
// groups; the float sums of the chunk's tokens x 16 rows stay in `acc` (token t at
// 16 (t - c0)) until the tile's last super-block.
template <class Scales, class SbKernel, class ChunkSetup>
void tiles_tokens(const PackedKQuant& w, const GgmlActs& a, int64_t tile0, int64_t tile1, float* y, int64_t ldy,
                  ChunkSetup&& setup, SbKernel&& sb_kernel) {
  const int64_t n = a.n_tokens();
  alignas(32) float acc[kTokenChunk * kKqTileRows];
  for (int64_t c0 = 0; c0 < n; c0 += kTokenChunk) {
    const int64_t c1 = std::min(n, c0 + kTokenChunk);
    setup(c0, c1);
    for (int64_t tile = tile0; tile < tile1; ++tile) {
      std::fill(acc, acc + (c1 - c0) * kKqTileRows, 0.0f);
      for (int64_t b = 0; b < w.n_sb; ++b) {
        const uint8_t* sb = w.tile(tile) + b * w.sb_bytes;
        for (int h = 0; h < 2; ++h) {
          const Scales s(sb, h);
          token_groups(c0, c1, [&](auto nt, int64_t t) { sb_kernel(nt, sb, h, s, b, t, c0, acc); });
        }
      }
      const int64_t n_rows = std::min<int64_t>(kKqTileRows, w.rows - tile * kKqTileRows);
      for (int64_t t = c0; t < c1; ++t)
        std::copy(acc + (t - c0) * kKqTileRows, acc + (t - c0) * kKqTileRows + n_rows, y + t * ldy + tile * kKqTileRows);
    }
  }
}

template <bool kQh>
void q45k_tiles(const PackedKQuant& w, const GgmlActs& a, int64_t tile0, int64_t tile1, float* y, int64_t ldy) {
  // Per token of the chunk and super-block: int16 pairs (S_2p, S_2p+1) of the
  // activations' 32-sums (|S| <= 32 * 127), each one broadcast dword.
  thread_local std::vector<int32_t> pairs;
  const auto setup = [&](int64_t c0, int64_t c1) {
    pairs.resize(static_cast<size_t>((c1 - c0) * w.n_sb * 4));
    for (int64_t t = c0; t < c1; ++t) {
      const int16_t* s16 = a.tok_sum16(t);
      for (int64_t b = 0; b < w.n_sb; ++b)
        for (int p = 0; p < 4; ++p) {
          const int16_t* s = s16 + 16 * b + 4 * p;
          const auto lo = static_cast<uint16_t>(s[0] + s[1]), hi = static_cast<uint16_t>(s[2] + s[3]);
          pairs[((t - c0) * w.n_sb + b) * 4 + p] = static_cast<int32_t>(lo | static_cast<uint32_t>(hi) << 16);
        }
    }
  };
  tiles_tokens<Q45KScales>(w, a, tile0, tile1, y, ldy, setup,
                           [&](auto nt, const uint8_t* sb, int h, const Q45KScales& s, int64_t b, int64_t t, int64_t c0,
                               float* acc) {
                             q45k_sb<kQh, decltype(nt)::value>(sb, h, s, a, b, t, c0, pairs.data(), w.n_sb, acc);
                           });
}

}  // namespace

void avx2_kquant_q4_k_tiles(const PackedKQuant& w, const GgmlActs& a, int64_t tile0, int64_t tile1, float* y,
                            int64_t ldy) {
  q45k_tiles<false>(w, a, tile0, tile1, y, ldy);
}
void avx2_kquant_q5_k_tiles(const PackedKQuant& w, const GgmlActs& a, int64_t tile0, int64_t tile1, float* y,
                            int64_t ldy) {
  q45k_tiles<true>(w, a, tile0, tile1, y, ldy);
}
void avx2_kquant_q6_k_tiles(const PackedKQuant& w, const GgmlActs& a, int64_t tile0, int64_t tile1, float* y,
                            int64_t ldy) {
  tiles_tokens<Q6KScales>(w, a, tile0, tile1, y, ldy, [](int64_t, int64_t) {},
                          [&](auto nt, const uint8_t* sb, int h, const Q6KScales& s, int64_t b, int64_t t, int64_t c0,
                              float* acc) { q6k_sb<decltype(nt)::value>(sb, h, s, a, b, t, c0, acc); });
}

void avx2_kquant_iq4_xs_tiles(const PackedKQuant& w, const GgmlActs& a, int64_t tile0, int64_t tile1, float* y,
                              int64_t ldy) {
  tiles_tokens<IQ4XSScales>(w, a, tile0, tile1, y, ldy, [](int64_t, int64_t) {},
                            [&](auto nt, const uint8_t* sb, int h, const IQ4XSScales& s, int64_t b, int64_t t, int64_t c0,
                                float* acc) { iq4xs_sb<decltype(nt)::value>(sb, h, s, a, b, t, c0, acc); });
}

}  // namespace pocketllm
