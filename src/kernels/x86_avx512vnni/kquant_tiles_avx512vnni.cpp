// Q4_K / Q5_K / Q6_K / IQ4_XS tile GEMMs (layout: weights/kquant_tiles.h) with 512-bit vpdpbusd:
// one zmm holds the int32 sums of a tile's 16 rows, activations are broadcast 4
// bytes at a time. Per sub-block the exact int32 dot (codes unsigned, activations
// int8) is multiplied by the rows' integer scales (vpmulld) and summed per
// super-block; then one float FMA per super-block, token and 16 rows.
// Q4_K's min term sum_j m_j * sum(a)_j is one vpdpwssd per pair of sub-blocks;
// Q6_K's -32 offset starts each sub-block's sum at -32 * sum(a) (GgmlActs::sum16).
// Q5_K is Q4_K with the 5th bit ORed into each code before vpdpbusd. IQ4_XS maps
// its indices to the levels + 128 (unsigned, vpshufb) and starts each sub-block's
// sum at -128 * sum(a); Q5_0 (blocks of 32, activations per 32) is one Q5_K
// sub-block per block, its -16 offset again from sum(a). int32 bounds in
// weights/kquant_tiles.h. Prefill of Q4_K, Q5_K, Q6_K and IQ4_XS runs the *_wide
// kernels (8 tokens per pass, offsets and Q4_K's scales by vpdpwssd, per super-block
// where the sub-block starts above say per sub-block); decode (1 token, software
// prefetch) keeps q4k_tile, q6k_tile and iq4xs_tile. Q5_0 takes 8 tokens per pass too.
// GCC 12's AVX-512 headers trip -Wuninitialized on their own _mm512_undefined_*().
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/ggml_int.h"
#include "kernels/ggml_int_loops.h"

namespace pocketllm {
namespace {

constexpr int64_t kTokenChunk = 64;       // tokens whose activations stay in L2 while tiles pass
constexpr int64_t kPrefetchAhead = 4096;  // decode: software prefetch distance (as int_gemm_avx512vnni)

// The accumulators tied in place with asm: GCC 12's intrinsics copy them around
// every instruction in loops (see int_gemm_avx512vnni.cpp).
inline void dpbusd(__m512i& acc, __m512i u8, __m512i s8) { asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8)); }
inline void dpwssd(__m512i& acc, __m512i a, __m512i b) { asm("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b)); }

inline __m512i bcast4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}
inline __m512i load(const uint8_t* p) { return _mm512_loadu_si512(p); }
inline __m128i load16(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
inline __m512 load_f16x16(const uint8_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }

inline void store_rows(float* dst, __m512 v, int n_rows) {
  _mm512_mask_storeu_ps(dst, static_cast<__mmask16>((1u << n_rows) - 1), v);
}

// facc[t] += iacc[t] * d * (token t's activation scale of block b): one float FMA
// per (super-)block, token and 16 rows.
template <int NT>
inline void add_scaled(__m512* facc, const __m512i* iacc, __m512 d, const Toks<NT>& tk, int64_t b) {
  for (int t = 0; t < NT; ++t)
    facc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc[t]), _mm512_mul_ps(d, _mm512_set1_ps(tk.d[t][b])), facc[t]);
}

// The tile's rows (fewer than 16 in the last tile) of tokens t0 .. t0 + NT - 1.
template <int NT>
inline void store_tile(const PackedKQuant& w, int64_t tile, int64_t t0, const __m512* facc, float* y, int64_t ldy) {
  const int n_rows = static_cast<int>(std::min<int64_t>(kKqTileRows, w.rows - tile * kKqTileRows));
  for (int t = 0; t < NT; ++t) store_rows(y + (t0 + t) * ldy + tile * kKqTileRows, facc[t], n_rows);
}

// 6-bit sub-block values of 16 rows as int32 lanes, from the low-nibble plane
// (byte 16 * (j / 2) + i, nibble j % 2) and the 2-bit high plane (byte
// 16 * (j / 4) + i, bits 2 * (j % 4)).
inline __m512i six_bits(const uint8_t* lo_plane, const uint8_t* hi_plane, int j) {
  const __m512i lo = _mm512_cvtepu8_epi32(load16(lo_plane + 16 * (j / 2)));
  const __m512i hi = _mm512_cvtepu8_epi32(load16(hi_plane + 16 * (j / 4)));
  const __m512i low4 = _mm512_and_si512(_mm512_srli_epi32(lo, 4 * (j % 2)), _mm512_set1_epi32(15));
  const __m512i top2 = _mm512_and_si512(_mm512_srli_epi32(hi, 2 * (j % 4)), _mm512_set1_epi32(3));
  return _mm512_or_si512(low4, _mm512_slli_epi32(top2, 4));
}

