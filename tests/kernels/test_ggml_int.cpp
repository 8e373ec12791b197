// Integer kernels over GGML blocks read in place (kernels/ggml_int.h): every
// compiled table against the scalar reference on random blocks (every code,
// scale and min pattern, zero blocks, max-magnitude f16 scales, extreme
// activations), and linear() on them against the float path, within the
// rounding of the int8 activations.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string_view>

#include "core/error.h"
#include "core/fp16.h"
#include "kernel_test_util.h"
#include "kernels/ggml_int.h"
#include "weights/blocks_iq4.h"
#include "weights/blocks_k.h"
#include "weights/blocks_legacy.h"
#include "weights/row_codec.h"

using namespace pocketllm;

namespace {

const DType kTypes[] = {DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q5_0, DType::IQ4_XS};

struct Layout {
  size_t block_bytes;
  int64_t block;
  std::vector<size_t> f16_fields;  // byte offsets of the block's f16 scales
  int min_field = -1;              // index in f16_fields of a min scale (dmin), if any
};
Layout layout(DType t) {
  switch (t) {
    case DType::Q4_K: return {sizeof(BlockQ4_K), kQK_K, {0, 2}, 1};
    case DType::Q5_K: return {sizeof(BlockQ5_K), kQK_K, {0, 2}, 1};
    case DType::Q6_K: return {sizeof(BlockQ6_K), kQK_K, {offsetof(BlockQ6_K, d)}};
    case DType::Q5_0: return {sizeof(BlockQ5_0), kQK_Legacy, {0}};
    default: return {sizeof(BlockIQ4_XS), kQK_K, {0}};
  }
}

void put_f16(uint8_t* p, float v) {
  const uint16_t h = f32_to_f16(v);
  std::memcpy(p, &h, 2);
}

// Random bytes for every code and sub-block scale; f16 scales drawn from small
// values, zero and +-65504 (f16's largest). Block 1 of row 3 is all zero bytes.
std::vector<uint8_t> random_rows(DType t, int64_t rows, int64_t cols, uint32_t seed) {
  const Layout l = layout(t);
  const int64_t nb = cols / l.block;
  std::vector<uint8_t> data(l.block_bytes * nb * rows);
  std::mt19937 rng(seed);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  std::uniform_real_distribution<float> small(-0.02f, 0.02f);
  for (int64_t b = 0; b < nb * rows; ++b)
    for (size_t f : l.f16_fields) {
      const unsigned pick = rng() % 16;
      const float v = pick == 0 ? 0.0f : pick == 1 ? 65504.0f : pick == 2 ? -65504.0f : small(rng);
      put_f16(&data[b * l.block_bytes + f], v);
    }
  if (rows > 3 && nb > 1) std::memset(&data[(3 * nb + 1) * l.block_bytes], 0, l.block_bytes);
  return data;
}


std::vector<float> dequantized(DType t, const std::vector<uint8_t>& data, int64_t rows, int64_t cols) {
  const size_t rb = *dtype_row_bytes(t, cols);
  std::vector<float> w(rows * cols);
  for (int64_t r = 0; r < rows; ++r) ggml_row_to_f32(t, &data[r * rb], &w[r * cols], cols);
  return w;
}

// sum |terms| of each dot product: for types with a min, the scale and min
// parts separately (they may cancel in the weight but not in rounding).
std::vector<double> magnitudes(DType t, const std::vector<uint8_t>& data, int64_t rows, int64_t cols,
                               const std::vector<float>& x, int64_t n) {
  const Layout l = layout(t);
  if (l.min_field < 0) return kt::abs_sums(dequantized(t, data, rows, cols), x, rows, cols, n);
  auto only = [&](bool keep_min) {
    auto d = data;
    for (size_t b = 0; b < d.size() / l.block_bytes; ++b)
      put_f16(&d[b * l.block_bytes + l.f16_fields[keep_min ? 0 : 1]], 0.0f);
    return kt::abs_sums(dequantized(t, d, rows, cols), x, rows, cols, n);
  };
  auto a = only(false), b = only(true);
  for (size_t i = 0; i < a.size(); ++i) a[i] += b[i];
  return a;
}

std::vector<float> run_kernel(GgmlIntFn fn, DType t, const std::vector<uint8_t>& data, int64_t rows, int64_t cols,
                              const std::vector<float>& x, int64_t n, int64_t r0, int64_t r1) {
  GgmlActs a;
  ggml_acts_shape(n, cols, ggml_int_block(t), a);
  ggml_acts_tokens(x.data(), cols, 0, n, a);
  std::vector<float> y(n * rows, -7.0f);
  fn(data.data(), *dtype_row_bytes(t, cols), cols, a, r0, r1, y.data(), rows);
  return y;
}

TEST(GgmlInt, ActivationSumsAndScales) {
  const int64_t cols = 512, n = 3;
  const auto x = kt::extreme_tokens(n, cols, 9);
  GgmlActs a;
  ggml_acts_shape(n, cols, 256, a);
  ggml_acts_tokens(x.data(), cols, 0, n, a);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < cols / 16; ++i) {
      int s = 0;
      for (int j = 0; j < 16; ++j) s += a.tok_q(t)[16 * i + j];
      ASSERT_EQ(a.tok_sum16(t)[i], s) << t << " " << i;
    }
  for (int64_t t = 0; t < n; ++t)
    for (int64_t b = 0; b < 2; ++b) {
      float m = 0;
      for (int64_t c = 0; c < 256; ++c) m = std::max(m, std::fabs(x[t * cols + b * 256 + c]));
      EXPECT_EQ(a.tok_d(t)[b], m / 127.0f);
    }
  EXPECT_THROW(ggml_acts_shape(1, 300, 256, a), Error);
}

