// Block layouts, the RTN quantizer and dequantization (quant/).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "kernel_test_util.h"
#include "weights/blocks_pocketllm.h"
#include "weights/blocks_k.h"

using namespace pocketllm;

TEST(QuantFormats, BlockSizesAndRowBytes) {
  EXPECT_EQ(sizeof(BlockQ4_0), 18u);
  EXPECT_EQ(sizeof(BlockQ8_0), 34u);
  EXPECT_EQ(sizeof(BlockQ4_K), 144u);
  EXPECT_EQ(sizeof(BlockQ5_K), 176u);
  EXPECT_EQ(sizeof(BlockQ6_K), 210u);
  EXPECT_EQ(*dtype_row_bytes(DType::Q4_0, 64), 36u);
  EXPECT_FALSE(dtype_row_bytes(DType::Q4_0, 172));  // GGML types need whole blocks
  EXPECT_EQ(*dtype_row_bytes(kW4G32, 172), 6u * 18);
  EXPECT_EQ(*dtype_row_bytes(kW4G64, 172), 3u * 34);
  EXPECT_EQ(*dtype_row_bytes(kW4G128, 172), 2u * 66);
  EXPECT_EQ(*dtype_row_bytes(kW4Row, 172), 2u + 6 * 16);
  EXPECT_EQ(*dtype_row_bytes(kW8G32, 33), 2u * 34);
  EXPECT_EQ(*dtype_row_bytes(kW8Row, 33), 2u + 2 * 32);
  EXPECT_EQ(dtype_from_name("pl_w4_g64"), kW4G64);
  EXPECT_EQ(dtype_name(kW8Row), "PL_W8_ROW");
}

// core/dtype.cpp knows pocketllm's types without the quant module (so every reader
// parses quantized files): its sizes must be the block structs'.
TEST(QuantFormats, CoreTraitsMatchTheBlockStructs) {
  struct Want {
    DType row, tiled;
    uint32_t block, bytes, prefix;
  };
  const Want want[] = {{kW4G32, kW4G32T, 32, sizeof(BlockQ4_0), 0},    {kW4G64, kW4G64T, 64, sizeof(BlockW4G64), 0},
                       {kW4G128, kW4G128T, 128, sizeof(BlockW4G128), 0}, {kW4Row, kW4RowT, 32, sizeof(BlockW4Bare), 2},
                       {kW8G32, kW8G32T, 32, sizeof(BlockQ8_0), 0},    {kW8Row, kW8RowT, 32, sizeof(BlockW8Bare), 2}};
  for (const Want& w : want)
    for (DType t : {w.row, w.tiled}) {
      const auto tr = dtype_traits(t);
      ASSERT_TRUE(tr) << static_cast<uint32_t>(t);
      EXPECT_EQ(tr->block_size, w.block) << tr->name;
      EXPECT_EQ(tr->type_size, w.bytes) << tr->name;
      EXPECT_EQ(tr->row_prefix, w.prefix) << tr->name;
      EXPECT_TRUE(tr->pads_rows) << tr->name;
    }
  EXPECT_EQ(dtype_name(kW4G32T), "PL_W4_G32_T16");
  EXPECT_EQ(dtype_name(kW8RowT), "PL_W8_ROW_T16");
}

TEST(QuantFormats, SchemeTypes) {
  EXPECT_EQ(scheme_type({4, 32, {}}, 64), DType::Q4_0);
  EXPECT_EQ(scheme_type({8, 32, {}}, 64), DType::Q8_0);
  EXPECT_EQ(scheme_type({4, 32, {}}, 172), kW4G32);
  EXPECT_EQ(scheme_type({8, 32, {}}, 172), kW8G32);
  EXPECT_EQ(scheme_type({4, 128, {}}, 256), kW4G128);
  EXPECT_EQ(scheme_type({4, 0, {}}, 256), kW4Row);
  EXPECT_THROW(scheme_type({8, 64, {}}, 256), Error);
  EXPECT_THROW(scheme_type({3, 32, {}}, 256), Error);
  EXPECT_THROW(scheme_type({4, 48, {}}, 256), Error);
}