// Bit `from` of each byte moved to bit 4 (the 5th bit of a code), other bits junk.
template <int kFrom>
inline __m512i bit_to_4(__m512i v) {
  if constexpr (kFrom <= 4) return _mm512_slli_epi16(v, 4 - kFrom);
  else return _mm512_srli_epi16(v, kFrom - 4);
}
// a | (b & 0x10 per byte): one vpternlogd (imm: A | (B & C)).
inline __m512i or_bit4(__m512i a, __m512i b, __m512i m10) { return _mm512_ternarylogic_epi32(a, b, m10, 0xF8); }

// Step s of sub-block j: the 4-bit codes, with Q5_K's 5th bits from plane byte bits 2s, 2s+1.
template <bool kQ5, int S>
inline void codes_of_step(const uint8_t* src, const uint8_t* plane, __m512i& lo, __m512i& hi) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const __m512i v = load(src);
  lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
  if constexpr (kQ5) {
    const __m512i h = load(plane), m10 = _mm512_set1_epi8(0x10);
    lo = or_bit4(lo, bit_to_4<2 * S>(h), m10);
    hi = or_bit4(hi, bit_to_4<2 * S + 1>(h), m10);
  }
}

// Step S of a sub-block: its 8 codes per row against each token's activations
// x[t] + 8S .. + 7 (low nibbles: the first 4, into lo_acc; high: the last 4).
template <int NT, bool kQ5, bool kPrefetch, int S>
[[gnu::always_inline]] inline void step_dots(const uint8_t* codes, const uint8_t* plane, const int8_t* const (&x)[NT],
                                             __m512i (&lo_acc)[NT], __m512i (&hi_acc)[NT]) {
  const uint8_t* src = codes + 64 * S;
  if constexpr (kPrefetch) _mm_prefetch(reinterpret_cast<const char*>(src + kPrefetchAhead), _MM_HINT_T0);
  __m512i lo, hi;
  codes_of_step<kQ5, S>(src, plane, lo, hi);
  for (int t = 0; t < NT; ++t) {
    dpbusd(lo_acc[t], lo, bcast4(x[t] + 8 * S));
    dpbusd(hi_acc[t], hi, bcast4(x[t] + 8 * S + 4));
  }
}
// One sub-block of 32 codes (4 steps of 64 bytes from `codes`; Q5_K / Q5_0: the
// 5th bits from `plane`) against 32 activations of each token from x[t]. The one
// code loop of the Q4_K / Q5_K and Q5_0 kernels; kPrefetch: decode's stream.
// (No lambda here: capturing the accumulator arrays kept them in memory.)
template <int NT, bool kQ5, bool kPrefetch>
[[gnu::always_inline]] inline void sub_block_dots(const uint8_t* codes, const uint8_t* plane, const int8_t* const (&x)[NT],
                                                  __m512i (&lo_acc)[NT], __m512i (&hi_acc)[NT]) {
  step_dots<NT, kQ5, kPrefetch, 0>(codes, plane, x, lo_acc, hi_acc);
  step_dots<NT, kQ5, kPrefetch, 1>(codes, plane, x, lo_acc, hi_acc);
  step_dots<NT, kQ5, kPrefetch, 2>(codes, plane, x, lo_acc, hi_acc);
  step_dots<NT, kQ5, kPrefetch, 3>(codes, plane, x, lo_acc, hi_acc);
}