TEST(GgmlInt, EveryTableMatchesTheScalarReference) {
  uint32_t seed = 100;
  for (DType t : kTypes)
    for (int64_t cols : {256, 768})
      for (int64_t rows : {1, 37}) {
        const auto data = random_rows(t, rows, cols, seed++);
        for (int64_t n : {1, 2, 3, 4, 5, 9, 70}) {
          const auto x = kt::extreme_tokens(n, cols, seed++);
          const auto mag = magnitudes(t, data, rows, cols, x, n);
          const auto ref = run_kernel(ggml_int_kernel(*find_kernels("ref"), t), t, data, rows, cols, x, n, 0, rows);
          for (const KernelTable* k : kt::tested_kernels()) {
            const GgmlIntFn fn = ggml_int_kernel(*k, t);
            if (!fn) continue;  // this table keeps the float path for t
            // A sub-range of rows: the others stay untouched.
            const int64_t r0 = rows > 1 ? 1 : 0;
            const auto y = run_kernel(fn, t, data, rows, cols, x, n, r0, rows);
            for (int64_t tok = 0; tok < n; ++tok)
              for (int64_t r = 0; r < rows; ++r) {
                const size_t i = tok * rows + r;
                SCOPED_TRACE(fmt::format("{} {} {}x{} tokens {} token {} row {}", dtype_name(t), k->name, rows, cols, n,
                                         tok, r));
                if (r < r0) {
                  ASSERT_EQ(y[i], -7.0f);
                } else {
                  ASSERT_NEAR(y[i], ref[i], 3e-6 * mag[i]);
                }
                if (tok % 5 == 1) {
                  ASSERT_EQ(y[i], r < r0 ? -7.0f : 0.0f);  // all-zero token
                }
              }
          }
        }
      }
}

// Every SIMD table this CPU runs has its own kernel for every type (x86 and
// ARM), so the comparison above is never skipped and no table quietly keeps
// the scalar loops or the float path.
TEST(GgmlInt, SimdTablesHaveTheirOwnKernels) {
  for (const KernelTable* k : kt::tested_kernels()) {
    if (std::string_view(k->name) == "ref") continue;
    for (DType t : kTypes) {
      const GgmlIntFn fn = ggml_int_kernel(*k, t);
      EXPECT_NE(fn, nullptr) << k->name << " " << dtype_name(t);
      EXPECT_NE(fn, ggml_int_kernel(*find_kernels("ref"), t)) << k->name << " " << dtype_name(t);
    }
  }
}

