// Q4_K / Q6_K into the 16-row tiles of weights/kquant_tiles.h, and back.
#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/huge_buffer.h"
#include "kernels/pack.h"

namespace pocketllm {

void pack_kquant(DType t, const uint8_t* data, size_t row_bytes, int64_t rows, int64_t cols, PackedKQuant& p,
                 HugeArena* arena, const SourceDone& done) {
  const size_t sb = kquant_tile_sb_bytes(t);
  if (sb == 0) fail("pack_kquant: {} has no tile layout", dtype_name(t));
  if (cols % kQK_K != 0) fail("pack_kquant: {} columns are not a whole number of 256-blocks", cols);
  p.type = t;
  p.rows = rows, p.cols = cols;
  p.n_sb = cols / kQK_K;
  p.n_tiles = (rows + kKqTileRows - 1) / kKqTileRows;
  p.sb_bytes = sb;
  uint8_t* dst;
  if (arena) {
    dst = arena->alloc(p.bytes());  // fresh pages are zero
  } else {
    p.own.assign(p.bytes(), 0);
    dst = p.own.data();
  }
  const size_t block_bytes = sb / kKqTileRows;
  SourceRows source(done, data, row_bytes);
  for (int64_t r = 0; r < rows; ++r) {
    source.before_row(r);
    const uint8_t* row = data + r * row_bytes;
    uint8_t* tile = dst + static_cast<size_t>(r / kKqTileRows * p.n_sb) * sb;
    const int i = static_cast<int>(r % kKqTileRows);
    for (int64_t b = 0; b < p.n_sb; ++b) {
      if (t == DType::Q4_K) {
        BlockQ4_K blk;
        std::memcpy(&blk, row + b * block_bytes, sizeof blk);
        q4k_put(q4k_from_block(blk), i, tile + b * sb);
      } else {
        BlockQ6_K blk;
        std::memcpy(&blk, row + b * block_bytes, sizeof blk);
        q6k_put(q6k_from_block(blk), i, tile + b * sb);
      }
    }
  }
  source.finish(rows);
  p.q = dst;
}

void kquant_row_blocks(const PackedKQuant& p, int64_t r, uint8_t* blocks) {
  const uint8_t* tile = p.tile(r / kKqTileRows);
  const int i = static_cast<int>(r % kKqTileRows);
  for (int64_t b = 0; b < p.n_sb; ++b) {
    if (p.type == DType::Q4_K) {
      const BlockQ4_K blk = q4k_to_block(q4k_get(tile + b * p.sb_bytes, i));
      std::memcpy(blocks + b * sizeof blk, &blk, sizeof blk);
    } else {
      const BlockQ6_K blk = q6k_to_block(q6k_get(tile + b * p.sb_bytes, i));
      std::memcpy(blocks + b * sizeof blk, &blk, sizeof blk);
    }
  }
}

}  // namespace pocketllm