// w[j] = j % 15 - 7 spans the grid exactly: scale max|w| / 7 = 1.0 (f16 0x3C00), q = w.
TEST(QuantFormats, Q4_0MatchesHandComputedBlock) {
  float w[32];
  for (int j = 0; j < 32; ++j) w[j] = static_cast<float>(j % 15 - 7);
  const QuantizedTensor q = quantize_rtn(w, 1, 32, Scheme{4, 32, {}});
  ASSERT_EQ(q.type, DType::Q4_0);
  const uint8_t expect[18] = {0x00, 0x3C, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87,
                              0x98, 0xA9, 0xBA, 0xCB, 0xDC, 0xED, 0xFE, 0x1F, 0x21};
  ASSERT_EQ(q.bytes.size(), 18u);
  EXPECT_EQ(std::memcmp(q.bytes.data(), expect, 18), 0);
  const auto back = dequantize(q.type, q.bytes.data(), q.bytes.size(), 1, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(back[j], w[j]);
  // Q4_0 can hold -8 (nibble 0): value = (q - 8) * d.
  const uint8_t low[18] = {0x00, 0x40, 0xF0};  // d = 2, weight 0 = -16, weight 16 = +14
  const auto v = dequantize(DType::Q4_0, low, 18, 1, 32);
  EXPECT_EQ(v[0], -16.0f);
  EXPECT_EQ(v[16], 14.0f);
  EXPECT_EQ(v[1], -16.0f);
}

TEST(QuantFormats, Q8_0MatchesHandComputedBlock) {
  float w[32];
  w[0] = 127;
  for (int j = 1; j < 32; ++j) w[j] = static_cast<float>(j - 16);
  const QuantizedTensor q = quantize_rtn(w, 1, 32, Scheme{8, 32, {}});
  ASSERT_EQ(q.type, DType::Q8_0);
  std::vector<uint8_t> expect = {0x00, 0x3C, 0x7F};
  for (int j = 1; j < 32; ++j) expect.push_back(static_cast<uint8_t>(static_cast<int8_t>(j - 16)));
  EXPECT_EQ(q.bytes, expect);
}

TEST(QuantFormats, RoundTripErrorIsHalfAStep) {
  for (const Scheme& s : {Scheme{4, 32, {}}, Scheme{4, 64, {}}, Scheme{4, 128, {}}, Scheme{4, 0, {}},
                          Scheme{8, 32, {}}, Scheme{8, 0, {}}})
    for (int64_t cols : {32, 33, 172, 256}) {
      const int64_t rows = 5;
      const auto w = kt::random_floats(rows * cols, 7);
      const QuantizedTensor q = quantize_rtn(w.data(), rows, cols, s);
      ASSERT_EQ(q.bytes.size(), *dtype_row_bytes(q.type, cols) * rows);
      const auto back = dequantize(q.type, q.bytes.data(), q.bytes.size(), rows, cols);
      const int qmax = s.bits == 4 ? 7 : 127;
      const int64_t g = s.group ? s.group : cols;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c0 = 0; c0 < cols; c0 += g) {
          float amax = 0;
          for (int64_t c = c0; c < std::min(cols, c0 + g); ++c) amax = std::max(amax, std::fabs(w[r * cols + c]));
          const float step = amax / qmax;
          for (int64_t c = c0; c < std::min(cols, c0 + g); ++c)
            ASSERT_LE(std::fabs(back[r * cols + c] - w[r * cols + c]), 0.5f * step * 1.002f + 1e-7f)
                << "W" << s.bits << " g" << s.group << " cols " << cols;
        }
    }
}

TEST(QuantFormats, CalibrationHookChoosesTheScale) {
  const auto w = kt::random_floats(64, 3);
  Scheme s{4, 32, [](const float*, int64_t, int) { return 0.25f; }};
  const QuantizedTensor q = quantize_rtn(w.data(), 1, 64, s);
  const auto back = dequantize(q.type, q.bytes.data(), q.bytes.size(), 1, 64);
  for (int i = 0; i < 64; ++i) {
    const float expect = std::clamp(std::nearbyint(w[i] / 0.25f), -7.0f, 7.0f) * 0.25f;
    EXPECT_EQ(back[i], expect);
  }
  Scheme bad{4, 32, [](const float*, int64_t, int) { return std::nanf(""); }};
  EXPECT_THROW(quantize_rtn(w.data(), 1, 64, bad), Error);
}

