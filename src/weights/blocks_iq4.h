// GGML's non-linear 4-bit types: each 4-bit code indexes a fixed table of 16
// int8 levels (denser near zero, where weights are), times a scale. Layouts
// exactly as ggml stores them (ggml-common.h); docs/FORMAT.md.
#pragma once
#include <cstdint>

#include "weights/blocks_k.h"

namespace pocketllm {

// The 16 levels both types use, as ggml defines them (kvalues_iq4nl).
inline constexpr int8_t kIQ4Levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                          1,    13,   25,  38,  53,  69,  89,  113};

// IQ4_NL: 32 weights; value = d * kIQ4Levels[code], Q4_0's nibble order.
struct BlockIQ4_NL {
  uint16_t d;
  uint8_t qs[16];
};
static_assert(sizeof(BlockIQ4_NL) == 18);

// IQ4_XS: 256 weights in 8 sub-blocks of 32, each with a signed 6-bit scale
// (stored + 32: low 4 bits in scales_l nibble j, high 2 bits at bit 2 j of
// scales_h); value = d * (ls - 32) * kIQ4Levels[code]; each sub-block's 16
// bytes in Q4_0's nibble order.
struct BlockIQ4_XS {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[4];
  uint8_t qs[128];
};
static_assert(sizeof(BlockIQ4_XS) == 136);
static_assert(sizeof(BlockIQ4_XS::qs) * 2 == kQK_K);

}  // namespace pocketllm
