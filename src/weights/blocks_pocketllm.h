// On-disk block structs of pocketllm's own weight formats (docs/FORMAT.md);
// GGML's (Q4_0, Q8_0, ... which some of these reuse) are in src/weights/.
// Header-only so the kernels can read them too. All multi-byte fields are
// little-endian; f16 scales are IEEE half bits.
#pragma once
#include <cstdint>

#include "weights/blocks_legacy.h"
#include "weights/dtype.h"

namespace pocketllm {

// pocketllm's own type ids (their traits are in weights/dtype.cpp, keyed by these).
// Every one of them stores a row of any length, the last group zero-padded.
inline constexpr DType kW4G32 = static_cast<DType>(1024);   // BlockQ4_0 blocks, padded rows
inline constexpr DType kW4G64 = static_cast<DType>(1025);   // BlockW4G64
inline constexpr DType kW4G128 = static_cast<DType>(1026);  // BlockW4G128
inline constexpr DType kW4Row = static_cast<DType>(1027);   // f16 row scale + BlockW4Bare
inline constexpr DType kW8G32 = static_cast<DType>(1028);   // BlockQ8_0 blocks, padded rows
inline constexpr DType kW8Row = static_cast<DType>(1029);   // f16 row scale + BlockW8Bare
// The same six formats stored as the kernels' 16-row tiles (weights/int_tiles.h,
// docs/FORMAT.md): a whole matrix of rows % 16 == 0, its tiles then its scales,
// exactly as many bytes as the row format. Loaded in place, no repacking.
inline constexpr DType kW4G32T = static_cast<DType>(1030);
inline constexpr DType kW4G64T = static_cast<DType>(1031);
inline constexpr DType kW4G128T = static_cast<DType>(1032);
inline constexpr DType kW4RowT = static_cast<DType>(1033);
inline constexpr DType kW8G32T = static_cast<DType>(1034);
inline constexpr DType kW8RowT = static_cast<DType>(1035);

// Q4_0's nibble order generalized: byte j holds weight j (low) and j + G/2 (high).
struct BlockW4G64 {
  uint16_t d;
  uint8_t qs[32];
};
static_assert(sizeof(BlockW4G64) == 34);

struct BlockW4G128 {
  uint16_t d;
  uint8_t qs[64];
};
static_assert(sizeof(BlockW4G128) == 66);

// 32 weights of a per-channel 4-bit row (scale in the row prefix), Q4_0 nibble order.
struct BlockW4Bare {
  uint8_t qs[16];
};
static_assert(sizeof(BlockW4Bare) == 16);

struct BlockW8Bare {
  int8_t qs[32];
};
static_assert(sizeof(BlockW8Bare) == 32);

}  // namespace pocketllm