// One tile against tokens t0 .. t0 + NT - 1 (Q4_K, or Q5_K when kQ5).
template <int NT, bool kQ5>
void q4k_tile(const PackedKQuant& w, const GgmlActs& a, int64_t tile, int64_t t0, float* y, int64_t ldy) {
  const Toks<NT> tk(a, t0);
  __m512 facc[NT];
  for (int t = 0; t < NT; ++t) facc[t] = _mm512_setzero_ps();
  const uint8_t* sb = w.tile(tile);
  for (int64_t b = 0; b < w.n_sb; ++b, sb += w.sb_bytes) {
    // Min term first (fewer live registers in the code loop): lanes of int16
    // pairs (m_2p, m_2p+1) against broadcast pairs of 32-sums of the activations.
    __m512i macc[NT];
    for (int t = 0; t < NT; ++t) macc[t] = _mm512_setzero_si512();
    for (int p = 0; p < 4; ++p) {
      const __m512i mp = _mm512_or_si512(six_bits(sb + 128, sb + 224, 2 * p),
                                         _mm512_slli_epi32(six_bits(sb + 128, sb + 224, 2 * p + 1), 16));
      for (int t = 0; t < NT; ++t) {
        const int16_t* s = tk.s16[t] + 16 * b + 4 * p;
        const uint32_t pair = static_cast<uint16_t>(s[0] + s[1]) | static_cast<uint32_t>(static_cast<uint16_t>(s[2] + s[3])) << 16;
        dpwssd(macc[t], mp, _mm512_set1_epi32(static_cast<int>(pair)));
      }
    }
    __m512i iacc[NT];
    for (int t = 0; t < NT; ++t) iacc[t] = _mm512_setzero_si512();
    const uint8_t* codes = sb + kQ4KCodesAt;
    for (int j = 0; j < 8; ++j) {
      __m512i lo_acc[NT], hi_acc[NT];
      for (int t = 0; t < NT; ++t) lo_acc[t] = hi_acc[t] = _mm512_setzero_si512();
      const uint8_t* plane = sb + kQ5KBitsAt + 64 * j;
      if constexpr (kQ5 && NT == 1) _mm_prefetch(reinterpret_cast<const char*>(plane + kPrefetchAhead), _MM_HINT_T0);
      const int8_t* x[NT];
      for (int t = 0; t < NT; ++t) x[t] = tk.q[t] + b * kQK_K + 32 * j;
      sub_block_dots<NT, kQ5, NT == 1>(codes + 256 * j, plane, x, lo_acc, hi_acc);
      const __m512i sc = six_bits(sb + 64, sb + 192, j);
      for (int t = 0; t < NT; ++t)
        iacc[t] = _mm512_add_epi32(iacc[t], _mm512_mullo_epi32(_mm512_add_epi32(lo_acc[t], hi_acc[t]), sc));
    }
    const __m512 d = load_f16x16(sb), dmin = load_f16x16(sb + 32);
    for (int t = 0; t < NT; ++t) {
      const __m512 da = _mm512_set1_ps(tk.d[t][b]);
      facc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc[t]), _mm512_mul_ps(d, da), facc[t]);
      facc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(macc[t]), _mm512_mul_ps(dmin, da), facc[t]);
    }
  }
  store_tile<NT>(w, tile, t0, facc, y, ldy);
}

// Prefill Q4_K / Q5_K: 8 tokens per pass, so each decoded step of codes feeds
// 16 vpdpbusd. Q4_K's sub-block scale goes on with vpdpwssd instead of vpmulld:
// a half sub-block's dot (16 codes <= 15 times |a| <= 128: <= 30720) fits int16,
// so its int32 lane read as the int16 pair (dot, sign) against the lane (sc, 0)
// gives dot * sc exactly: iacc += lo * sc + hi * sc is two 1-uop vpdpwssd.
// Q5_K's half dots (codes <= 31) do not fit int16: one vpmulld of their sum.
// The min term's pairs of 32-sums come from `pairs` (min_pairs()); the order of
// the float updates is q4k_tile's, so the results equal its bit for bit.
template <int NT, bool kQ5>
void q4k_tile_wide(const PackedKQuant& w, const GgmlActs& a, const uint32_t* pairs, int64_t tile, int64_t t0, float* y,
                   int64_t ldy) {
  const Toks<NT> tk(a, t0);
  const int64_t np = 4 * w.n_sb;
  __m512 facc[NT];
  for (int t = 0; t < NT; ++t) facc[t] = _mm512_setzero_ps();
  const uint8_t* sb = w.tile(tile);
  for (int64_t b = 0; b < w.n_sb; ++b, sb += w.sb_bytes) {
    // The 8 scales decoded up front (constant shifts), off the sub-blocks' path.
    __m512i scs[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) scs[j] = six_bits(sb + 64, sb + 192, j);
    __m512i iacc[NT];
    for (int t = 0; t < NT; ++t) iacc[t] = _mm512_setzero_si512();
    for (int j = 0; j < 8; ++j) {
      __m512i lo_acc[NT], hi_acc[NT];
      const int8_t* x[NT];
      for (int t = 0; t < NT; ++t) lo_acc[t] = hi_acc[t] = _mm512_setzero_si512(), x[t] = tk.q[t] + b * kQK_K + 32 * j;
      sub_block_dots<NT, kQ5, false>(sb + kQ4KCodesAt + 256 * j, sb + kQ5KBitsAt + 64 * j, x, lo_acc, hi_acc);
      const __m512i sc = scs[j];
      for (int t = 0; t < NT; ++t) {
        if constexpr (kQ5) iacc[t] = _mm512_add_epi32(iacc[t], _mm512_mullo_epi32(_mm512_add_epi32(lo_acc[t], hi_acc[t]), sc));
        else dpwssd(iacc[t], lo_acc[t], sc), dpwssd(iacc[t], hi_acc[t], sc);
      }
    }
    const __m512 d = load_f16x16(sb);
    for (int t = 0; t < NT; ++t)
      facc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc[t]), _mm512_mul_ps(d, _mm512_set1_ps(tk.d[t][b])), facc[t]);
    __m512i mp[4];
