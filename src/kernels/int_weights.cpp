#include "kernels/int_weights.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/table.h"
#include "weights/blocks_pocketllm.h"

namespace pocketllm {

std::optional<IntWeightFormat> int_weight_format(DType t) {
  if (t == DType::Q4_0 || t == kW4G32) return IntWeightFormat{4, 32};
  if (t == kW4G64) return IntWeightFormat{4, 64};
  if (t == kW4G128) return IntWeightFormat{4, 128};
  if (t == kW4Row) return IntWeightFormat{4, 0};
  if (t == DType::Q8_0 || t == kW8G32) return IntWeightFormat{8, 32};
  if (t == kW8Row) return IntWeightFormat{8, 0};
  if (t == kW4G32T) return IntWeightFormat{4, 32, true};
  if (t == kW4G64T) return IntWeightFormat{4, 64, true};
  if (t == kW4G128T) return IntWeightFormat{4, 128, true};
  if (t == kW4RowT) return IntWeightFormat{4, 0, true};
  if (t == kW8G32T) return IntWeightFormat{8, 32, true};
  if (t == kW8RowT) return IntWeightFormat{8, 0, true};
  return std::nullopt;
}

std::optional<DType> tiled_int_type(DType t, int64_t rows) {
  if (rows <= 0 || rows % 16 != 0) return std::nullopt;
  if (t == DType::Q4_0 || t == kW4G32) return kW4G32T;
  if (t == kW4G64) return kW4G64T;
  if (t == kW4G128) return kW4G128T;
  if (t == kW4Row) return kW4RowT;
  if (t == DType::Q8_0 || t == kW8G32) return kW8G32T;
  if (t == kW8Row) return kW8RowT;
  return std::nullopt;
}

int64_t effective_group(const IntWeightFormat& f, int64_t cols) {
  if (f.group > 0) return f.group;
  return std::max<int64_t>(32, (cols + 31) / 32 * 32);
}

namespace {
uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// A 4-bit group of G weights in G/2 bytes: byte j = weight j (low) | weight j + G/2 (high).
void unpack_nibbles(const uint8_t* qs, int g, int8_t* q) {
  for (int j = 0; j < g / 2; ++j) {
    q[j] = static_cast<int8_t>((qs[j] & 0x0F) - 8);
    q[j + g / 2] = static_cast<int8_t>((qs[j] >> 4) - 8);
  }
}
}  // namespace

void unpack_int_row(DType t, const uint8_t* row, int64_t cols, int8_t* q, float* scales) {
  const auto f = int_weight_format(t);
  if (!f) fail("unpack_int_row: {} is not an integer weight format", dtype_name(t));
  if (f->tiled) fail("unpack_int_row: {} is stored in tiles, not rows (read it through pack_int)", dtype_name(t));
  const int64_t g = effective_group(*f, cols);
  const int64_t n_groups = (cols + g - 1) / g;
  if (f->group == 0) {  // f16 row scale, then 32-weight bare blocks
    scales[0] = f16_to_f32(load_u16(row));
    const uint8_t* p = row + 2;
    for (int64_t b = 0; b < g / 32; ++b) {
      if (f->bits == 4)
        unpack_nibbles(p + b * 16, 32, q + b * 32);
      else
        std::memcpy(q + b * 32, p + b * 32, 32);
    }
    return;
  }
  const size_t block_bytes = 2 + static_cast<size_t>(g) * f->bits / 8;
  for (int64_t b = 0; b < n_groups; ++b) {
    const uint8_t* blk = row + b * block_bytes;
    scales[b] = f16_to_f32(load_u16(blk));
    if (f->bits == 4)
      unpack_nibbles(blk + 2, static_cast<int>(g), q + b * g);
    else
      std::memcpy(q + b * g, blk + 2, static_cast<size_t>(g));
  }
}

void quantize_acts_shape(int64_t n_tokens, int64_t group, int64_t kp, QuantActs& a, float static_d, bool with_u8) {
  if (!(static_d >= 0) || !std::isfinite(static_d)) fail("static activation scale {} is not a finite non-negative number", static_d);
  a.static_d = static_d;
  a.n_tokens = n_tokens;
  a.kp = kp;
  a.group = group;
  a.n_groups = kp / group;
  // resize, not assign: quantize_acts_tokens writes every element, padding included.
  a.q.resize(static_cast<size_t>(n_tokens * kp));
  a.d.resize(static_cast<size_t>(n_tokens * a.n_groups));
  a.sum.resize(static_cast<size_t>(n_tokens * a.n_groups));
  if (with_u8) a.u8.resize(a.q.size());
  else a.u8.clear();
}

void quantize_acts_tokens(const float* x, int64_t ldx, int64_t t0, int64_t t1, int64_t cols, QuantActs& a) {
  const QuantizeActRowFn row = active_kernels().quantize_act_row;  // bit-exact in every table
  for (int64_t t = t0; t < t1; ++t)
    row(x + t * ldx, cols, a.group, a.n_groups, a.static_d, a.q.data() + t * a.kp, a.d.data() + t * a.n_groups,
        a.sum.data() + t * a.n_groups);
  if (!a.u8.empty()) offset_int8(a.q.data() + t0 * a.kp, (t1 - t0) * a.kp, a.u8.data() + t0 * a.kp);
}

void quantize_acts(const float* x, int64_t ldx, int64_t n_tokens, int64_t cols, int64_t group, int64_t kp,
                   QuantActs& a, float static_d) {
  quantize_acts_shape(n_tokens, group, kp, a, static_d);
  quantize_acts_tokens(x, ldx, 0, n_tokens, cols, a);
}

}  // namespace pocketllm
