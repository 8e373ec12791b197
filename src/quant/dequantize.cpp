// Dequantization of every type pocketllm reads: GGML's through their row codecs
// (weights/row_codec.h), pocketllm's own W4/W8 types through the kernels' int
// unpacking (row types) or their tiles (tiled types).
#include <cstring>
#include <limits>

#include "core/error.h"
#include "kernels/int_weights.h"
#include "kernels/linear.h"
#include "kernels/pack.h"
#include "weights/blocks_pocketllm.h"
#include "quant/quantize.h"
#include "weights/row_codec.h"

namespace pocketllm {

bool can_dequantize(DType t) { return ggml_row_codec(t) || int_weight_format(t).has_value(); }

void dequantize_row(DType t, const uint8_t* row, int64_t n, float* out) {
  if (ggml_row_codec(t)) return ggml_row_to_f32(t, row, out, n);
  const auto f = int_weight_format(t);
  if (!f) fail("cannot dequantize weights of type {}", dtype_name(t));
  const int64_t g = effective_group(*f, n), kp = padded_cols(*f, n);
  std::vector<int8_t> q(static_cast<size_t>(kp));
  std::vector<float> sc(static_cast<size_t>(kp / g));
  unpack_int_row(t, row, n, q.data(), sc.data());
  for (int64_t c = 0; c < n; ++c) out[c] = static_cast<float>(q[c]) * sc[c / g];
}

std::vector<float> dequantize(DType t, const void* data, size_t nbytes, int64_t rows, int64_t cols) {
  if (!can_dequantize(t)) fail("cannot dequantize weights of type {}", dtype_name(t));
  if (rows < 0 || cols <= 0) fail("dequantize: a tensor of {} x {} is not valid", rows, cols);
  const auto rb = dtype_row_bytes(t, static_cast<uint64_t>(cols));
  if (!rb) fail("dequantize: a row of {} elements cannot be stored as {}", cols, dtype_name(t));
  if (static_cast<uint64_t>(rows) > nbytes / *rb || nbytes != *rb * static_cast<size_t>(rows))
    fail("dequantize: {} bytes is not {} rows of {} {} elements ({} bytes each)", nbytes, rows, cols,
         dtype_name(t), *rb);
  if (static_cast<uint64_t>(rows) * static_cast<uint64_t>(cols) > std::numeric_limits<size_t>::max() / 4)
    fail("dequantize: tensor too large");
  std::vector<float> out(static_cast<size_t>(rows * cols));
  const auto* p = static_cast<const uint8_t*>(data);
  if (const auto f = int_weight_format(t); f && f->tiled) {  // no row access: read the tiles
    PackedInt tiles;
    pack_int(t, p, *rb, rows, cols, tiles);
    std::vector<int8_t> q(static_cast<size_t>(tiles.kp));
    std::vector<float> sc(static_cast<size_t>(tiles.n_groups));
    for (int64_t r = 0; r < rows; ++r) {
      packed_row_ints(tiles, r, q.data(), sc.data());
      for (int64_t c = 0; c < cols; ++c) out[static_cast<size_t>(r * cols + c)] = static_cast<float>(q[c]) * sc[c / tiles.group];
    }
    return out;
  }
  for (int64_t r = 0; r < rows; ++r) dequantize_row(t, p + r * *rb, cols, out.data() + r * cols);
  return out;
}

}  // namespace pocketllm
