#include "quant/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/int_weights.h"
#include "weights/blocks_pocketllm.h"

namespace pocketllm {

DType scheme_type(const Scheme& s, int64_t cols) {
  const bool whole = cols % 32 == 0;
  if (s.bits == 4) {
    switch (s.group) {
      case 0: return kW4Row;
      case 32: return whole ? DType::Q4_0 : kW4G32;
      case 64: return kW4G64;
      case 128: return kW4G128;
      default: break;
    }
  } else if (s.bits == 8) {
    if (s.group == 0) return kW8Row;
    if (s.group == 32) return whole ? DType::Q8_0 : kW8G32;
  }
  fail("unsupported quantization scheme: {} bits, group {} (4 bits: group 0, 32, 64, 128; 8 bits: 0, 32)",
       s.bits, s.group);
}

namespace {
void store_u16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }

// Picks and validates a group's f16 scale, then rounds the group onto the grid.
uint16_t quantize_group(const float* w, int64_t n_valid, int64_t n, int qmax, const Scheme& s, int8_t* q) {
  for (int64_t i = 0; i < n_valid; ++i)
    if (!std::isfinite(w[i])) fail("quantize: weight {} is {}", i, w[i]);
  float scale;
  if (s.choose_scale) {
    scale = s.choose_scale(w, n_valid, qmax);
  } else {
    float amax = 0;
    for (int64_t i = 0; i < n_valid; ++i) amax = std::max(amax, std::fabs(w[i]));
    scale = amax / static_cast<float>(qmax);
  }
  if (!(scale >= 0) || !std::isfinite(scale)) fail("quantize: weights give a scale of {} (NaN or inf in weights?)", scale);
  if (scale > 65504.0f) fail("quantize: scale {} does not fit an f16", scale);
  const uint16_t d16 = f32_to_f16(scale);
  const float d = f16_to_f32(d16);
  const float inv = d > 0 ? 1.0f / d : 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float x = i < n_valid ? w[i] : 0.0f;
    q[i] = static_cast<int8_t>(std::clamp<long>(std::lrintf(x * inv), -qmax, qmax));
  }
  return d16;
}

// G signed 4-bit values into G/2 bytes, Q4_0 order: byte j = q[j] + 8 | (q[j + G/2] + 8) << 4.
void pack_nibbles(const int8_t* q, int64_t g, uint8_t* out) {
  for (int64_t j = 0; j < g / 2; ++j)
    out[j] = static_cast<uint8_t>((q[j] + 8) | ((q[j + g / 2] + 8) << 4));
}
}  // namespace

QuantizedTensor quantize_rtn(const float* w, int64_t rows, int64_t cols, const Scheme& s) {
  if (rows < 0 || cols <= 0) fail("quantize: a matrix of {} x {} is not valid", rows, cols);
  QuantizedTensor out;
  out.type = scheme_type(s, cols);
  out.rows = rows;
  out.cols = cols;
  out.row_bytes = *dtype_row_bytes(out.type, static_cast<uint64_t>(cols));
  out.bytes.assign(out.row_bytes * static_cast<size_t>(rows), 0);
  const auto f = *int_weight_format(out.type);
  const int64_t g = effective_group(f, cols), kp = padded_cols(f, cols);
  const int qmax = f.bits == 4 ? 7 : 127;
  std::vector<int8_t> q(static_cast<size_t>(g));
  for (int64_t r = 0; r < rows; ++r) {
    const float* wr = w + r * cols;
    uint8_t* dst = out.bytes.data() + r * out.row_bytes;
    for (int64_t c0 = 0; c0 < kp; c0 += g) {
      const uint16_t d16 = quantize_group(wr + c0, std::min(g, cols - c0), g, qmax, s, q.data());
      if (f.group == 0) {  // f16 row scale, then bare 32-weight blocks
        store_u16(dst, d16);
        for (int64_t b = 0; b < g / 32; ++b) {
          if (f.bits == 4)
            pack_nibbles(q.data() + b * 32, 32, dst + 2 + b * 16);
          else
            std::memcpy(dst + 2 + b * 32, q.data() + b * 32, 32);
        }
      } else {
        uint8_t* blk = dst + c0 / g * (2 + g * f.bits / 8);
        store_u16(blk, d16);
        if (f.bits == 4)
          pack_nibbles(q.data(), g, blk + 2);
        else
          std::memcpy(blk + 2, q.data(), static_cast<size_t>(g));
      }
    }
  }
  return out;
}

QuantizedTensor requantize(DType t, const void* data, size_t nbytes, int64_t rows, int64_t cols, const Scheme& s) {
  const std::vector<float> w = dequantize(t, data, nbytes, rows, cols);
  return quantize_rtn(w.data(), rows, cols, s);
}

}  // namespace pocketllm
