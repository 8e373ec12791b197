// Integer weights into the 16-row tiles the kernels multiply (layout:
// weights/int_tiles.h), and back.
#pragma once
#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

#include "weights/dtype.h"
#include "weights/int_tiles.h"
#include "weights/kquant_tiles.h"

namespace pocketllm {

class HugeArena;

// Told, as packing goes, each range of source bytes it has finished reading, so
// the caller can drop those file pages while the rest is packed: a large matrix
// (Gemma's 170 MB tied embedding) then never has both copies resident at once.
using SourceDone = std::function<void(const uint8_t* data, size_t bytes)>;
inline constexpr size_t kSourceChunkBytes = size_t{8} << 20;  // source bytes between two SourceDone calls

// Calls pack_rows(r0, r1) over [0, rows) in chunks of whole tiles (~kSourceChunkBytes
// of source each), each chunk split over the cores (a tile is written by one thread:
// the kernel zeroing fresh pages on first touch is much of a load), then tells
// `done` (if set) of the chunk's source rows, in order.
void pack_rows_in_chunks(int64_t rows, int64_t tile_rows, const uint8_t* data, size_t row_bytes,
                         const SourceDone& done, const std::function<void(int64_t r0, int64_t r1)>& pack_rows);

// Repacks `rows` stored rows (row r at data + r * row_bytes) of an integer weight
// type; for a tiled type, views `data` in place (rows must be a multiple of 16).
// with_wsum128: also fill wsum128 (8-bit only; the tables with reads_wsum128 need it).
// With an arena, everything (a tiled type's bytes too) is written there instead
// of the own_* vectors or the file (see prepare_matrix); `done` (if set) hears
// of the source bytes read so far, in order (not for a tiled type viewed in place).
void pack_int(DType t, const uint8_t* data, size_t row_bytes, int64_t rows, int64_t cols, PackedInt& p,
              bool with_wsum128 = false, HugeArena* arena = nullptr, const SourceDone& done = {});
// The bytes of the tiled type (tiled_int_type(t)) holding the same matrix.
std::vector<uint8_t> tile_int_rows(DType t, const uint8_t* data, size_t row_bytes, int64_t rows, int64_t cols);
// Reads row r of a packed matrix back as signed ints and scales (same as unpack_int_row).
void packed_row_ints(const PackedInt& p, int64_t r, int8_t* q, float* scales);

// Q4_K / Q5_K / Q6_K / IQ4_XS / Q5_0 rows (row r at data + r * row_bytes) into the tiles of
// weights/kquant_tiles.h, in the arena when given (else p.own); the same exact
// integers and f16 scales, the same bytes per 16 rows as the file.
void pack_kquant(DType t, const uint8_t* data, size_t row_bytes, int64_t rows, int64_t cols, PackedKQuant& p,
                 HugeArena* arena = nullptr, const SourceDone& done = {});
// Row r of packed K-quant tiles back as the file's blocks (cols / kquant_tile_block_cols of them, bit for bit).
void kquant_row_blocks(const PackedKQuant& p, int64_t r, uint8_t* blocks);

}  // namespace pocketllm