#pragma GCC unroll 4
    for (int p = 0; p < 4; ++p)
      mp[p] = _mm512_or_si512(six_bits(sb + 128, sb + 224, 2 * p), _mm512_slli_epi32(six_bits(sb + 128, sb + 224, 2 * p + 1), 16));
    const __m512 dmin = load_f16x16(sb + 32);
    for (int t = 0; t < NT; ++t) {
      __m512i macc = _mm512_setzero_si512();
      const uint32_t* pr = pairs + (t0 + t) * np + 4 * b;
      for (int p = 0; p < 4; ++p) dpwssd(macc, mp[p], bcast4(pr + p));
      facc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(macc), _mm512_mul_ps(dmin, _mm512_set1_ps(tk.d[t][b])), facc[t]);
    }
  }
  store_tile<NT>(w, tile, t0, facc, y, ldy);
}

// Per token and super-block, the 4 int16 pairs (sum(a) over sub-blocks 2p, 2p + 1)
// from GgmlActs::sum16 that Q4_K's min term and IQ4_XS's offset multiply lane pairs with.
const uint32_t* min_pairs(const GgmlActs& a) {
  thread_local std::vector<uint32_t> pairs;
  const int64_t n = a.n_tokens(), n32 = a.cols() / 32;
  pairs.resize(static_cast<size_t>(n * n32 / 2));
  for (int64_t t = 0; t < n; ++t) {
    const int16_t* s = a.tok_sum16(t);
    uint32_t* out = pairs.data() + t * n32 / 2;
    for (int64_t p = 0; p < n32 / 2; ++p, s += 4)
      out[p] = static_cast<uint16_t>(s[0] + s[1]) | static_cast<uint32_t>(static_cast<uint16_t>(s[2] + s[3])) << 16;
  }
  return pairs.data();
}

// Per token and block of 32, -16 * sum(a): Q5_0's offset, a broadcast load in
// the kernel instead of scalar work and a register broadcast per block and token.
const int32_t* q50_offsets(const GgmlActs& a) {
  thread_local std::vector<int32_t> offs;
  const int64_t n = a.n_tokens(), n32 = a.cols() / 32;
  offs.resize(static_cast<size_t>(n * n32));
  for (int64_t t = 0; t < n; ++t) {
    const int16_t* s = a.tok_sum16(t);
    for (int64_t b = 0; b < n32; ++b) offs[t * n32 + b] = -16 * (s[2 * b] + s[2 * b + 1]);
  }
  return offs.data();
}

// run(std::integral_constant<int, N>{}, t) over tokens [t0, t1): groups of N = 8,
// then one call with the rest (1..7).
template <class Run>
inline void token_groups8(int64_t t0, int64_t t1, Run&& run) {
  int64_t t = t0;
  for (; t + 8 <= t1; t += 8) run(std::integral_constant<int, 8>{}, t);
  switch (t1 - t) {
    case 7: run(std::integral_constant<int, 7>{}, t); break;
    case 6: run(std::integral_constant<int, 6>{}, t); break;
    case 5: run(std::integral_constant<int, 5>{}, t); break;
    case 4: run(std::integral_constant<int, 4>{}, t); break;
    case 3: run(std::integral_constant<int, 3>{}, t); break;
    case 2: run(std::integral_constant<int, 2>{}, t); break;
    case 1: run(std::integral_constant<int, 1>{}, t); break;
    default: break;
  }
}

