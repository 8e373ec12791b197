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

// Tells `done` of the source rows a packing loop has passed, ~kSourceChunkBytes at a time.
class SourceRows {
 public:
  SourceRows(const SourceDone& done, const uint8_t* data, size_t row_bytes)
      : done_(done), data_(data), row_bytes_(row_bytes),
        per_chunk_(std::max<int64_t>(1, static_cast<int64_t>(kSourceChunkBytes / std::max<size_t>(row_bytes, 1)))) {}
  void before_row(int64_t r) {
    if (done_ && r - reported_ >= per_chunk_) report(r);
  }
  void finish(int64_t rows) {
    if (done_ && rows > reported_) report(rows);
  }

 private:
  void report(int64_t upto) {
    done_(data_ + reported_ * row_bytes_, static_cast<size_t>(upto - reported_) * row_bytes_);
    reported_ = upto;
  }
  const SourceDone& done_;
  const uint8_t* data_;
  size_t row_bytes_;
  int64_t per_chunk_, reported_ = 0;
};

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
