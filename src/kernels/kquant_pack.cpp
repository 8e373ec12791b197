// Q4_K / Q5_K / Q6_K / IQ4_XS / Q5_0 into the 16-row tiles of weights/kquant_tiles.h, and back.
#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/huge_buffer.h"
#include "kernels/pack.h"

namespace pocketllm {
namespace {

template <class Block>
Block block_at(const uint8_t* p) {
  Block b;
  std::memcpy(&b, p, sizeof b);
  return b;
}
template <class Block>
void put_block(const Block& b, uint8_t* p) {
  std::memcpy(p, &b, sizeof b);
}

}  // namespace

void pack_kquant(DType t, const uint8_t* data, size_t row_bytes, int64_t rows, int64_t cols, PackedKQuant& p,
                 HugeArena* arena, const SourceDone& done) {
  const size_t sb = kquant_tile_sb_bytes(t);
  if (sb == 0) fail("pack_kquant: {} has no tile layout", dtype_name(t));
  const int64_t block_cols = kquant_tile_block_cols(t);
  if (cols % block_cols != 0) fail("pack_kquant: {} columns are not a whole number of {}-blocks", cols, block_cols);
  p.type = t;
  p.rows = rows, p.cols = cols;
  p.n_sb = cols / block_cols;
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
  auto pack_row = [&](int64_t r) {
    const uint8_t* row = data + r * row_bytes;
    uint8_t* tile = dst + static_cast<size_t>(r / kKqTileRows * p.n_sb) * sb;
    const int i = static_cast<int>(r % kKqTileRows);
    for (int64_t b = 0; b < p.n_sb; ++b) {
      const uint8_t* src = row + b * block_bytes;
      uint8_t* out = tile + b * sb;
      switch (t) {
        case DType::Q4_K: q4k_put(q4k_from_block(block_at<BlockQ4_K>(src)), i, out); break;
        case DType::Q5_K: q5k_put(q5k_from_block(block_at<BlockQ5_K>(src)), i, out); break;
        case DType::IQ4_XS: iq4xs_put(iq4xs_from_block(block_at<BlockIQ4_XS>(src)), i, out); break;
        case DType::Q5_0: q50_put(q50_from_block(block_at<BlockQ5_0>(src)), i, out); break;
        default: q6k_put(q6k_from_block(block_at<BlockQ6_K>(src)), i, out); break;
      }
    }
  };
  pack_rows_in_chunks(rows, kKqTileRows, data, row_bytes, done, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) pack_row(r);
  });
  p.q = dst;
}

void kquant_row_blocks(const PackedKQuant& p, int64_t r, uint8_t* blocks) {
  const uint8_t* tile = p.tile(r / kKqTileRows);
  const int i = static_cast<int>(r % kKqTileRows);
  for (int64_t b = 0; b < p.n_sb; ++b) {
    const uint8_t* sb = tile + b * p.sb_bytes;
    uint8_t* out = blocks + b * (p.sb_bytes / kKqTileRows);
    switch (p.type) {
      case DType::Q4_K: put_block(q4k_to_block(q4k_get(sb, i)), out); break;
      case DType::Q5_K: put_block(q5k_to_block(q5k_get(sb, i)), out); break;
      case DType::IQ4_XS: put_block(iq4xs_to_block(iq4xs_get(sb, i)), out); break;
      case DType::Q5_0: put_block(q50_to_block(q50_get(sb, i)), out); break;
      default: put_block(q6k_to_block(q6k_get(sb, i)), out); break;
    }
  }
}

}  // namespace pocketllm
