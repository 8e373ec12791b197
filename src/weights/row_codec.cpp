// The static table of row codecs, and the float types' codecs.
#include "weights/row_codec.h"

#include <array>
#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "weights/codecs_internal.h"

namespace pocketllm {

namespace codecs {
void dequantize_f32(const uint8_t* row, float* out, int64_t n) { std::memcpy(out, row, static_cast<size_t>(n) * 4); }
void quantize_f32(const float* x, uint8_t* row, int64_t n) { std::memcpy(row, x, static_cast<size_t>(n) * 4); }

namespace {
// 16-bit float rows (F16, BF16) through a scalar conversion.
template <float (*kToF32)(uint16_t)>
void halves_to_f32(const uint8_t* row, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, row + 2 * i, 2);
    out[i] = kToF32(h);
  }
}
template <uint16_t (*kFromF32)(float)>
void f32_to_halves(const float* x, uint8_t* row, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = kFromF32(x[i]);
    std::memcpy(row + 2 * i, &h, 2);
  }
}
}  // namespace

void dequantize_f16(const uint8_t* row, float* out, int64_t n) { halves_to_f32<f16_to_f32>(row, out, n); }
void quantize_f16(const float* x, uint8_t* row, int64_t n) { f32_to_halves<f32_to_f16>(x, row, n); }
void dequantize_bf16(const uint8_t* row, float* out, int64_t n) { halves_to_f32<bf16_to_f32>(row, out, n); }
void quantize_bf16(const float* x, uint8_t* row, int64_t n) { f32_to_halves<f32_to_bf16>(x, row, n); }
}  // namespace codecs

namespace {
using namespace codecs;
constexpr std::array kCodecs = {
    RowCodec{DType::F32, dequantize_f32, quantize_f32},
    RowCodec{DType::F16, dequantize_f16, quantize_f16},
    RowCodec{DType::BF16, dequantize_bf16, quantize_bf16},
    RowCodec{DType::Q4_0, dequantize_q4_0, quantize_q4_0},
    RowCodec{DType::Q4_1, dequantize_q4_1, quantize_q4_1},
    RowCodec{DType::Q5_0, dequantize_q5_0, quantize_q5_0},
    RowCodec{DType::Q5_1, dequantize_q5_1, quantize_q5_1},
    RowCodec{DType::Q8_0, dequantize_q8_0, quantize_q8_0},
    RowCodec{DType::Q2_K, dequantize_q2_k, quantize_q2_k},
    RowCodec{DType::Q3_K, dequantize_q3_k, quantize_q3_k},
    RowCodec{DType::Q4_K, dequantize_q4_k, quantize_q4_k},
    RowCodec{DType::Q5_K, dequantize_q5_k, quantize_q5_k},
    RowCodec{DType::Q6_K, dequantize_q6_k, quantize_q6_k},
    RowCodec{DType::IQ4_NL, dequantize_iq4_nl, quantize_iq4_nl},
    RowCodec{DType::IQ4_XS, dequantize_iq4_xs, quantize_iq4_xs},
};

const RowCodec& need_codec(DType t, int64_t n) {
  const RowCodec* c = ggml_row_codec(t);
  if (!c) fail("pocketllm cannot read or write weights of type {}", dtype_name(t));
  if (n < 0 || !dtype_row_bytes(t, static_cast<uint64_t>(n)))
    fail("a row of {} elements is not a whole number of {} blocks", n, dtype_name(t));
  return *c;
}
}  // namespace

const RowCodec* ggml_row_codec(DType t) {
  for (const auto& c : kCodecs)
    if (c.type == t) return &c;
  return nullptr;
}

void ggml_row_to_f32(DType t, const uint8_t* row, float* out, int64_t n) { need_codec(t, n).to_f32(row, out, n); }
void ggml_row_from_f32(DType t, const float* x, uint8_t* row, int64_t n) { need_codec(t, n).from_f32(x, row, n); }

}  // namespace pocketllm