// IQ4_XS: indices -> levels + 128 by vpshufb; each sub-block's sum starts at
// -128 * sum(a), so it is the exact dot of the signed levels.
template <int NT>
void iq4xs_tile(const PackedKQuant& w, const GgmlActs& a, int64_t tile, int64_t t0, float* y, int64_t ldy) {
  const Toks<NT> tk(a, t0);
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  alignas(16) uint8_t lut_bytes[16];
  for (int k = 0; k < 16; ++k) lut_bytes[k] = static_cast<uint8_t>(kIQ4Levels[k] + 128);
  const __m512i lut = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(lut_bytes)));
  __m512 facc[NT];
  for (int t = 0; t < NT; ++t) facc[t] = _mm512_setzero_ps();
  const uint8_t* sb = w.tile(tile);
  for (int64_t b = 0; b < w.n_sb; ++b, sb += kIQ4XSTileSb) {
    __m512i iacc[NT];
    for (int t = 0; t < NT; ++t) iacc[t] = _mm512_setzero_si512();
    const uint8_t* codes = sb + kIQ4XSCodesAt;
    for (int j = 0; j < 8; ++j) {
      __m512i lo_acc[NT], hi_acc[NT];
      for (int t = 0; t < NT; ++t) {
        const int16_t* s = tk.s16[t] + 16 * b + 2 * j;
        lo_acc[t] = _mm512_set1_epi32(-128 * (s[0] + s[1])), hi_acc[t] = _mm512_setzero_si512();
      }
#pragma GCC unroll 4
      for (int s = 0; s < 4; ++s) {
        const uint8_t* src = codes + 64 * (4 * j + s);
        if constexpr (NT == 1) _mm_prefetch(reinterpret_cast<const char*>(src + kPrefetchAhead), _MM_HINT_T0);
        const __m512i v = load(src);
        const __m512i lo = _mm512_shuffle_epi8(lut, _mm512_and_si512(v, m4));
        const __m512i hi = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(v, 4), m4));
        for (int t = 0; t < NT; ++t) {
          const int8_t* x = tk.q[t] + b * kQK_K + 32 * j + 8 * s;
          dpbusd(lo_acc[t], lo, bcast4(x));
          dpbusd(hi_acc[t], hi, bcast4(x + 4));
        }
      }
      const __m512i ls = _mm512_sub_epi32(six_bits(sb + 32, sb + 96, j), _mm512_set1_epi32(32));
      for (int t = 0; t < NT; ++t)
        iacc[t] = _mm512_add_epi32(iacc[t], _mm512_mullo_epi32(_mm512_add_epi32(lo_acc[t], hi_acc[t]), ls));
    }
    const __m512 d = load_f16x16(sb);
    add_scaled<NT>(facc, iacc, d, tk, b);
  }
  store_tile<NT>(w, tile, t0, facc, y, ldy);
}

// Prefill IQ4_XS, 8 tokens per pass. The -128 sum(a) start of each sub-block
// becomes, per super-block, sum_j (ls_j - 32) * -128 * sum(a)_j: vpdpwssd of the
// lane pairs (-128 (ls_2p - 32), -128 (ls_2p+1 - 32)) (|.| <= 4096) against the
// pairs of 32-sums (min_pairs()). Bound: 8 sub-blocks of unsigned levels
// (32*241*127*32 <= 31.3M each) plus the offset (8*4096*4064): < 2^31.
template <int NT>
void iq4xs_tile_wide(const PackedKQuant& w, const GgmlActs& a, const uint32_t* pairs, int64_t tile, int64_t t0, float* y,
                     int64_t ldy) {
  const Toks<NT> tk(a, t0);
  const int64_t np = 4 * w.n_sb;
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  alignas(16) uint8_t lut_bytes[16];
  for (int k = 0; k < 16; ++k) lut_bytes[k] = static_cast<uint8_t>(kIQ4Levels[k] + 128);
  const __m512i lut = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(lut_bytes)));
  __m512 facc[NT];
  for (int t = 0; t < NT; ++t) facc[t] = _mm512_setzero_ps();
  const uint8_t* sb = w.tile(tile);
  for (int64_t b = 0; b < w.n_sb; ++b, sb += kIQ4XSTileSb) {
    __m512i lss[8];  // the 8 scales decoded up front (constant shifts), as in q4k_tile_wide
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) lss[j] = _mm512_sub_epi32(six_bits(sb + 32, sb + 96, j), _mm512_set1_epi32(32));
    __m512i iacc[NT];
    for (int t = 0; t < NT; ++t) iacc[t] = _mm512_setzero_si512();
    const uint8_t* codes = sb + kIQ4XSCodesAt;
    for (int j = 0; j < 8; ++j) {
      __m512i lo_acc[NT], hi_acc[NT];
      for (int t = 0; t < NT; ++t) lo_acc[t] = hi_acc[t] = _mm512_setzero_si512();
#pragma GCC unroll 4
      for (int s = 0; s < 4; ++s) {
        const __m512i v = load(codes + 64 * (4 * j + s));
        const __m512i lo = _mm512_shuffle_epi8(lut, _mm512_and_si512(v, m4));
        const __m512i hi = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(v, 4), m4));
        for (int t = 0; t < NT; ++t) {
          const int8_t* x = tk.q[t] + b * kQK_K + 32 * j + 8 * s;
          dpbusd(lo_acc[t], lo, bcast4(x));
          dpbusd(hi_acc[t], hi, bcast4(x + 4));
        }
      }
      const __m512i ls = lss[j];
      for (int t = 0; t < NT; ++t)
        iacc[t] = _mm512_add_epi32(iacc[t], _mm512_mullo_epi32(_mm512_add_epi32(lo_acc[t], hi_acc[t]), ls));
    }
