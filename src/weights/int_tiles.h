// The 16-row tile layout of integer weights: how the kernels read them, and how
// the tiled types of weights/blocks_pocketllm.h store them on disk (all tiles,
// then all scales), so a tiled file is used in place. kernels/pack.h makes tiles
// from row-form weights; the kernels (kernels/table.h) multiply them.
//
// Within a tile and a scale group, each step of k holds 16 rows side by side, so
// one vector load feeds 16 (AVX-512) or 8 (AVX2) rows' int32 lanes and
// activations are broadcast: a group's int32 sums come out per row without any
// horizontal reduction, and one float rescale per group and row follows.
//   4-bit: per 8 k, 64 bytes: byte 4*i + j = row i, weight k+j (low nibble) and
//          k+4+j (high nibble), stored unsigned (q + 8); kernels subtract 8 * sum(a).
//   8-bit: per 4 k, 64 bytes: byte 4*i + j = row i, weight k+j (signed).
// Scales: f16 bits, [n_tiles][n_groups][16] (0 for padding rows).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace pocketllm {

inline constexpr int kTileRows = 16;
inline constexpr int kTileStepBytes = 64;  // one step of k for all 16 rows: 4 bytes per row
inline constexpr int kTileStepK4 = 8;      // weights of a row per step, 4-bit
inline constexpr int kTileStepK8 = 4;      // weights of a row per step, 8-bit

// The tiles of one matrix. The pointers view either the owned vectors (weights
// repacked at load) or the model file itself (a tiled type stores exactly this
// layout), so a tiled file is used in place, with no second copy of the weights.
struct PackedInt {
  int bits = 4;
  int64_t rows = 0, cols = 0, kp = 0, group = 0, n_groups = 0, n_tiles = 0;
  size_t tile_bytes = 0;              // kp * 16 * bits / 8
  const uint8_t* q = nullptr;         // [n_tiles][tile_bytes]
  const uint16_t* scales = nullptr;   // f16 bits (as stored, so exact): [n_tiles][n_groups][16]; 0 for padding rows
  const int32_t* wsum128 = nullptr;   // 8-bit, for reads_wsum128 tables (else null): [n_tiles][n_groups][16] = 128 * sum(q)
  std::vector<uint8_t> own_q;
  std::vector<uint16_t> own_scales;
  std::vector<int32_t> own_wsum128;

  PackedInt() = default;
  PackedInt(const PackedInt&) = delete;  // the views would point into the source
  PackedInt& operator=(const PackedInt&) = delete;

  const uint8_t* tile(int64_t t) const { return q + static_cast<size_t>(t) * tile_bytes; }
  size_t owned_bytes() const { return own_q.size() + own_scales.size() * 2 + own_wsum128.size() * 4; }
};

}  // namespace pocketllm
