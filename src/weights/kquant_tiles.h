// GGML K-quants (Q4_K, Q5_K, Q6_K), IQ4_XS and Q5_0 repacked at load into 16-row
// tiles that keep the file's exact integers and f16 scales (issue 26). As in weights/int_tiles.h,
// each step of k holds 16 rows side by side, 4 bytes per row, so one vector
// load feeds 16 rows' int32 lanes against broadcast activations; unlike it, the
// super-block structure (f16 d per 256, integer sub-block scales) is kept, so a
// tile is exactly as large as the 16 rows were in the file (no +2% needed).
//
// A matrix is [n_tiles][n_sb][sb_bytes] (n_sb = cols / 256; Q5_0: cols / 32): tile
// t's super-block b holds rows 16t..16t+15, weights 256b..256b+255 (Q5_0: 32b..32b+31). Rows past the matrix are
// zero bytes (d = 0, codes 0). Within one tile-super-block, row i (0..15):
//
// Q4_K (2304 bytes = 16 x 144): value = d*sc_j*q - dmin*m_j, sub-block j = 32 weights
//   [0, 32)      d[i]    f16          [32, 64)   dmin[i] f16
//   [64, 128)    byte 16p + i = sc[i][2p] & 15 | (sc[i][2p+1] & 15) << 4     (p < 4)
//   [128, 192)   the same for m
//   [192, 224)   byte 16h + i = bits 2k..2k+1: sc[i][4h+k] >> 4                (h < 2)
//   [224, 256)   the same for m   (6-bit sc and m stay packed: 192 bytes as the file's 12 x 16)
//   [256, 2304)  32 steps of 64 bytes; step s: byte 4i + c = q[i][8s+c] | q[i][8s+4+c] << 4
//                (unsigned codes 0..15 as stored; sub-block j = steps 4j..4j+3)
// Q5_K (2816 bytes = 16 x 176): Q4_K's layout for d, dmin, sc, m and the low 4
//   bits of the codes in [0, 2304), then the 5th bits:
//   [2304, 2816) 8 planes of 64 bytes, plane j = sub-block j: byte 4i + c has at bit 2s
//                the 5th bit of q[i][32j+8s+c] and at bit 2s+1 that of q[i][32j+8s+4+c] (s < 4)
// IQ4_XS (2176 bytes = 16 x 136): value = d*(ls_j - 32)*kIQ4Levels[q], sub-block j = 32
//   [0, 32)      d[i] f16
//   [32, 96)     byte 16p + i = ls[i][2p] & 15 | (ls[i][2p+1] & 15) << 4             (p < 4)
//   [96, 128)    byte 16h + i = bits 2k..2k+1: ls[i][4h+k] >> 4   (6-bit ls as stored, 0..63)
//   [128, 2176)  32 steps of 64 bytes as Q4_K's codes (4-bit level indices)
// Q5_0 (352 bytes = 16 x 22, one tile-block per 32 weights): value = d*(q - 16)
//   [0, 32)      d[i] f16
//   [32, 288)    4 steps of 64 bytes as Q4_K's codes (low 4 bits)
//   [288, 352)   the 5th bits as one plane of Q5_K's
// Q6_K (3360 bytes = 16 x 210): value = d*sc_j*(q - 32), sub-block j = 16 weights
//   [0, 32)      d[i] f16
//   [32, 288)    byte 16j + i = sc[i][j] (int8)                                  (j < 16)
//   [288, 3360)  16 groups of 192 bytes, group j = weights 16j..16j+15 (w = 16j):
//                [0, 64)    byte 4i + c = (q[i][w+c] & 15) | (q[i][w+4+c] & 15) << 4
//                [64, 128)  byte 4i + c = (q[i][w+8+c] & 15) | (q[i][w+12+c] & 15) << 4
//                [128, 192) byte 4i + c = the top 2 bits of q[i][w+c], w+4+c, w+8+c, w+12+c
//                           at bits 0-1, 2-3, 4-5, 6-7
//
// Kernels (kernels/ggml_int.h, KQuantGemmFn) multiply the unsigned codes with int8
// activations (vpdpbusd): per sub-block an exact int32 dot, times the integer
// scale, summed per super-block; Q6_K's -32 offset and Q4_K's min term come from
// GgmlActs::sum16. int32 bounds: Q4_K sub-block |dot| <= 32*15*127 = 60960, times
// sc <= 63, 8 sub-blocks: 30.7M; min term <= 8*63*4064 = 2.05M. Q6_K sub-block
// |dot - 32*sum| <= 16*63*127 = 128016, times |sc| <= 128, 16 sub-blocks: 262M < 2^31.
// Q5_K: as Q4_K with codes <= 31: 32*31*127*63*8 = 63.5M. IQ4_XS: the levels made
// unsigned (+128, 1..241): sub-block dot <= 32*241*127 = 979424 before -128*sum(a);
// after, |dot| <= 32*127*127 = 516128, times |ls - 32| <= 32, 8 sub-blocks: 132M.
// The AVX-512 prefill kernels add Q6_K's and IQ4_XS's offsets once per super-block
// instead: the unsigned sums (<= 262M, 251M) plus the offsets (<= 16*4096*2032 =
// 133M, 8*4096*4064 = 133M) stay < 2^31 too.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "weights/blocks_iq4.h"
#include "weights/blocks_k.h"
#include "weights/blocks_legacy.h"
#include "weights/dtype.h"

