// Integer weight formats as the kernels see them: which stored types hold
// symmetric int4/int8 weights with per-group scales, how to read one row back
// as plain ints, and the per-token int8 activations they are multiplied with.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "weights/dtype.h"

namespace pocketllm {

struct IntWeightFormat {
  int bits = 4;   // 4 or 8
  int group = 0;  // weights per scale; 0 = one scale per row
  bool tiled = false;  // stored as the kernels' 16-row tiles (whole matrix only, no row access)
};

// Q4_0, Q8_0 and pocketllm's W4/W8 types; nullopt for anything else.
std::optional<IntWeightFormat> int_weight_format(DType t);
// The tiled type with the same bits and group as row type t (nullopt if t has none,
// e.g. it is already tiled, or rows is not a multiple of the 16-row tile).
std::optional<DType> tiled_int_type(DType t, int64_t rows);

// The scale group the kernels use for a row of `cols`: the format's group, or for
// per-row formats the whole row rounded up to 32.
int64_t effective_group(const IntWeightFormat& f, int64_t cols);
inline int64_t padded_cols(const IntWeightFormat& f, int64_t cols) {
  const int64_t g = effective_group(f, cols);
  return (cols + g - 1) / g * g;
}

// Reads one stored row as signed ints (int4 in [-8, 7], int8 in [-128, 127]) into
// q[padded_cols] (padding is zero) and its scales into scales[padded_cols / group].
void unpack_int_row(DType t, const uint8_t* row, int64_t cols, int8_t* q, float* scales);

// Activations quantized per token and per group: q = round(x / d), d = max|x| / 127
// (dynamic ranges), or with one calibrated d for every token and group (static
// ranges, `quantize --act static`): q = clamp(round(x / d), -127, 127).
struct QuantActs {
  int64_t n_tokens = 0, kp = 0, group = 0, n_groups = 0;
  float static_d = 0;        // > 0: the static scale; 0: each group's own max|x| / 127
  std::vector<int8_t> q;     // [n_tokens][kp], zero past cols
  std::vector<float> d;      // [n_tokens][n_groups]
  std::vector<int32_t> sum;  // [n_tokens][n_groups]: sum of q (for unsigned-weight corrections)
  // [n_tokens][kp] = q + 128 (q ^ 0x80), when quantize_acts_shape was asked for it:
  // the unsigned side vpdpbusd wants for 8-bit weights, made once for every
  // tile and thread instead of once per claimed chunk of tiles.
  std::vector<uint8_t> u8;
};

// u[i] = q[i] + 128 for i < n.
inline void offset_int8(const int8_t* q, int64_t n, uint8_t* u) {
  for (int64_t i = 0; i < n; ++i) u[i] = static_cast<uint8_t>(q[i] ^ 0x80);
}

// Rows [c0, c1) of a as q + 128: a.u8 when it was made, else written to scratch.
inline const uint8_t* offset_act_rows(const QuantActs& a, int64_t c0, int64_t c1, std::vector<uint8_t>& scratch) {
  if (!a.u8.empty()) return a.u8.data() + c0 * a.kp;
  scratch.resize(static_cast<size_t>((c1 - c0) * a.kp));
  offset_int8(a.q.data() + c0 * a.kp, (c1 - c0) * a.kp, scratch.data());
  return scratch.data();
}
void quantize_acts(const float* x, int64_t ldx, int64_t n_tokens, int64_t cols, int64_t group, int64_t kp,
                   QuantActs& a, float static_d = 0);
// The same in two steps, so tokens can be split across threads: size `a` for
// n_tokens, then quantize tokens [t0, t1) (each writes only its own rows).
// with_u8: also fill a.u8 (8-bit weights on tables that read_wsum128).
void quantize_acts_shape(int64_t n_tokens, int64_t group, int64_t kp, QuantActs& a, float static_d = 0,
                         bool with_u8 = false);
void quantize_acts_tokens(const float* x, int64_t ldx, int64_t t0, int64_t t1, int64_t cols, QuantActs& a);

}  // namespace pocketllm
