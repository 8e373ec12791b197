// Q4_K / Q5_K / Q6_K / IQ4_XS tile GEMMs with AVX2 (layout: weights/kquant_tiles.h;
// loop structure: kquant_tiles_256.h). vpmaddubsw gives int16 pair sums of unsigned
// codes times int8 activations; they are summed in int16 as far as that cannot
// overflow (Q4_K: 8 x 2*15*127 = 30480; Q5_K: 4 x 2*31*127 = 31496; Q6_K: 2 x
// 2*63*127 = 32004), then one vpmaddwd against the rows' integer scales (int16
// lanes (sc, sc)) makes the scaled int32 sums. Q4_K/Q5_K's min term and Q6_K's
// -32 offset come from GgmlActs::sum16 with vpmaddwd once per super-block. Per
// weight-token pair the inner loop is only vpmaddubsw, vpaddw and a broadcast.
#include "kernels/x86_avx2/kquant_tiles_256.h"
#include "weights/blocks_iq4.h"

namespace pocketllm {
namespace {

// Q4_K (kQh: Q5_K) super-block b of one tile, rows 8h..8h+7, against tokens
// t0..t0+NT-1 of the chunk starting at c0. `pairs` holds per token of the chunk
// and super-block the four int16 pairs (S_2p, S_2p+1) of 32-sums of the
// activations; acc[16 (t - c0) + 8h ...] the tokens' float sums.
template <bool kQh, int NT>
void q45k_sb(const uint8_t* sb, int h, const Q45KScales& s, const GgmlActs& a, int64_t b, int64_t t0, int64_t c0,
             const SumPairs& pairs, int64_t n_sb, float* acc) {
  const Toks<NT> tk(a, t0);
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
        __m256i lo, hi;
        q45k_step_codes<kQh, NT == 1>(codes + 64 * (4 * j + s), hb, lo, hi);
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
    // Two passes of 8 weights each (low nibbles of v0 / v1 with the matching top
    // bits), so only two decoded vectors are live next to the 4 tokens' sums.
    const __m256i hb = load32(g + 128);
#pragma GCC unroll 2
    for (int k = 0; k < 2; ++k) {
      __m256i qa, qb;
      q6k_codes(g, k, hb, qa, qb);
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