#pragma GCC unroll 4
    for (int p = 0; p < 4; ++p) {
      const __m512i l0 = lss[2 * p], l1 = lss[2 * p + 1];
      const __m512i pair = _mm512_mullo_epi16(_mm512_or_si512(_mm512_and_si512(l0, _mm512_set1_epi32(0xFFFF)), _mm512_slli_epi32(l1, 16)),
                                              _mm512_set1_epi16(-128));
      for (int t = 0; t < NT; ++t) dpwssd(iacc[t], pair, bcast4(pairs + (t0 + t) * np + 4 * b + p));
    }
    add_scaled<NT>(facc, iacc, load_f16x16(sb), tk, b);
  }
  store_tile<NT>(w, tile, t0, facc, y, ldy);
}

// Q5_0: per block of 32 the 4 steps of Q5_K's sub-block, the sum started at
// -16 * sum(a) (from `offs`, q50_offsets()), one float FMA per block (the
// activations' scale is per 32 too).
template <int NT>
void q50_tile(const PackedKQuant& w, const GgmlActs& a, const int32_t* offs, int64_t tile, int64_t t0, float* y,
              int64_t ldy) {
  const Toks<NT> tk(a, t0);
  __m512 facc[NT];
  for (int t = 0; t < NT; ++t) facc[t] = _mm512_setzero_ps();
  const uint8_t* sb = w.tile(tile);
  for (int64_t b = 0; b < w.n_sb; ++b, sb += kQ50TileSb) {
    if constexpr (NT == 1)
      for (int k = 0; k < 6; ++k) _mm_prefetch(reinterpret_cast<const char*>(sb + kPrefetchAhead + 64 * k), _MM_HINT_T0);
    __m512i lo_acc[NT], hi_acc[NT];
    for (int t = 0; t < NT; ++t) lo_acc[t] = bcast4(offs + (t0 + t) * w.n_sb + b), hi_acc[t] = _mm512_setzero_si512();
    const int8_t* x[NT];
    for (int t = 0; t < NT; ++t) x[t] = tk.q[t] + 32 * b;
    sub_block_dots<NT, true, false>(sb + kQ50CodesAt, sb + kQ50BitsAt, x, lo_acc, hi_acc);
    const __m512 d = load_f16x16(sb);
    for (int t = 0; t < NT; ++t)
      facc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(lo_acc[t], hi_acc[t])),
                                _mm512_mul_ps(d, _mm512_set1_ps(tk.d[t][b])), facc[t]);
  }
  store_tile<NT>(w, tile, t0, facc, y, ldy);
}

template <int NT>
void q6k_tile(const PackedKQuant& w, const GgmlActs& a, int64_t tile, int64_t t0, float* y, int64_t ldy) {
  const Toks<NT> tk(a, t0);
  const __m512i m4 = _mm512_set1_epi8(0x0F), m2 = _mm512_set1_epi8(0x30);
  __m512 facc[NT];
  for (int t = 0; t < NT; ++t) facc[t] = _mm512_setzero_ps();
  const uint8_t* sb = w.tile(tile);
  for (int64_t b = 0; b < w.n_sb; ++b, sb += kQ6KTileSb) {
    __m512i iacc[NT];
    for (int t = 0; t < NT; ++t) iacc[t] = _mm512_setzero_si512();
#pragma GCC unroll 2
    for (int j = 0; j < 16; ++j) {
      const uint8_t* g = sb + kQ6KGroupsAt + kQ6KGroupBytes * j;
      if constexpr (NT == 1) {
        _mm_prefetch(reinterpret_cast<const char*>(g + kPrefetchAhead), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(g + kPrefetchAhead + 64), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(g + kPrefetchAhead + 128), _MM_HINT_T0);
      }
      const __m512i v0 = load(g), v1 = load(g + 64), h = load(g + 128);
      const __m512i q0 = _mm512_or_si512(_mm512_and_si512(v0, m4), _mm512_and_si512(_mm512_slli_epi16(h, 4), m2));
      const __m512i q1 =
          _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(v0, 4), m4), _mm512_and_si512(_mm512_slli_epi16(h, 2), m2));
      const __m512i q2 = _mm512_or_si512(_mm512_and_si512(v1, m4), _mm512_and_si512(h, m2));
      const __m512i q3 =
          _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(v1, 4), m4), _mm512_and_si512(_mm512_srli_epi16(h, 2), m2));
      const __m512i sc = _mm512_cvtepi8_epi32(load16(sb + kQ6KScalesAt + 16 * j));
      for (int t = 0; t < NT; ++t) {
        const int8_t* x = tk.q[t] + b * kQK_K + 16 * j;
        __m512i acc0 = _mm512_set1_epi32(-32 * tk.s16[t][16 * b + j]), acc1 = _mm512_setzero_si512();
        dpbusd(acc0, q0, bcast4(x));
        dpbusd(acc1, q1, bcast4(x + 4));
        dpbusd(acc0, q2, bcast4(x + 8));
        dpbusd(acc1, q3, bcast4(x + 12));
        iacc[t] = _mm512_add_epi32(iacc[t], _mm512_mullo_epi32(_mm512_add_epi32(acc0, acc1), sc));
      }
    }
    const __m512 d = load_f16x16(sb);
    add_scaled<NT>(facc, iacc, d, tk, b);
  }
  store_tile<NT>(w, tile, t0, facc, y, ldy);
}

