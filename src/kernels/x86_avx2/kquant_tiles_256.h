// Pieces shared by the 256-bit K-quant tile kernels (AVX2: kquant_tiles_avx2.cpp,
// AVX-VNNI: kquant_tiles_avxvnni.cpp; layout weights/kquant_tiles.h): a ymm holds 8
// of a tile's 16 rows (one half of each 64-byte step), activations are broadcast
// 4 bytes at a time. The driver runs tokens in chunks of 64; per tile, per
// super-block and half, the rows' scales are decoded once (a few ymm) and serve
// every 4-token group of the chunk; the float sums of the chunk's tokens x 16 rows
// stay in a small buffer (L1) across the super-blocks.
// Included only by files compiled for one instruction set (anonymous namespace,
// as ggml_int_loops.h).
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

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

// Per token of a chunk and super-block, the int16 pairs (S_2p, S_2p+1) of the
// activations' 32-sums (|S| <= 32 * 127), each one broadcast dword: the
// vpmaddwd operand of the per-32 terms (Q4_K/Q5_K mins, IQ4_XS's offset on VNNI).
struct SumPairs {
  std::vector<int32_t> v;
  void fill(const GgmlActs& a, int64_t n_sb, int64_t c0, int64_t c1) {
    v.resize(static_cast<size_t>((c1 - c0) * n_sb * 4));
    for (int64_t t = c0; t < c1; ++t) {
      const int16_t* s16 = a.tok_sum16(t);
      for (int64_t b = 0; b < n_sb; ++b)
        for (int p = 0; p < 4; ++p) {
          const int16_t* s = s16 + 16 * b + 4 * p;
          const auto lo = static_cast<uint16_t>(s[0] + s[1]), hi = static_cast<uint16_t>(s[2] + s[3]);
          v[((t - c0) * n_sb + b) * 4 + p] = static_cast<int32_t>(lo | static_cast<uint32_t>(hi) << 16);
        }
    }
  }
  // Token t (of the chunk starting at c0), super-block b.
  const int32_t* at(int64_t t, int64_t c0, int64_t n_sb, int64_t b) const { return v.data() + ((t - c0) * n_sb + b) * 4; }
};

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

// IQ4_XS: sub-block scales ls - 32 in int16 pairs, like Q4_K's sc; sp: pairs
// (sc_2p, sc_2p+1) against SumPairs (the VNNI kernel's +128 offset of the levels).
struct IQ4XSScales {
  __m256i sc[8];
  __m256i sp[4];
  __m256 d;
  IQ4XSScales(const uint8_t* sb, int h) {
    __m256i s[8];
    for (int j = 0; j < 8; ++j) {
      s[j] = _mm256_sub_epi32(six_bits(sb + 32, sb + 96, j, h), _mm256_set1_epi32(32));
      sc[j] = pair16(s[j], s[j]);
    }
    for (int p = 0; p < 4; ++p) sp[p] = pair16(s[2 * p], s[2 * p + 1]);
    d = load_f16x8(sb + 16 * h);
  }
};

// Step s of a Q4_K sub-block (Q5_K when kQh, its 5th bits in hb, consumed 2 bits a
// step) at src: lo = the low nibbles (activations 8s..8s+3), hi = the high ones.
template <bool kQh, bool kPrefetch>
[[gnu::always_inline]] inline void q45k_step_codes(const uint8_t* src, __m256i& hb, __m256i& lo, __m256i& hi) {
  const __m256i m4 = _mm256_set1_epi8(0x0F), bit4 = _mm256_set1_epi8(0x10);
  if constexpr (kPrefetch) _mm_prefetch(reinterpret_cast<const char*>(src + kPrefetchAhead), _MM_HINT_T0);
  const __m256i v = load32(src);
  lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
  if constexpr (kQh) {  // bit 2s of hb: 5th bit of lo, bit 2s + 1 of hi
    lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(hb, 4), bit4));
    hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(hb, 3), bit4));
    hb = _mm256_srli_epi16(hb, 2);
  }
}

// Q4_K / Q5_K: the min term (int16 pairs of mins against SumPairs) and the
// float update of token t's rows 8h..8h+7 from its scaled code sums iacc.
inline void q45k_finish(float* at, __m256i iacc, const Q45KScales& s, const int32_t* pr, float da) {
  __m256i macc = _mm256_madd_epi16(s.mins[0], _mm256_set1_epi32(pr[0]));
  for (int p = 1; p < 4; ++p) macc = _mm256_add_epi32(macc, _mm256_madd_epi16(s.mins[p], _mm256_set1_epi32(pr[p])));
  add_scaled(at, iacc, s.d, da);
  add_scaled(at, _mm256_sub_epi32(_mm256_setzero_si256(), macc), s.dmin, da);
}

// Q6_K's offset as a starting sum: -32 * sum_j sc_j * sum(a)_j, int16 pairs of
// scales against pairs of the token's 16-sums of super-block b.
inline __m256i q6k_offset(const Q6KScales& s, const int16_t* s16) {
  __m256i off = _mm256_madd_epi16(s.sp[0], bcast4(s16));
  for (int p = 1; p < 8; ++p) off = _mm256_add_epi32(off, _mm256_madd_epi16(s.sp[p], bcast4(s16 + 2 * p)));
  return _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(off, 5));
}

// Q6_K group g (rows 8h..8h+7 at g), pass k: the low nibbles of the bytes at 64k
// with their top bits (qa: weights 8k..8k+3, qb: 8k+4..8k+7); hb = the group's top-bit bytes.
inline void q6k_codes(const uint8_t* g, int k, __m256i hb, __m256i& qa, __m256i& qb) {
  const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x30);
  const __m256i v = load32(g + 64 * k), top = k ? hb : _mm256_slli_epi16(hb, 4);
  qa = _mm256_or_si256(_mm256_and_si256(v, m4), _mm256_and_si256(top, m2));
  qb = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), m4), _mm256_and_si256(_mm256_srli_epi16(top, 2), m2));
}
inline void prefetch_q6k_group(const uint8_t* g) {
  for (int i = 0; i < 3; ++i) _mm_prefetch(reinterpret_cast<const char*>(g + kPrefetchAhead + 64 * i), _MM_HINT_T0);
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

}  // namespace
}  // namespace pocketllm
