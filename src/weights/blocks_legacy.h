// GGML's first block formats: 32 weights per block, one f16 scale (and a min
// for the _1 types). Layouts exactly as ggml stores them (ggml-common.h); all
// multi-byte fields little-endian, scales IEEE half bits. docs/FORMAT.md.
#pragma once
#include <cstdint>

namespace pocketllm {

inline constexpr int kQK_Legacy = 32;  // weights per block of every type in this file

// Q4_0: value = (q - 8) * d. Byte j holds weight j (low nibble) and j+16 (high).
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ4_0) == 18);

// Q4_1: value = q * d + m, q in [0, 15], Q4_0's nibble order.
struct BlockQ4_1 {
  uint16_t d, m;
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ4_1) == 20);

// Q5_0: value = (q - 16) * d, q = nibble | (bit j of qh) << 4; qh is a
// little-endian u32 whose bit j is the fifth bit of weight j (0..31).
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ5_0) == 22);

// Q5_1: value = q * d + m with Q5_0's 5-bit q in [0, 31].
struct BlockQ5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ5_1) == 24);

// Q8_0: value = q * d.
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[32];
};
static_assert(sizeof(BlockQ8_0) == 34);

}  // namespace pocketllm
