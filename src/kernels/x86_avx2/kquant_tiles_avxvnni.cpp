// Q4_K / Q5_K / Q6_K / IQ4_XS tile GEMMs with AVX-VNNI (256-bit vpdpbusd; layout
// weights/kquant_tiles.h, loop structure kquant_tiles_256.h). vpdpbusd sums 4
// products of unsigned codes and int8 activations straight into int32 lanes, so a
// sub-block's exact dot costs one instruction per 32 pairs (AVX2: vpmaddubsw +
// vpaddw); it is then times the rows' integer scale (vpmulld, once per sub-block
// and token). IQ4_XS's levels go unsigned as level + 128 (1..241): vpdpbusd does
// not saturate, and the offset is -128 * sum_j sc_j * sum(a)_j, from SumPairs.
// int32 bounds: Q5_K sub-block dot <= 32*31*127 = 125984, times 63; Q6_K group dot
// <= 16*63*127 = 128016, times 128, 16 groups: 262M; IQ4_XS dot <= 32*241*127 =
// 979424, times 32, 8 sub-blocks: 251M, offset <= 128*8*32*4064 = 133M.
// Only avxvnni is added to this folder's AVX2 flags, so no EVEX code.
#pragma GCC push_options
#pragma GCC target("avxvnni")
#include "kernels/x86_avx2/kquant_tiles_256.h"
#include "weights/blocks_iq4.h"

namespace pocketllm {
namespace {

inline __m256i dp(__m256i acc, __m256i u8, __m256i s8) { return _mm256_dpbusd_avx_epi32(acc, u8, s8); }
// The int32 scale of a (sc, sc) int16 pair lane (sc >= 0 or sign-extended).
inline __m256i low16(__m256i pair) { return _mm256_srai_epi32(_mm256_slli_epi32(pair, 16), 16); }

template <bool kQh, int NT>
void q45k_sb(const uint8_t* sb, int h, const Q45KScales& s, const GgmlActs& a, int64_t b, int64_t t0, int64_t c0,
             const SumPairs& pairs, int64_t n_sb, float* acc) {
  const Toks<NT> tk(a, t0);
  __m256i iacc[NT];
  for (int t = 0; t < NT; ++t) iacc[t] = _mm256_setzero_si256();
  const uint8_t* codes = sb + kQ4KCodesAt + 32 * h;
  for (int j = 0; j < 8; ++j) {
    __m256i hb = kQh ? load32(sb + kQ5KBitsAt + 64 * j + 32 * h) : _mm256_setzero_si256();
    __m256i dot[NT];
    for (int t = 0; t < NT; ++t) dot[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int st = 0; st < 4; ++st) {
      __m256i lo, hi;
      q45k_step_codes<kQh, NT == 1>(codes + 64 * (4 * j + st), hb, lo, hi);
      for (int t = 0; t < NT; ++t) {
        const int8_t* x = tk.q[t] + b * kQK_K + 32 * j + 8 * st;
        dot[t] = dp(dp(dot[t], lo, bcast4(x)), hi, bcast4(x + 4));
        keep(dot[t]);
      }
    }
    const __m256i sc = low16(s.sc[j]);
    for (int t = 0; t < NT; ++t) iacc[t] = _mm256_add_epi32(iacc[t], _mm256_mullo_epi32(dot[t], sc));
  }
  for (int t = 0; t < NT; ++t)
    q45k_finish(acc + kKqTileRows * (t0 - c0 + t) + 8 * h, iacc[t], s, pairs.at(t0 + t, c0, n_sb, b), tk.d[t][b]);
}

template <int NT>
void q6k_sb(const uint8_t* sb, int h, const Q6KScales& s, const GgmlActs& a, int64_t b, int64_t t0, int64_t c0,
            float* acc) {
  const Toks<NT> tk(a, t0);
  __m256i iacc[NT];
  for (int t = 0; t < NT; ++t) iacc[t] = q6k_offset(s, tk.s16[t] + 16 * b);
#pragma GCC unroll 2
  for (int j = 0; j < 16; ++j) {
    const uint8_t* g = sb + kQ6KGroupsAt + kQ6KGroupBytes * j + 32 * h;
    if constexpr (NT == 1) prefetch_q6k_group(g);
    const __m256i hb = load32(g + 128);
    __m256i dot[NT];
    for (int t = 0; t < NT; ++t) dot[t] = _mm256_setzero_si256();
#pragma GCC unroll 2
    for (int k = 0; k < 2; ++k) {  // low nibbles of the bytes at 64k with their top bits
      __m256i qa, qb;
      q6k_codes(g, k, hb, qa, qb);
      for (int t = 0; t < NT; ++t) {
        const int8_t* x = tk.q[t] + b * kQK_K + 16 * j + 8 * k;
        dot[t] = dp(dp(dot[t], qa, bcast4(x)), qb, bcast4(x + 4));
        keep(dot[t]);
      }
    }
    const __m256i sc = low16(s.sc[j]);
    for (int t = 0; t < NT; ++t) iacc[t] = _mm256_add_epi32(iacc[t], _mm256_mullo_epi32(dot[t], sc));
  }
  for (int t = 0; t < NT; ++t) add_scaled(acc + kKqTileRows * (t0 - c0 + t) + 8 * h, iacc[t], s.d, tk.d[t][b]);
}

// The 16 levels + 128 as bytes (1..241), the unsigned side of vpdpbusd.
inline __m256i iq4_levels_u8() {
  alignas(16) uint8_t u[16];
  for (int i = 0; i < 16; ++i) u[i] = static_cast<uint8_t>(kIQ4Levels[i] + 128);
  return _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(u)));
}