namespace pocketllm {

inline constexpr int kKqTileRows = 16;
inline constexpr size_t kQ4KTileSb = 16 * sizeof(BlockQ4_K);  // 2304
inline constexpr size_t kQ6KTileSb = 16 * sizeof(BlockQ6_K);  // 3360
inline constexpr size_t kQ5KTileSb = 16 * sizeof(BlockQ5_K);  // 2816
inline constexpr size_t kIQ4XSTileSb = 16 * sizeof(BlockIQ4_XS);  // 2176
inline constexpr size_t kQ50TileSb = 16 * sizeof(BlockQ5_0);  // 352
inline constexpr size_t kQ4KCodesAt = 256, kQ5KBitsAt = 2304, kIQ4XSCodesAt = 128;
inline constexpr size_t kQ50CodesAt = 32, kQ50BitsAt = 288;
inline constexpr size_t kQ6KScalesAt = 32, kQ6KGroupsAt = 288, kQ6KGroupBytes = 192;

// Bytes of one tile-super-block of type t (0: t has no tile layout).
inline size_t kquant_tile_sb_bytes(DType t) {
  switch (t) {
    case DType::Q4_K: return kQ4KTileSb;
    case DType::Q5_K: return kQ5KTileSb;
    case DType::Q6_K: return kQ6KTileSb;
    case DType::IQ4_XS: return kIQ4XSTileSb;
    case DType::Q5_0: return kQ50TileSb;
    default: return 0;
  }
}
// Weights per tile-block of type t (the file's block or super-block).
inline int64_t kquant_tile_block_cols(DType t) { return t == DType::Q5_0 ? 32 : kQK_K; }

// The tiles of one matrix (in an arena or the own vector).
struct PackedKQuant {
  DType type = DType::Q4_K;
  int64_t rows = 0, cols = 0, n_sb = 0, n_tiles = 0;
  size_t sb_bytes = 0;
  const uint8_t* q = nullptr;  // [n_tiles][n_sb][sb_bytes]
  std::vector<uint8_t> own;

  PackedKQuant() = default;
  PackedKQuant(const PackedKQuant&) = delete;  // q may point into own
  PackedKQuant& operator=(const PackedKQuant&) = delete;