// Prefill Q6_K, 8 tokens per pass: one vpdpbusd chain per token and sub-block
// (its 16 weights), times the int8 scale by vpmulld. The -32 offset is
// sum_j -32 sc_j sum(a)_j, added per super-block by vpdpwssd of the lane pairs
// (-32 sc_2p, -32 sc_2p+1) against the broadcast pair of 16-sums (GgmlActs::sum16)
// instead of a broadcast per sub-block and token. Bound: the 16 sub-blocks
// (<= 16*63*127*128 = 16.4M each) plus the offset (<= 16*4096*2032): < 2^31.
template <int NT>
void q6k_tile_wide(const PackedKQuant& w, const GgmlActs& a, int64_t tile, int64_t t0, float* y, int64_t ldy) {
  const Toks<NT> tk(a, t0);
  const __m512i m4 = _mm512_set1_epi8(0x0F), m2 = _mm512_set1_epi8(0x30);
  __m512 facc[NT];
  for (int t = 0; t < NT; ++t) facc[t] = _mm512_setzero_ps();
  const uint8_t* sb = w.tile(tile);
  for (int64_t b = 0; b < w.n_sb; ++b, sb += kQ6KTileSb) {
    __m512i iacc[NT];
    for (int t = 0; t < NT; ++t) iacc[t] = _mm512_setzero_si512();
    for (int j = 0; j < 16; ++j) {
      const uint8_t* g = sb + kQ6KGroupsAt + kQ6KGroupBytes * j;
      const __m512i v0 = load(g), v1 = load(g + 64), h = load(g + 128);
      const __m512i q0 = _mm512_or_si512(_mm512_and_si512(v0, m4), _mm512_and_si512(_mm512_slli_epi16(h, 4), m2));
      const __m512i q1 =
          _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(v0, 4), m4), _mm512_and_si512(_mm512_slli_epi16(h, 2), m2));
      const __m512i q2 = _mm512_or_si512(_mm512_and_si512(v1, m4), _mm512_and_si512(h, m2));
      const __m512i q3 =
          _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(v1, 4), m4), _mm512_and_si512(_mm512_srli_epi16(h, 2), m2));
      const __m512i sc = _mm512_cvtepi8_epi32(load16(sb + kQ6KScalesAt + 16 * j));
      for (int t = 0; t < NT; ++t) {
        const int8_t* x = tk.q[t] + b * kQK_K + 16 * j;
        __m512i acc = _mm512_setzero_si512();
        dpbusd(acc, q0, bcast4(x));
        dpbusd(acc, q1, bcast4(x + 4));
        dpbusd(acc, q2, bcast4(x + 8));
        dpbusd(acc, q3, bcast4(x + 12));
        iacc[t] = _mm512_add_epi32(iacc[t], _mm512_mullo_epi32(acc, sc));
      }
    }
    for (int p = 0; p < 8; ++p) {
      const __m512i s0 = _mm512_cvtepi8_epi32(load16(sb + kQ6KScalesAt + 32 * p));
      const __m512i s1 = _mm512_cvtepi8_epi32(load16(sb + kQ6KScalesAt + 32 * p + 16));
      const __m512i pair = _mm512_mullo_epi16(_mm512_or_si512(_mm512_and_si512(s0, _mm512_set1_epi32(0xFFFF)), _mm512_slli_epi32(s1, 16)),
                                              _mm512_set1_epi16(-32));
      for (int t = 0; t < NT; ++t) dpwssd(iacc[t], pair, bcast4(tk.s16[t] + 16 * b + 2 * p));
    }
    add_scaled<NT>(facc, iacc, load_f16x16(sb), tk, b);
  }
  store_tile<NT>(w, tile, t0, facc, y, ldy);
}