template <int NT>
void iq4xs_sb(const uint8_t* sb, int h, const IQ4XSScales& s, const GgmlActs& a, int64_t b, int64_t t0, int64_t c0,
              const SumPairs& pairs, int64_t n_sb, float* acc) {
  const Toks<NT> tk(a, t0);
  const __m256i m4 = _mm256_set1_epi8(0x0F), levels = iq4_levels_u8();
  __m256i iacc[NT];
  // The offset of the unsigned levels: -128 * sum_j sc_j * S_j.
  for (int t = 0; t < NT; ++t) {
    const int32_t* pr = pairs.at(t0 + t, c0, n_sb, b);
    __m256i off = _mm256_madd_epi16(s.sp[0], _mm256_set1_epi32(pr[0]));
    for (int p = 1; p < 4; ++p) off = _mm256_add_epi32(off, _mm256_madd_epi16(s.sp[p], _mm256_set1_epi32(pr[p])));
    iacc[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(off, 7));
  }
  const uint8_t* codes = sb + kIQ4XSCodesAt + 32 * h;
  for (int j = 0; j < 8; ++j) {
    __m256i dot[NT];
    for (int t = 0; t < NT; ++t) dot[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int st = 0; st < 4; ++st) {
      const uint8_t* src = codes + 64 * (4 * j + st);
      if constexpr (NT == 1) _mm_prefetch(reinterpret_cast<const char*>(src + kPrefetchAhead), _MM_HINT_T0);
      const __m256i v = load32(src);
      const __m256i ul = _mm256_shuffle_epi8(levels, _mm256_and_si256(v, m4));
      const __m256i uh = _mm256_shuffle_epi8(levels, _mm256_and_si256(_mm256_srli_epi16(v, 4), m4));
      for (int t = 0; t < NT; ++t) {
        const int8_t* x = tk.q[t] + b * kQK_K + 32 * j + 8 * st;
        dot[t] = dp(dp(dot[t], ul, bcast4(x)), uh, bcast4(x + 4));
        keep(dot[t]);
      }
    }
    const __m256i sc = low16(s.sc[j]);
    for (int t = 0; t < NT; ++t) iacc[t] = _mm256_add_epi32(iacc[t], _mm256_mullo_epi32(dot[t], sc));
  }
  for (int t = 0; t < NT; ++t) add_scaled(acc + kKqTileRows * (t0 - c0 + t) + 8 * h, iacc[t], s.d, tk.d[t][b]);
}

template <bool kQh>
void q45k_tiles(const PackedKQuant& w, const GgmlActs& a, int64_t tile0, int64_t tile1, float* y, int64_t ldy) {
  thread_local SumPairs pairs;
  tiles_tokens<Q45KScales>(w, a, tile0, tile1, y, ldy, [&](int64_t c0, int64_t c1) { pairs.fill(a, w.n_sb, c0, c1); },
                           [&](auto nt, const uint8_t* sb, int h, const Q45KScales& s, int64_t b, int64_t t, int64_t c0,
                               float* acc) {
                             q45k_sb<kQh, decltype(nt)::value>(sb, h, s, a, b, t, c0, pairs, w.n_sb, acc);
                           });
}

}  // namespace

void avxvnni_kquant_q4_k_tiles(const PackedKQuant& w, const GgmlActs& a, int64_t tile0, int64_t tile1, float* y,
                               int64_t ldy) {
  q45k_tiles<false>(w, a, tile0, tile1, y, ldy);
}
void avxvnni_kquant_q5_k_tiles(const PackedKQuant& w, const GgmlActs& a, int64_t tile0, int64_t tile1, float* y,
                               int64_t ldy) {
  q45k_tiles<true>(w, a, tile0, tile1, y, ldy);
}
void avxvnni_kquant_q6_k_tiles(const PackedKQuant& w, const GgmlActs& a, int64_t tile0, int64_t tile1, float* y,
                               int64_t ldy) {
  tiles_tokens<Q6KScales>(w, a, tile0, tile1, y, ldy, [](int64_t, int64_t) {},
                          [&](auto nt, const uint8_t* sb, int h, const Q6KScales& s, int64_t b, int64_t t, int64_t c0,
                              float* acc) { q6k_sb<decltype(nt)::value>(sb, h, s, a, b, t, c0, acc); });
}
void avxvnni_kquant_iq4_xs_tiles(const PackedKQuant& w, const GgmlActs& a, int64_t tile0, int64_t tile1, float* y,
                                 int64_t ldy) {
  thread_local SumPairs pairs;
  tiles_tokens<IQ4XSScales>(w, a, tile0, tile1, y, ldy, [&](int64_t c0, int64_t c1) { pairs.fill(a, w.n_sb, c0, c1); },
                            [&](auto nt, const uint8_t* sb, int h, const IQ4XSScales& s, int64_t b, int64_t t, int64_t c0,
                                float* acc) { iq4xs_sb<decltype(nt)::value>(sb, h, s, a, b, t, c0, pairs, w.n_sb, acc); });
}

}  // namespace pocketllm
#pragma GCC pop_options
