// The row codec table and the deterministic quantizers (weights/row_codec.h):
// every listed type has a codec whose sizes match its traits; quantize ->
// dequantize stays within each type's rounding bound; zeros stay zero; bad
// weights and rows are errors. (Dequantizers vs ggml: test_gguf_oracle.cpp.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"
#include "weights/blocks_iq4.h"
#include "weights/dtype.h"
#include "weights/row_codec.h"

using namespace pocketllm;

namespace {
struct QuantCase {
  DType type;
  double max_err;  // of quantize -> dequantize, relative to the block's max |w|
};
// Bounds: half a step of each grid (sub-block scales add their own rounding:
// Q2_K's 4-bit scale codes cost most) with some margin. Q4_0 / Q5_0 put the
// largest weight at -8 / -16: the other side clamps at 7/8 / 15/16 of it;
// IQ4 at -127, the other side at 113/127.
const std::vector<QuantCase> kQuantCases = {
    {DType::Q4_0, 0.126},     {DType::Q4_1, 1.0 / 14},   {DType::Q5_0, 0.063},     {DType::Q5_1, 1.0 / 30},
    {DType::Q8_0, 1.0 / 250}, {DType::Q2_K, 0.45},       {DType::Q3_K, 0.16},      {DType::Q4_K, 0.08},
    {DType::Q5_K, 0.04},      {DType::Q6_K, 0.02},       {DType::IQ4_NL, 0.12},    {DType::IQ4_XS, 0.14},
    {DType::F16, 1e-3},       {DType::BF16, 8e-3},       {DType::F32, 0},
};

std::vector<float> gaussian(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<float> x(n);
  std::generate(x.begin(), x.end(), [&] { return nd(rng); });
  return x;
}
}  // namespace

TEST(RowCodecs, TableMatchesTraits) {
  for (const auto& c : kQuantCases) {
    const RowCodec* codec = ggml_row_codec(c.type);
    ASSERT_NE(codec, nullptr) << dtype_name(c.type);
    EXPECT_EQ(codec->type, c.type);
    EXPECT_TRUE(dtype_row_bytes(c.type, 256)) << dtype_name(c.type);
  }
  for (DType t : {DType::IQ2_XS, DType::Q8_K, DType::TQ1_0, DType::I32}) EXPECT_EQ(ggml_row_codec(t), nullptr);
  EXPECT_EQ(*dtype_row_bytes(DType::Q4_K, 512), 288u);
  EXPECT_EQ(*dtype_row_bytes(DType::IQ4_XS, 256), 136u);
  EXPECT_FALSE(dtype_row_bytes(DType::Q6_K, 640));  // K-quants need whole super-blocks
  EXPECT_EQ(*dtype_row_bytes(DType::Q5_0, 640), 20u * 22);
}

TEST(RowCodecs, QuantizeThenDequantizeStaysWithinTheGrid) {
  constexpr int64_t n = 1024;
  for (const auto& c : kQuantCases) {
    SCOPED_TRACE(dtype_name(c.type));
    const int64_t block = dtype_traits(c.type)->block_size == 1 ? 256 : dtype_traits(c.type)->block_size;
    std::vector<float> x = gaussian(n, 7);
    for (int64_t i = 0; i < n; i += 97) x[i] *= 6;  // a few outliers
    for (int64_t i = 256; i < 512; ++i) x[i] += 2.5f;  // a block that is all positive
    for (int64_t i = 512; i < 768; ++i) x[i] = -std::fabs(x[i]);  // and one all negative
    std::vector<uint8_t> row(*dtype_row_bytes(c.type, n));
    ggml_row_from_f32(c.type, x.data(), row.data(), n);
    std::vector<float> back(n);
    ggml_row_to_f32(c.type, row.data(), back.data(), n);
    for (int64_t b0 = 0; b0 < n; b0 += block) {
      double amax = 0;
      for (int64_t i = b0; i < b0 + block; ++i) amax = std::max(amax, std::fabs(static_cast<double>(x[i])));
      for (int64_t i = b0; i < b0 + block; ++i)
        ASSERT_LE(std::fabs(back[i] - x[i]), c.max_err * amax + 1e-7) << "weight " << i << ": " << x[i] << " -> " << back[i];
    }
    // Same input, same bytes.
    std::vector<uint8_t> again(row.size());
    ggml_row_from_f32(c.type, x.data(), again.data(), n);
    EXPECT_EQ(row, again);
  }
}

TEST(RowCodecs, ZerosAndBadInput) {
  constexpr int64_t n = 256;
  for (const auto& c : kQuantCases) {
    SCOPED_TRACE(dtype_name(c.type));
    std::vector<float> x(n, 0.0f), back(n, 1.0f);
    std::vector<uint8_t> row(*dtype_row_bytes(c.type, n));
    ggml_row_from_f32(c.type, x.data(), row.data(), n);
    ggml_row_to_f32(c.type, row.data(), back.data(), n);
    for (float v : back) ASSERT_EQ(v, 0.0f);
    if (c.type == DType::F32 || c.type == DType::F16 || c.type == DType::BF16) continue;  // floats store NaN as NaN
    x[5] = std::nanf("");
    EXPECT_THROW(ggml_row_from_f32(c.type, x.data(), row.data(), n), Error);
    x[5] = INFINITY;
    EXPECT_THROW(ggml_row_from_f32(c.type, x.data(), row.data(), n), Error);
    x[5] = 1e30f;  // a scale no f16 holds
    EXPECT_THROW(ggml_row_from_f32(c.type, x.data(), row.data(), n), Error);
  }
  std::vector<uint8_t> row(1024);
  std::vector<float> out(300);
  EXPECT_THROW(ggml_row_to_f32(DType::Q4_K, row.data(), out.data(), 300), Error);  // not whole super-blocks
  EXPECT_THROW(ggml_row_to_f32(DType::IQ2_XS, row.data(), out.data(), 256), Error);
}

TEST(RowCodecs, Iq4LevelsAndExtremes) {
  // The largest-magnitude weight maps to the table's -127 end exactly (up to the f16 scale).
  std::vector<float> x(32, 0.0f);
  x[3] = 2.0f;
  x[7] = -1.0f;
  std::vector<uint8_t> row(18);
  ggml_row_from_f32(DType::IQ4_NL, x.data(), row.data(), 32);
  std::vector<float> back(32);
  ggml_row_to_f32(DType::IQ4_NL, row.data(), back.data(), 32);
  EXPECT_NEAR(back[3], 2.0f, 2e-3);
  EXPECT_NEAR(back[7], -1.0f, 0.1);
  EXPECT_NEAR(back[0], 0.0f, 2.0 / 127 + 1e-3);  // level 1 is the one nearest zero
  EXPECT_EQ(kIQ4Levels[8], 1);
}
