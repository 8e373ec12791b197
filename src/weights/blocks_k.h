// GGML's K-quants: super-blocks of 256 weights whose sub-block scales (and
// mins) are themselves quantized against one or two f16 super-block scales.
// Layouts exactly as ggml stores them (ggml-common.h); docs/FORMAT.md.
#pragma once
#include <cstdint>

namespace pocketllm {

inline constexpr int kQK_K = 256;  // weights per super-block

// Q2_K: 16 sub-blocks of 16; scales[i] = 4-bit scale (low) | 4-bit min (high);
// value = d * sc * q - dmin * m, q in [0, 3]. qs: 2 halves of 128 weights, each
// 32 bytes whose bit pairs 0-1, 2-3, 4-5, 6-7 are weights 0-31, 32-63, 64-95, 96-127.
struct BlockQ2_K {
  uint8_t scales[16];
  uint8_t qs[64];
  uint16_t d, dmin;
};
static_assert(sizeof(BlockQ2_K) == 84);

// Q3_K: 16 sub-blocks of 16 with signed 6-bit scales (stored + 32, packed in 12
// bytes); value = d * (sc - 32) * (q - 4), q = 2 low bits (qs, as in Q2_K)
// | 1 high bit (hmask bit k of byte l, for weight 32 k + l).
struct BlockQ3_K {
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];
  uint16_t d;
};
static_assert(sizeof(BlockQ3_K) == 110);

// Q4_K: 8 sub-blocks of 32 with a 6-bit scale and min each (packed in 12 bytes);
// value = d * sc * q - dmin * m, q in [0, 15]. qs: 4 chunks of 32 bytes, the low
// nibbles are the chunk's first 32 weights, the high nibbles the next 32.
struct BlockQ4_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qs[128];
};
static_assert(sizeof(BlockQ4_K) == 144);

// Q5_K: Q4_K plus a fifth bit per weight: bit k of qh[l] belongs to weight 32 k + l.
struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
};
static_assert(sizeof(BlockQ5_K) == 176);

// Q6_K: 16 sub-blocks of 16 with int8 scales; value = d * sc * (q - 32), q in
// [0, 63] = 4 bits from ql | 2 bits from qh (two halves of 128 weights).
struct BlockQ6_K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210);

// Sub-block j's (j < 8) 6-bit scale and min of Q4_K / Q5_K's 12 packed bytes:
// bytes 0-3 hold scales 0-3 (low 6 bits), bytes 4-7 mins 0-3; scales and mins
// 4-7 are the nibbles of bytes 8-11 plus the top 2 bits of bytes 0-7.
inline void k_scale_min(int j, const uint8_t* s, int& sc, int& m) {
  if (j < 4) {
    sc = s[j] & 63;
    m = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
    m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// Sub-block i's (i < 16) 6-bit scale code of Q3_K's 12 packed bytes: the low 4
// bits are nibble i of bytes 0-7 (low nibbles first), the high 2 bits come from
// byte 8 + i % 4, at bit 2 * (i / 4).
inline int q3_k_scale(int i, const uint8_t* s) {
  const int lo = i < 8 ? s[i] & 0x0F : s[i - 8] >> 4;
  const int hi = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
  return lo | (hi << 4);
}

}  // namespace pocketllm
