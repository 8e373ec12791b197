#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/table.h"

namespace pocketllm {

void pack_int(DType t, const uint8_t* data, size_t row_bytes, int64_t rows, int64_t cols, PackedInt& p) {
  const auto f = int_weight_format(t);
  if (!f) fail("pack_int: {} is not an integer weight format", dtype_name(t));
  p.bits = f->bits;
  p.rows = rows;
  p.cols = cols;
  p.group = effective_group(*f, cols);
  p.kp = padded_cols(*f, cols);
  p.n_groups = p.kp / p.group;
  p.n_tiles = (rows + kTileRows - 1) / kTileRows;
  p.tile_bytes = static_cast<size_t>(p.kp) * kTileRows * p.bits / 8;
  p.q.assign(p.tile_bytes * p.n_tiles, 0);
  const size_t n_sc = static_cast<size_t>(p.n_tiles * p.n_groups * kTileRows);
  p.scales.assign(n_sc, 0);
  p.wsum128.assign(p.bits == 8 ? n_sc : 0, 0);
  // Padding rows are all-zero ints; as 4-bit they are stored as nibble 8.
  if (p.bits == 4) std::fill(p.q.begin(), p.q.end(), 0x88);

  std::vector<int8_t> q(static_cast<size_t>(p.kp));
  std::vector<float> sc(static_cast<size_t>(p.n_groups));
  for (int64_t r = 0; r < rows; ++r) {
    unpack_int_row(t, data + r * row_bytes, cols, q.data(), sc.data());
    const int64_t tile = r / kTileRows, i = r % kTileRows;
    uint8_t* dst = p.q.data() + tile * p.tile_bytes;
    for (int64_t g = 0; g < p.n_groups; ++g) {
      const size_t at = static_cast<size_t>((tile * p.n_groups + g) * kTileRows + i);
      p.scales[at] = f32_to_f16(sc[g]);  // every int format's scales are f16
      if (p.bits == 8) {
        int32_t s = 0;
        for (int64_t k = g * p.group; k < (g + 1) * p.group; ++k) s += q[k];
        p.wsum128[at] = 128 * s;
      }
    }
    if (p.bits == 4) {
      for (int64_t k = 0; k < p.kp; k += 8)
        for (int j = 0; j < 4; ++j) {
          const int lo = q[k + j] + 8, hi = q[k + 4 + j] + 8;
          dst[k / 8 * 64 + 4 * i + j] = static_cast<uint8_t>(lo | (hi << 4));
        }
    } else {
      for (int64_t k = 0; k < p.kp; k += 4)
        for (int j = 0; j < 4; ++j) dst[k / 4 * 64 + 4 * i + j] = static_cast<uint8_t>(q[k + j]);
    }
  }
}

void packed_row_ints(const PackedInt& p, int64_t r, int8_t* q, float* scales) {
  const int64_t tile = r / kTileRows, i = r % kTileRows;
  const uint8_t* src = p.tile(tile);
  for (int64_t g = 0; g < p.n_groups; ++g) scales[g] = f16_to_f32(p.scales[(tile * p.n_groups + g) * kTileRows + i]);
  if (p.bits == 4) {
    for (int64_t k = 0; k < p.kp; k += 8)
      for (int j = 0; j < 4; ++j) {
        const uint8_t b = src[k / 8 * 64 + 4 * i + j];
        q[k + j] = static_cast<int8_t>((b & 0x0F) - 8);
        q[k + 4 + j] = static_cast<int8_t>((b >> 4) - 8);
      }
  } else {
    for (int64_t k = 0; k < p.kp; k += 4)
      for (int j = 0; j < 4; ++j) q[k + j] = static_cast<int8_t>(src[k / 4 * 64 + 4 * i + j]);
  }
}

}  // namespace pocketllm
