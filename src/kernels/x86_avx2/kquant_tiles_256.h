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