  const uint8_t* tile(int64_t t) const { return q + static_cast<size_t>(t * n_sb) * sb_bytes; }
  size_t bytes() const { return static_cast<size_t>(n_tiles * n_sb) * sb_bytes; }
};

// One row's super-block, decoded: the exact integers of the file's block
// (Q4KRow also holds Q5_K: codes 0..31).
struct Q4KRow {
  uint16_t d = 0, dmin = 0;
  uint8_t sc[8] = {}, m[8] = {}, q[256] = {};
};
struct IQ4XSRow {
  uint16_t d = 0;
  uint8_t ls[8] = {}, q[256] = {};  // ls as stored (scale = ls - 32), q: level indices
};
struct Q50Row {
  uint16_t d = 0;
  uint8_t q[32] = {};  // 0..31
};
struct Q6KRow {
  uint16_t d = 0;
  int8_t sc[16] = {};
  uint8_t q[256] = {};
};

// File block <-> decoded row (exact inverses: every bit of the block is used).
inline Q4KRow q4k_from_block(const BlockQ4_K& b) {
  Q4KRow r;
  r.d = b.d, r.dmin = b.dmin;
  for (int j = 0; j < 8; ++j) {
    int sc, m;
    k_scale_min(j, b.scales, sc, m);
    r.sc[j] = static_cast<uint8_t>(sc), r.m[j] = static_cast<uint8_t>(m);
    for (int l = 0; l < 32; ++l) {
      const uint8_t v = b.qs[32 * (j / 2) + l];
      r.q[32 * j + l] = j % 2 ? v >> 4 : v & 15;
    }
  }
  return r;
}
inline BlockQ4_K q4k_to_block(const Q4KRow& r) {
  BlockQ4_K b{};
  b.d = r.d, b.dmin = r.dmin;
  for (int j = 0; j < 4; ++j) {
    b.scales[j] = static_cast<uint8_t>(r.sc[j] | (r.sc[j + 4] >> 4) << 6);
    b.scales[j + 4] = static_cast<uint8_t>(r.m[j] | (r.m[j + 4] >> 4) << 6);
    b.scales[j + 8] = static_cast<uint8_t>((r.sc[j + 4] & 15) | (r.m[j + 4] & 15) << 4);
  }
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) b.qs[32 * c + l] = static_cast<uint8_t>(r.q[64 * c + l] | r.q[64 * c + 32 + l] << 4);
  return b;
}
inline Q6KRow q6k_from_block(const BlockQ6_K& b) {
  Q6KRow r;
  r.d = b.d;
  std::memcpy(r.sc, b.scales, 16);
  for (int h = 0; h < 2; ++h)
    for (int k = 0; k < 4; ++k)
      for (int l = 0; l < 32; ++l) {
        const int lo = (b.ql[64 * h + 32 * (k % 2) + l] >> (k < 2 ? 0 : 4)) & 15;
        r.q[128 * h + 32 * k + l] = static_cast<uint8_t>(lo | ((b.qh[32 * h + l] >> (2 * k)) & 3) << 4);
      }
  return r;
}
inline BlockQ6_K q6k_to_block(const Q6KRow& r) {
  BlockQ6_K b{};
  b.d = r.d;
  std::memcpy(b.scales, r.sc, 16);
  for (int h = 0; h < 2; ++h)
    for (int k = 0; k < 4; ++k)
      for (int l = 0; l < 32; ++l) {
        const int q = r.q[128 * h + 32 * k + l];
        b.ql[64 * h + 32 * (k % 2) + l] |= static_cast<uint8_t>((q & 15) << (k < 2 ? 0 : 4));
        b.qh[32 * h + l] |= static_cast<uint8_t>((q >> 4) << (2 * k));
      }
  return b;
}