TEST(GgmlInt, ZeroBlocksGiveZero) {
  for (DType t : kTypes) {
    const int64_t rows = 3, cols = 512, n = 5;
    const std::vector<uint8_t> data(*dtype_row_bytes(t, cols) * rows, 0);
    const auto x = kt::extreme_tokens(n, cols, 3);
    for (const KernelTable* k : kt::tested_kernels()) {
      if (const GgmlIntFn fn = ggml_int_kernel(*k, t)) {
        for (float v : run_kernel(fn, t, data, rows, cols, x, n, 0, rows)) ASSERT_EQ(v, 0.0f) << dtype_name(t) << k->name;
      }
    }
  }
}

// Blocks whose every value is 0 under nonzero scales (Q5_0 codes 16, Q6_K codes
// 32, Q4_K codes 0 with mins 0) against a huge activation: exactly 0, not the
// float residue of large offset terms cancelling.
TEST(GgmlInt, ZeroValuesUnderNonzeroScalesGiveZero) {
  const int64_t cols = 256, n = 3;
  auto x = kt::random_floats(n * cols, 4);
  x[cols + 77] = 1e4f;
  for (DType t : {DType::Q5_0, DType::Q6_K, DType::Q4_K}) {
    const Layout l = layout(t);
    std::vector<uint8_t> data(l.block_bytes * (cols / l.block), 0);
    for (size_t b = 0; b < data.size() / l.block_bytes; ++b) {
      uint8_t* blk = &data[b * l.block_bytes];
      if (t == DType::Q5_0) std::memset(blk + 2, 0xFF, 4);  // fifth bits set, nibbles 0: q = 16
      if (t == DType::Q6_K) {
        std::memset(blk + offsetof(BlockQ6_K, qh), 0xAA, 64);  // high bits 2, nibbles 0: q = 32
        std::memset(blk + offsetof(BlockQ6_K, scales), 0x7F, 16);
      }
      if (t == DType::Q4_K) std::memset(blk + 4, 0x3F, 4);  // scales 0-3 = 63, mins 0, codes 0
      for (size_t f : l.f16_fields) put_f16(blk + f, 3.0f);
    }
    for (const KernelTable* k : kt::tested_kernels()) {
      if (const GgmlIntFn fn = ggml_int_kernel(*k, t)) {
        for (float v : run_kernel(fn, t, data, 1, cols, x, n, 0, 1)) ASSERT_EQ(v, 0.0f) << dtype_name(t) << k->name;
      }
    }
  }
}