TEST(QuantFormats, MalformedSizesAreErrors) {
  std::vector<uint8_t> bytes(18 * 4);
  EXPECT_THROW(dequantize(DType::Q4_0, bytes.data(), bytes.size() - 1, 2, 64), Error);
  EXPECT_THROW(dequantize(DType::Q4_0, bytes.data(), bytes.size(), 3, 64), Error);
  EXPECT_THROW(dequantize(DType::Q4_0, bytes.data(), bytes.size(), 2, 63), Error);
  EXPECT_THROW(dequantize(DType::Q4_K, bytes.data(), bytes.size(), 1, 100), Error);
  EXPECT_THROW(dequantize(DType::IQ2_XS, bytes.data(), bytes.size(), 1, 256), Error);
  EXPECT_THROW(dequantize(DType::Q4_0, bytes.data(), bytes.size(), -1, 64), Error);
  EXPECT_THROW(make_matrix(DType::Q4_0, 2, 33, bytes.data()), Error);
  const float w[2] = {std::nanf(""), 1.0f};
  EXPECT_THROW(quantize_rtn(w, 1, 2, Scheme{8, 32, {}}), Error);
  const std::vector<uint8_t> k(74 * 2);
  Matrix m = make_matrix(DType::IQ2_XS, 2, 256, k.data());  // a type GGUF knows, pocketllm cannot read
  float y[2], x[256] = {};
  ThreadPool pool(1);
  EXPECT_THROW(linear(m, x, 256, 1, y, 2, pool), Error);
  EXPECT_THROW(matrix_row(m, 0, x), Error);
}

TEST(QuantFormats, Q5_0Layout) {
  BlockQ5_0 b{};
  b.d = f32_to_f16(0.5f);
  b.qs[0] = 0x3A;                  // weight 0 low nibble 10, weight 16 low nibble 3
  b.qh[0] = 0x01;                  // bit 0: fifth bit of weight 0
  b.qh[2] = 0x01;                  // bit 16: fifth bit of weight 16
  const auto v = dequantize(DType::Q5_0, &b, sizeof b, 1, 32);
  EXPECT_EQ(v[0], (26 - 16) * 0.5f);
  EXPECT_EQ(v[16], (19 - 16) * 0.5f);
  EXPECT_EQ(v[1], -16 * 0.5f);
}

TEST(QuantFormats, Q4_KAndQ5_KLayout) {
  BlockQ4_K b{};
  b.d = f32_to_f16(1.0f);
  b.dmin = f32_to_f16(0.5f);
  b.scales[0] = 2 | (1 << 6);  // sub-block 0 scale 2; top bits give sub-block 4 scale +16
  b.scales[4] = 3;             // sub-block 0 min 3
  b.scales[1] = 5;             // sub-block 1 scale 5, min 0
  b.scales[8] = 0x21;          // sub-block 4: scale low 4 bits 1, min low 4 bits 2
  b.qs[0] = 0x97;              // weight 0 -> 7, weight 32 -> 9
  b.qs[64] = 0x04;             // weight 128 (sub-block 4) -> 4
  auto v = dequantize(DType::Q4_K, &b, sizeof b, 1, 256);
  EXPECT_EQ(v[0], 2 * 7 - 0.5f * 3);
  EXPECT_EQ(v[32], 5 * 9);
  EXPECT_EQ(v[128], 17 * 4 - 0.5f * 2);
  BlockQ5_K c{};
  c.d = b.d;
  c.dmin = b.dmin;
  std::memcpy(c.scales, b.scales, 12);
  std::memcpy(c.qs, b.qs, 128);
  c.qh[0] = 0x03;  // fifth bit of weight 0 (bit 0) and weight 32 (bit 1)
  v = dequantize(DType::Q5_K, &c, sizeof c, 1, 256);
  EXPECT_EQ(v[0], 2 * 23 - 0.5f * 3);
  EXPECT_EQ(v[32], 5 * 25);
  EXPECT_EQ(v[128], 17 * 4 - 0.5f * 2);
}

TEST(QuantFormats, Q6_KLayoutAndRequantize) {
  BlockQ6_K b{};
  b.d = f32_to_f16(0.25f);
  for (int i = 0; i < 16; ++i) b.scales[i] = static_cast<int8_t>(i + 1);
  b.ql[0] = 0x21;  // weight 0 low 4 bits 1, weight 64 low 4 bits 2
  b.qh[0] = 0x12;  // weight 0 high bits 2 (-> 33), weight 64 high bits 1 (-> 18)
  auto v = dequantize(DType::Q6_K, &b, sizeof b, 1, 256);
  EXPECT_EQ(v[0], 0.25f * 1 * (33 - 32));
  EXPECT_EQ(v[64], 0.25f * 5 * (18 - 32));
  // Weight 200 is in the second run of 128: offset 72 = high nibbles of ql[64 + 8], scale 8 + 4.
  EXPECT_EQ(v[200], 0.25f * 13 * -32);
  const QuantizedTensor q = requantize(DType::Q6_K, &b, sizeof b, 1, 256, Scheme{8, 32, {}});
  EXPECT_EQ(q.type, DType::Q8_0);
  const auto back = dequantize(q.type, q.bytes.data(), q.bytes.size(), 1, 256);
  for (int i = 0; i < 256; ++i) EXPECT_NEAR(back[i], v[i], std::fabs(v[i]) / 127 + 1e-6) << i;
}