// Decoded row <-> row i of a tile-super-block (layout above). put_* expects
// the tile-super-block zeroed first (it ORs bit fields in).
inline void q4k_put(const Q4KRow& r, int i, uint8_t* sb) {
  std::memcpy(sb + 2 * i, &r.d, 2);
  std::memcpy(sb + 32 + 2 * i, &r.dmin, 2);
  for (int p = 0; p < 4; ++p) {
    sb[64 + 16 * p + i] = static_cast<uint8_t>((r.sc[2 * p] & 15) | (r.sc[2 * p + 1] & 15) << 4);
    sb[128 + 16 * p + i] = static_cast<uint8_t>((r.m[2 * p] & 15) | (r.m[2 * p + 1] & 15) << 4);
  }
  for (int j = 0; j < 8; ++j) {
    sb[192 + 16 * (j / 4) + i] |= static_cast<uint8_t>((r.sc[j] >> 4) << (2 * (j % 4)));
    sb[224 + 16 * (j / 4) + i] |= static_cast<uint8_t>((r.m[j] >> 4) << (2 * (j % 4)));
  }
  for (int s = 0; s < 32; ++s)
    for (int c = 0; c < 4; ++c)
      sb[kQ4KCodesAt + 64 * s + 4 * i + c] = static_cast<uint8_t>((r.q[8 * s + c] & 15) | (r.q[8 * s + 4 + c] & 15) << 4);
}
inline Q4KRow q4k_get(const uint8_t* sb, int i) {
  Q4KRow r;
  std::memcpy(&r.d, sb + 2 * i, 2);
  std::memcpy(&r.dmin, sb + 32 + 2 * i, 2);
  for (int j = 0; j < 8; ++j) {
    const int hi_bits = 2 * (j % 4), lo_shift = 4 * (j % 2);
    r.sc[j] = static_cast<uint8_t>(((sb[64 + 16 * (j / 2) + i] >> lo_shift) & 15) |
                                   ((sb[192 + 16 * (j / 4) + i] >> hi_bits) & 3) << 4);
    r.m[j] = static_cast<uint8_t>(((sb[128 + 16 * (j / 2) + i] >> lo_shift) & 15) |
                                  ((sb[224 + 16 * (j / 4) + i] >> hi_bits) & 3) << 4);
  }
  for (int s = 0; s < 32; ++s)
    for (int c = 0; c < 4; ++c) {
      const uint8_t v = sb[kQ4KCodesAt + 64 * s + 4 * i + c];
      r.q[8 * s + c] = v & 15, r.q[8 * s + 4 + c] = v >> 4;
    }
  return r;
}
inline void q6k_put(const Q6KRow& r, int i, uint8_t* sb) {
  std::memcpy(sb + 2 * i, &r.d, 2);
  for (int j = 0; j < 16; ++j) {
    sb[kQ6KScalesAt + 16 * j + i] = static_cast<uint8_t>(r.sc[j]);
    uint8_t* g = sb + kQ6KGroupsAt + kQ6KGroupBytes * j;
    const uint8_t* q = r.q + 16 * j;
    for (int c = 0; c < 4; ++c) {
      g[4 * i + c] = static_cast<uint8_t>((q[c] & 15) | (q[4 + c] & 15) << 4);
      g[64 + 4 * i + c] = static_cast<uint8_t>((q[8 + c] & 15) | (q[12 + c] & 15) << 4);
      g[128 + 4 * i + c] = static_cast<uint8_t>(q[c] >> 4 | (q[4 + c] >> 4) << 2 | (q[8 + c] >> 4) << 4 | (q[12 + c] >> 4) << 6);
    }
  }
}
inline Q6KRow q6k_get(const uint8_t* sb, int i) {
  Q6KRow r;
  std::memcpy(&r.d, sb + 2 * i, 2);
  for (int j = 0; j < 16; ++j) {
    r.sc[j] = static_cast<int8_t>(sb[kQ6KScalesAt + 16 * j + i]);
    const uint8_t* g = sb + kQ6KGroupsAt + kQ6KGroupBytes * j;
    uint8_t* q = r.q + 16 * j;
    for (int c = 0; c < 4; ++c) {
      const uint8_t a = g[4 * i + c], b = g[64 + 4 * i + c], h = g[128 + 4 * i + c];
      q[c] = static_cast<uint8_t>((a & 15) | (h & 3) << 4);
      q[4 + c] = static_cast<uint8_t>((a >> 4) | ((h >> 2) & 3) << 4);
      q[8 + c] = static_cast<uint8_t>((b & 15) | ((h >> 4) & 3) << 4);
      q[12 + c] = static_cast<uint8_t>((b >> 4) | ((h >> 6) & 3) << 4);
    }
  }
  return r;
}