// Tokens in chunks of 64 (their activations stay in L2 while the tiles pass),
// each tile against 4 tokens at a time (the tile stays in L1 across the chunk);
// kernel(nt, tile, t) runs one tile against nt tokens from t.
template <class Kernel>
void tiles_tokens(const GgmlActs& a, int64_t tile0, int64_t tile1, Kernel&& kernel) {
  const int64_t n = a.n_tokens();
  for (int64_t c0 = 0; c0 < n; c0 += kTokenChunk) {
    const int64_t c1 = std::min(n, c0 + kTokenChunk);
    for (int64_t tile = tile0; tile < tile1; ++tile)
      token_groups(c0, c1, [&](auto nt, int64_t t) { kernel(nt, tile, t); });
  }
}
// As tiles_tokens, 8 tokens at a time (token_groups8).
template <class Kernel>
void tiles_tokens8(const GgmlActs& a, int64_t tile0, int64_t tile1, Kernel&& kernel) {
  const int64_t n = a.n_tokens();
  for (int64_t c0 = 0; c0 < n; c0 += kTokenChunk) {
    const int64_t c1 = std::min(n, c0 + kTokenChunk);
    for (int64_t tile = tile0; tile < tile1; ++tile)
      token_groups8(c0, c1, [&](auto nt, int64_t t) { kernel(nt, tile, t); });
  }
}
}  // namespace

void avx512vnni_kquant_q4_k_tiles(const PackedKQuant& w, const GgmlActs& a, int64_t tile0, int64_t tile1, float* y,
                                  int64_t ldy) {
  if (a.n_tokens() == 1)
    return tiles_tokens(a, tile0, tile1, [&](auto nt, int64_t tile, int64_t t) { q4k_tile<decltype(nt)::value, false>(w, a, tile, t, y, ldy); });
  const uint32_t* pairs = min_pairs(a);
  tiles_tokens8(a, tile0, tile1, [&](auto nt, int64_t tile, int64_t t) { q4k_tile_wide<decltype(nt)::value, false>(w, a, pairs, tile, t, y, ldy); });
}
void avx512vnni_kquant_q5_k_tiles(const PackedKQuant& w, const GgmlActs& a, int64_t tile0, int64_t tile1, float* y,
                                  int64_t ldy) {
  if (a.n_tokens() == 1)
    return tiles_tokens(a, tile0, tile1, [&](auto nt, int64_t tile, int64_t t) { q4k_tile<decltype(nt)::value, true>(w, a, tile, t, y, ldy); });
  const uint32_t* pairs = min_pairs(a);
  tiles_tokens8(a, tile0, tile1, [&](auto nt, int64_t tile, int64_t t) { q4k_tile_wide<decltype(nt)::value, true>(w, a, pairs, tile, t, y, ldy); });
}
void avx512vnni_kquant_iq4_xs_tiles(const PackedKQuant& w, const GgmlActs& a, int64_t tile0, int64_t tile1, float* y,
                                    int64_t ldy) {
  if (a.n_tokens() == 1)
    return tiles_tokens(a, tile0, tile1, [&](auto nt, int64_t tile, int64_t t) { iq4xs_tile<decltype(nt)::value>(w, a, tile, t, y, ldy); });
  const uint32_t* pairs = min_pairs(a);
  tiles_tokens8(a, tile0, tile1, [&](auto nt, int64_t tile, int64_t t) { iq4xs_tile_wide<decltype(nt)::value>(w, a, pairs, tile, t, y, ldy); });
}
void avx512vnni_kquant_q5_0_tiles(const PackedKQuant& w, const GgmlActs& a, int64_t tile0, int64_t tile1, float* y,
                                  int64_t ldy) {
  const int32_t* offs = q50_offsets(a);
  tiles_tokens8(a, tile0, tile1, [&](auto nt, int64_t tile, int64_t t) { q50_tile<decltype(nt)::value>(w, a, offs, tile, t, y, ldy); });
}
void avx512vnni_kquant_q6_k_tiles(const PackedKQuant& w, const GgmlActs& a, int64_t tile0, int64_t tile1, float* y,
                                  int64_t ldy) {
  if (a.n_tokens() == 1)
    return tiles_tokens(a, tile0, tile1, [&](auto nt, int64_t tile, int64_t t) { q6k_tile<decltype(nt)::value>(w, a, tile, t, y, ldy); });
  tiles_tokens8(a, tile0, tile1, [&](auto nt, int64_t tile, int64_t t) { q6k_tile_wide<decltype(nt)::value>(w, a, tile, t, y, ldy); });
}

}  // namespace pocketllm
