// Dequantization of every type pocketllm reads: its own W4/W8 types, GGML Q4_0 /
// Q8_0 (through the kernels' int unpacking), and GGML Q5_0, Q4_K, Q5_K, Q6_K so
// such files can be converted at load time to a type the int8 kernels multiply.
#include <cstring>
#include <limits>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/int_weights.h"
#include "kernels/linear.h"
#include "kernels/table.h"
#include "quant/blocks.h"
#include "quant/quantize.h"

namespace pocketllm {

namespace {
template <class Block>
Block load_block(const uint8_t* p) {
  Block b;
  std::memcpy(&b, p, sizeof(Block));
  return b;
}

void q5_0_block(const BlockQ5_0& b, float* y) {
  const float d = f16_to_f32(b.d);
  uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  for (int j = 0; j < 16; ++j) {
    const int lo = (b.qs[j] & 0x0F) | (((qh >> j) & 1) << 4);
    const int hi = (b.qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
    y[j] = static_cast<float>(lo - 16) * d;
    y[j + 16] = static_cast<float>(hi - 16) * d;
  }
}

// Sub-block j's 6-bit scale and min, packed into 12 bytes for 8 sub-blocks.
void k_scale_min(int j, const uint8_t* s, int& sc, int& m) {
  if (j < 4) {
    sc = s[j] & 63;
    m = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
    m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// Q4_K and Q5_K share the layout of 4 chunks of 64: low nibbles then high nibbles of 32 bytes.
void q45_k_block(uint16_t d16, uint16_t dmin16, const uint8_t* scales, const uint8_t* qs, const uint8_t* qh,
                 float* y) {
  const float d = f16_to_f32(d16), dmin = f16_to_f32(dmin16);
  for (int chunk = 0; chunk < 4; ++chunk) {
    for (int half = 0; half < 2; ++half) {
      int sc, m;
      k_scale_min(2 * chunk + half, scales, sc, m);
      const float dd = d * static_cast<float>(sc), mm = dmin * static_cast<float>(m);
      const int bit = 2 * chunk + half;  // which qh bit carries the fifth bit
      for (int l = 0; l < 32; ++l) {
        int q = half ? qs[32 * chunk + l] >> 4 : qs[32 * chunk + l] & 0x0F;
        if (qh && ((qh[l] >> bit) & 1)) q += 16;
        y[64 * chunk + 32 * half + l] = dd * static_cast<float>(q) - mm;
      }
    }
  }
}

void q6_k_block(const BlockQ6_K& b, float* y) {
  const float d = f16_to_f32(b.d);
  for (int half = 0; half < 2; ++half) {  // two runs of 128 weights
    const uint8_t* ql = b.ql + 64 * half;
    const uint8_t* qh = b.qh + 32 * half;
    const int8_t* sc = b.scales + 8 * half;
    float* out = y + 128 * half;
    for (int l = 0; l < 32; ++l) {
      const int s = l / 16;
      const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      out[l] = d * static_cast<float>(sc[s]) * static_cast<float>(q1);
      out[l + 32] = d * static_cast<float>(sc[s + 2]) * static_cast<float>(q2);
      out[l + 64] = d * static_cast<float>(sc[s + 4]) * static_cast<float>(q3);
      out[l + 96] = d * static_cast<float>(sc[s + 6]) * static_cast<float>(q4);
    }
  }
}
}  // namespace

bool can_dequantize(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::Q5_0 || t == DType::Q4_K ||
         t == DType::Q5_K || t == DType::Q6_K || int_weight_format(t).has_value();
}

void dequantize_row(DType t, const uint8_t* row, int64_t n, float* out) {
  if (t == DType::F32 || t == DType::F16 || t == DType::BF16) return row_to_f32(t, row, out, n);
  if (const auto f = int_weight_format(t)) {
    const int64_t g = effective_group(*f, n), kp = padded_cols(*f, n);
    std::vector<int8_t> q(static_cast<size_t>(kp));
    std::vector<float> sc(static_cast<size_t>(kp / g));
    unpack_int_row(t, row, n, q.data(), sc.data());
    for (int64_t c = 0; c < n; ++c) out[c] = static_cast<float>(q[c]) * sc[c / g];
    return;
  }
  switch (t) {
    case DType::Q5_0:
      for (int64_t b = 0; b < n / 32; ++b) q5_0_block(load_block<BlockQ5_0>(row + b * 22), out + b * 32);
      return;
    case DType::Q4_K:
      for (int64_t b = 0; b < n / kQK_K; ++b) {
        const auto blk = load_block<BlockQ4_K>(row + b * sizeof(BlockQ4_K));
        q45_k_block(blk.d, blk.dmin, blk.scales, blk.qs, nullptr, out + b * kQK_K);
      }
      return;
    case DType::Q5_K:
      for (int64_t b = 0; b < n / kQK_K; ++b) {
        const auto blk = load_block<BlockQ5_K>(row + b * sizeof(BlockQ5_K));
        q45_k_block(blk.d, blk.dmin, blk.scales, blk.qs, blk.qh, out + b * kQK_K);
      }
      return;
    case DType::Q6_K:
      for (int64_t b = 0; b < n / kQK_K; ++b) q6_k_block(load_block<BlockQ6_K>(row + b * sizeof(BlockQ6_K)), out + b * kQK_K);
      return;
    default:
      fail("cannot dequantize weights of type {}", dtype_name(t));
  }
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