// Q5_K: Q4_K's fields plus the 5th bit of each code (qh bit j of byte l = sub-block j, weight l).
inline Q4KRow q5k_from_block(const BlockQ5_K& b) {
  BlockQ4_K b4{};
  b4.d = b.d, b4.dmin = b.dmin;
  std::memcpy(b4.scales, b.scales, sizeof b.scales);
  std::memcpy(b4.qs, b.qs, sizeof b.qs);
  Q4KRow r = q4k_from_block(b4);
  for (int j = 0; j < 8; ++j)
    for (int l = 0; l < 32; ++l) r.q[32 * j + l] |= static_cast<uint8_t>(((b.qh[l] >> j) & 1) << 4);
  return r;
}
inline BlockQ5_K q5k_to_block(const Q4KRow& r) {
  Q4KRow low = r;
  for (auto& q : low.q) q &= 15;
  const BlockQ4_K b4 = q4k_to_block(low);
  BlockQ5_K b{};
  b.d = b4.d, b.dmin = b4.dmin;
  std::memcpy(b.scales, b4.scales, sizeof b.scales);
  std::memcpy(b.qs, b4.qs, sizeof b.qs);
  for (int j = 0; j < 8; ++j)
    for (int l = 0; l < 32; ++l) b.qh[l] |= static_cast<uint8_t>((r.q[32 * j + l] >> 4) << j);
  return b;
}
inline void q5k_put(const Q4KRow& r, int i, uint8_t* sb) {
  q4k_put(r, i, sb);
  for (int j = 0; j < 8; ++j)
    for (int s = 0; s < 4; ++s)
      for (int c = 0; c < 4; ++c) {
        const uint8_t* q = r.q + 32 * j + 8 * s;
        sb[kQ5KBitsAt + 64 * j + 4 * i + c] |= static_cast<uint8_t>((q[c] >> 4) << (2 * s) | (q[4 + c] >> 4) << (2 * s + 1));
      }
}
inline Q4KRow q5k_get(const uint8_t* sb, int i) {
  Q4KRow r = q4k_get(sb, i);
  for (int j = 0; j < 8; ++j)
    for (int s = 0; s < 4; ++s)
      for (int c = 0; c < 4; ++c) {
        const uint8_t h = sb[kQ5KBitsAt + 64 * j + 4 * i + c];
        uint8_t* q = r.q + 32 * j + 8 * s;
        q[c] |= static_cast<uint8_t>(((h >> (2 * s)) & 1) << 4);
        q[4 + c] |= static_cast<uint8_t>(((h >> (2 * s + 1)) & 1) << 4);
      }
  return r;
}

// IQ4_XS: each sub-block's 16 bytes hold weights l (low nibble) and 16 + l (high).
inline IQ4XSRow iq4xs_from_block(const BlockIQ4_XS& b) {
  IQ4XSRow r;
  r.d = b.d;
  for (int j = 0; j < 8; ++j) {
    r.ls[j] = static_cast<uint8_t>(((b.scales_l[j / 2] >> (4 * (j % 2))) & 15) | ((b.scales_h >> (2 * j)) & 3) << 4);
    for (int l = 0; l < 16; ++l) {
      r.q[32 * j + l] = b.qs[16 * j + l] & 15;
      r.q[32 * j + 16 + l] = b.qs[16 * j + l] >> 4;
    }
  }
  return r;
}
inline BlockIQ4_XS iq4xs_to_block(const IQ4XSRow& r) {
  BlockIQ4_XS b{};
  b.d = r.d;
  for (int j = 0; j < 8; ++j) {
    b.scales_l[j / 2] |= static_cast<uint8_t>((r.ls[j] & 15) << (4 * (j % 2)));
    b.scales_h = static_cast<uint16_t>(b.scales_h | (r.ls[j] >> 4) << (2 * j));
    for (int l = 0; l < 16; ++l) b.qs[16 * j + l] = static_cast<uint8_t>(r.q[32 * j + l] | r.q[32 * j + 16 + l] << 4);
  }
  return b;
}
inline void iq4xs_put(const IQ4XSRow& r, int i, uint8_t* sb) {
  std::memcpy(sb + 2 * i, &r.d, 2);
  for (int p = 0; p < 4; ++p) sb[32 + 16 * p + i] = static_cast<uint8_t>((r.ls[2 * p] & 15) | (r.ls[2 * p + 1] & 15) << 4);
  for (int j = 0; j < 8; ++j) sb[96 + 16 * (j / 4) + i] |= static_cast<uint8_t>((r.ls[j] >> 4) << (2 * (j % 4)));
  for (int s = 0; s < 32; ++s)
    for (int c = 0; c < 4; ++c)
      sb[kIQ4XSCodesAt + 64 * s + 4 * i + c] = static_cast<uint8_t>(r.q[8 * s + c] | r.q[8 * s + 4 + c] << 4);
}
inline IQ4XSRow iq4xs_get(const uint8_t* sb, int i) {
  IQ4XSRow r;
  std::memcpy(&r.d, sb + 2 * i, 2);
  for (int j = 0; j < 8; ++j)
    r.ls[j] = static_cast<uint8_t>(((sb[32 + 16 * (j / 2) + i] >> (4 * (j % 2))) & 15) |
                                   ((sb[96 + 16 * (j / 4) + i] >> (2 * (j % 4))) & 3) << 4);
  for (int s = 0; s < 32; ++s)
    for (int c = 0; c < 4; ++c) {
      const uint8_t v = sb[kIQ4XSCodesAt + 64 * s + 4 * i + c];
      r.q[8 * s + c] = v & 15, r.q[8 * s + 4 + c] = v >> 4;
    }
  return r;
}