// linear() on realistic weights: the integer path differs from the exact product
// of the file's values only by the activations' rounding, |err| <= sum |w| d_a / 2.
TEST(GgmlInt, LinearEqualsTheFloatPathWithinActivationRounding) {
  constexpr int64_t rows = 23, cols = 768;
  ThreadPool pool(kt::max_test_threads());
  uint32_t seed = 7;
  for (DType t : kTypes) {
    const auto w = kt::random_floats(rows * cols, seed++, 0.05f);
    const size_t rb = *dtype_row_bytes(t, cols);
    std::vector<uint8_t> stored(rb * rows);
    for (int64_t r = 0; r < rows; ++r) ggml_row_from_f32(t, &w[r * cols], &stored[r * rb], cols);
    const auto wd = dequantized(t, stored, rows, cols);
    const int64_t block = ggml_int_block(t);
    for (int64_t n : {1, 6}) {
      const auto x = kt::random_floats(n * cols, seed++);
      for (const KernelTable* k : kt::tested_kernels()) {
        SCOPED_TRACE(fmt::format("{} {} tokens {}", dtype_name(t), k->name, n));
        Matrix m = make_matrix(t, rows, cols, stored.data());
        prepare_matrix(m, *k);
        std::vector<float> y(n * rows);
        linear(m, x.data(), cols, n, y.data(), rows, pool);
        if (kquant_tile_kernel(*k, t)) {  // repacked at load (test_kquant_tiles.cpp checks those kernels)
          EXPECT_EQ(m.packed_bytes, kquant_tile_sb_bytes(t) * ((rows + 15) / 16) * (cols / kquant_tile_block_cols(t)));
        } else if (const GgmlIntFn fn = ggml_int_kernel(*k, t)) {  // the integer kernel is what ran, in place
          EXPECT_EQ(m.packed_bytes, 0u);
          const auto direct = run_kernel(fn, t, stored, rows, cols, x, n, 0, rows);
          for (size_t i = 0; i < y.size(); ++i) ASSERT_EQ(y[i], direct[i]) << i;
        }
        for (int64_t tok = 0; tok < n; ++tok)
          for (int64_t r = 0; r < rows; ++r) {
            double want = 0, bound = 0;
            for (int64_t b = 0; b < cols / block; ++b) {
              float amax = 0;
              for (int64_t c = b * block; c < (b + 1) * block; ++c) amax = std::max(amax, std::fabs(x[tok * cols + c]));
              for (int64_t c = b * block; c < (b + 1) * block; ++c) {
                want += double(wd[r * cols + c]) * x[tok * cols + c];
                bound += std::fabs(double(wd[r * cols + c])) * (amax / 127.0 / 2 + 1e-6 * std::fabs(x[tok * cols + c]));
              }
            }
            ASSERT_NEAR(y[tok * rows + r], want, bound + 1e-6) << "token " << tok << " row " << r;
          }
        // Float activations keep the float path (exact products of the file's values).
        m.act = ActPrecision::Float;
        linear(m, x.data(), cols, n, y.data(), rows, pool);
        for (int64_t r = 0; r < rows; ++r) {
          double want = 0;
          for (int64_t c = 0; c < cols; ++c) want += double(wd[r * cols + c]) * x[c];
          ASSERT_NEAR(y[r], want, 1e-4 * (1 + std::fabs(want)));
        }
      }
    }
  }
}

// Q/K/V-style calls over K-quants of different types share one quantization
// of the input and give what linear() gives for each, bit for bit.
TEST(GgmlInt, SharedInputEqualsSeparateCalls) {
  constexpr int64_t cols = 512, n = 5;
  ThreadPool pool(kt::max_test_threads());
  const auto x = kt::random_floats(n * cols, 77);
  std::vector<std::vector<uint8_t>> stored;
  std::vector<Matrix> ms;
  const int64_t rows[] = {17, 32, 9};
  const DType types[] = {DType::Q4_K, DType::Q6_K, DType::IQ4_XS};
  for (const KernelTable* k : kt::tested_kernels()) {
    SCOPED_TRACE(k->name);
    stored.clear();
    ms.clear();
    for (int i = 0; i < 3; ++i) {
      const auto w = kt::random_floats(rows[i] * cols, 10 + i, 0.05f);
      const size_t rb = *dtype_row_bytes(types[i], cols);
      stored.emplace_back(rb * rows[i]);
      for (int64_t r = 0; r < rows[i]; ++r) ggml_row_from_f32(types[i], &w[r * cols], &stored[i][r * rb], cols);
    }
    for (int i = 0; i < 3; ++i) {
      ms.push_back(make_matrix(types[i], rows[i], cols, stored[i].data()));
      prepare_matrix(ms.back(), *k);
    }
    std::vector<std::vector<float>> shared(3), single(3);
    std::vector<LinearOut> outs;
    for (int i = 0; i < 3; ++i) {
      shared[i].assign(n * rows[i], 0.0f);
      single[i].assign(n * rows[i], 0.0f);
      outs.push_back({&ms[i], shared[i].data(), rows[i]});
      linear(ms[i], x.data(), cols, n, single[i].data(), rows[i], pool);
    }
    linear_shared_input(outs, x.data(), cols, n, pool);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(shared[i], single[i]) << i;
  }
}

}  // namespace
