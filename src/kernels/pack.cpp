#include "kernels/pack.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "core/huge_buffer.h"
#include "kernels/int_weights.h"

namespace pocketllm {

namespace {
// Shape fields of p for a matrix of format f (no data yet).
void set_shape(const IntWeightFormat& f, int64_t rows, int64_t cols, PackedInt& p) {
  p.bits = f.bits;
  p.rows = rows;
  p.cols = cols;
  p.group = effective_group(f, cols);
  p.kp = padded_cols(f, cols);
  p.n_groups = p.kp / p.group;
  p.n_tiles = (rows + kTileRows - 1) / kTileRows;
  p.tile_bytes = static_cast<size_t>(p.kp) * kTileRows * p.bits / 8;
}

// Zeroed storage for n elements: from the arena when there is one (fresh pages
// are zero), else in the PackedInt's own vector.
template <class T>
T* zeroed_storage(std::vector<T>& own, size_t n, HugeArena* arena) {
  if (arena) return reinterpret_cast<T*>(arena->alloc(n * sizeof(T)));
  own.assign(n, T{});
  return own.data();
}

// 128 * (sum of a group's 8-bit weights), which the kernels that offset
// activations by 128 subtract; read back from the tiles.
void fill_wsum128(PackedInt& p, HugeArena* arena) {
  int32_t* ws = zeroed_storage(p.own_wsum128, static_cast<size_t>(p.n_tiles * p.n_groups * kTileRows), arena);
  for (int64_t tile = 0; tile < p.n_tiles; ++tile) {
    const auto* src = reinterpret_cast<const int8_t*>(p.tile(tile));
    for (int64_t g = 0; g < p.n_groups; ++g)
      for (int64_t k = g * p.group; k < (g + 1) * p.group; k += kTileStepK8)
        for (int i = 0; i < kTileRows; ++i)
          for (int j = 0; j < 4; ++j)
            ws[(tile * p.n_groups + g) * kTileRows + i] += 128 * src[k / kTileStepK8 * kTileStepBytes + 4 * i + j];
  }
  p.wsum128 = ws;
}
}  // namespace

void pack_rows_in_chunks(int64_t rows, int64_t tile_rows, const uint8_t* data, size_t row_bytes,
                         const SourceDone& done, const std::function<void(int64_t r0, int64_t r1)>& pack_rows) {
  const int64_t tile_src_bytes = std::max<int64_t>(1, static_cast<int64_t>(row_bytes) * tile_rows);
  const int64_t n_tiles = (rows + tile_rows - 1) / tile_rows;
  const int64_t tiles_per_chunk = std::max<int64_t>(1, static_cast<int64_t>(kSourceChunkBytes) / tile_src_bytes);
  const int64_t min_share = std::max<int64_t>(1, (int64_t{1} << 20) / tile_src_bytes);  // >= 1 MiB a thread
  for (int64_t t0 = 0; t0 < n_tiles; t0 += tiles_per_chunk) {
    const int64_t t1 = std::min(n_tiles, t0 + tiles_per_chunk);
    split_parallel(t1 - t0, min_share, [&](int64_t b, int64_t e) {
      pack_rows((t0 + b) * tile_rows, std::min(rows, (t0 + e) * tile_rows));
    });
    const int64_t r0 = t0 * tile_rows, r1 = std::min(rows, t1 * tile_rows);
    if (done && r1 > r0) done(data + r0 * row_bytes, static_cast<size_t>(r1 - r0) * row_bytes);
  }
}

void pack_int(DType t, const uint8_t* data, size_t row_bytes, int64_t rows, int64_t cols, PackedInt& p,
              bool with_wsum128, HugeArena* arena, const SourceDone& done) {
  const auto f = int_weight_format(t);
  if (!f) fail("pack_int: {} is not an integer weight format", dtype_name(t));
  set_shape(*f, rows, cols, p);
  if (f->tiled) {
    if (rows % kTileRows != 0) fail("{} needs a multiple of {} rows, not {}", dtype_name(t), kTileRows, rows);
    p.q = data;
    p.scales = reinterpret_cast<const uint16_t*>(data + p.tile_bytes * p.n_tiles);
    if (reinterpret_cast<uintptr_t>(p.scales) % alignof(uint16_t) != 0) fail("{}: misaligned tensor data", dtype_name(t));
    if (arena) {  // the same bytes, copied out of the file into huge pages
      const size_t q_bytes = p.tile_bytes * static_cast<size_t>(p.n_tiles);
      const size_t bytes = q_bytes + static_cast<size_t>(p.n_tiles * p.n_groups * kTileRows) * 2;
      uint8_t* dst = arena->alloc(bytes);
      for (size_t at = 0; at < bytes; at += kSourceChunkBytes) {
        const size_t n = std::min(kSourceChunkBytes, bytes - at);
        prefault_read(data + at, n);  // one call maps the file's pages, instead of a fault per 4 KiB
        copy_parallel(dst + at, data + at, n);
        if (done) done(data + at, n);
      }
      p.q = dst;
      p.scales = reinterpret_cast<const uint16_t*>(dst + q_bytes);
    }
    if (p.bits == 8 && with_wsum128) fill_wsum128(p, arena);
    (void)row_bytes;
    return;
  }
  const size_t q_bytes = p.tile_bytes * static_cast<size_t>(p.n_tiles);
  uint8_t* qd = zeroed_storage(p.own_q, q_bytes, arena);
  uint16_t* sd = zeroed_storage(p.own_scales, static_cast<size_t>(p.n_tiles * p.n_groups * kTileRows), arena);

  auto pack_rows = [&](int64_t r0, int64_t r1) {
    std::vector<int8_t> q(static_cast<size_t>(p.kp));
    std::vector<float> sc(static_cast<size_t>(p.n_groups));
    for (int64_t r = r0; r < r1; ++r) {
      unpack_int_row(t, data + r * row_bytes, cols, q.data(), sc.data());
      const int64_t tile = r / kTileRows, i = r % kTileRows;
      uint8_t* dst = qd + tile * p.tile_bytes;
      // Padding rows are all-zero ints; as 4-bit they are stored as nibble 8
      // (filled by the thread that packs the tile: shares are whole tiles).
      if (i == 0 && p.bits == 4) std::fill(dst, dst + p.tile_bytes, uint8_t{0x88});
      for (int64_t g = 0; g < p.n_groups; ++g)
        sd[(tile * p.n_groups + g) * kTileRows + i] = f32_to_f16(sc[g]);  // every int format's scales are f16
      if (p.bits == 4) {
        for (int64_t k = 0; k < p.kp; k += kTileStepK4)
          for (int j = 0; j < 4; ++j) {
            const int lo = q[k + j] + 8, hi = q[k + 4 + j] + 8;
            dst[k / kTileStepK4 * kTileStepBytes + 4 * i + j] = static_cast<uint8_t>(lo | (hi << 4));
          }
      } else {
        for (int64_t k = 0; k < p.kp; k += kTileStepK8)
          for (int j = 0; j < 4; ++j) dst[k / kTileStepK8 * kTileStepBytes + 4 * i + j] = static_cast<uint8_t>(q[k + j]);
      }
    }
  };
  pack_rows_in_chunks(rows, kTileRows, data, row_bytes, done, pack_rows);
  p.q = qd;
  p.scales = sd;
  if (p.bits == 8 && with_wsum128) fill_wsum128(p, arena);
}

std::vector<uint8_t> tile_int_rows(DType t, const uint8_t* data, size_t row_bytes, int64_t rows, int64_t cols) {
  if (!tiled_int_type(t, rows)) fail("{} with {} rows has no tiled form", dtype_name(t), rows);
  PackedInt p;
  pack_int(t, data, row_bytes, rows, cols, p);
  std::vector<uint8_t> out(p.own_q.size() + p.own_scales.size() * 2);
  std::memcpy(out.data(), p.own_q.data(), p.own_q.size());
  std::memcpy(out.data() + p.own_q.size(), p.own_scales.data(), p.own_scales.size() * 2);
  return out;
}

void packed_row_ints(const PackedInt& p, int64_t r, int8_t* q, float* scales) {
  const int64_t tile = r / kTileRows, i = r % kTileRows;
  const uint8_t* src = p.tile(tile);
  for (int64_t g = 0; g < p.n_groups; ++g) scales[g] = f16_to_f32(p.scales[(tile * p.n_groups + g) * kTileRows + i]);
  if (p.bits == 4) {
    for (int64_t k = 0; k < p.kp; k += kTileStepK4)
      for (int j = 0; j < 4; ++j) {
        const uint8_t b = src[k / kTileStepK4 * kTileStepBytes + 4 * i + j];
        q[k + j] = static_cast<int8_t>((b & 0x0F) - 8);
        q[k + 4 + j] = static_cast<int8_t>((b >> 4) - 8);
      }
  } else {
    for (int64_t k = 0; k < p.kp; k += kTileStepK8)
      for (int j = 0; j < 4; ++j) q[k + j] = static_cast<int8_t>(src[k / kTileStepK8 * kTileStepBytes + 4 * i + j]);
  }
}

}  // namespace pocketllm