// Q5_0: qs byte l holds weights l (low nibble) and 16 + l; qh bit l the 5th bit of weight l.
inline Q50Row q50_from_block(const BlockQ5_0& b) {
  Q50Row r;
  r.d = b.d;
  uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  for (int l = 0; l < 16; ++l) {
    r.q[l] = static_cast<uint8_t>((b.qs[l] & 15) | ((qh >> l) & 1) << 4);
    r.q[16 + l] = static_cast<uint8_t>((b.qs[l] >> 4) | ((qh >> (16 + l)) & 1) << 4);
  }
  return r;
}
inline BlockQ5_0 q50_to_block(const Q50Row& r) {
  BlockQ5_0 b{};
  b.d = r.d;
  uint32_t qh = 0;
  for (int l = 0; l < 32; ++l) qh |= static_cast<uint32_t>(r.q[l] >> 4) << l;
  std::memcpy(b.qh, &qh, 4);
  for (int l = 0; l < 16; ++l) b.qs[l] = static_cast<uint8_t>((r.q[l] & 15) | (r.q[16 + l] & 15) << 4);
  return b;
}
inline void q50_put(const Q50Row& r, int i, uint8_t* sb) {
  std::memcpy(sb + 2 * i, &r.d, 2);
  for (int s = 0; s < 4; ++s)
    for (int c = 0; c < 4; ++c) {
      const uint8_t lo = r.q[8 * s + c], hi = r.q[8 * s + 4 + c];
      sb[kQ50CodesAt + 64 * s + 4 * i + c] = static_cast<uint8_t>((lo & 15) | (hi & 15) << 4);
      sb[kQ50BitsAt + 4 * i + c] |= static_cast<uint8_t>((lo >> 4) << (2 * s) | (hi >> 4) << (2 * s + 1));
    }
}
inline Q50Row q50_get(const uint8_t* sb, int i) {
  Q50Row r;
  std::memcpy(&r.d, sb + 2 * i, 2);
  for (int s = 0; s < 4; ++s)
    for (int c = 0; c < 4; ++c) {
      const uint8_t v = sb[kQ50CodesAt + 64 * s + 4 * i + c], h = sb[kQ50BitsAt + 4 * i + c];
      r.q[8 * s + c] = static_cast<uint8_t>((v & 15) | ((h >> (2 * s)) & 1) << 4);
      r.q[8 * s + 4 + c] = static_cast<uint8_t>((v >> 4) | ((h >> (2 * s + 1)) & 1) << 4);
    }
  return r;
}

}  // namespace pocketllm
