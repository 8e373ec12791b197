// The per-token helpers of every kernel table against the scalar reference:
// activation quantization (bit for bit: every table must give the same ints and
// scales) and SwiGLU's silu(a) * b (within a few ulp), on odd sizes, zeros and
// non-finite values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "kernel_test_util.h"
#include "kernels/ref/ref_kernels.h"

using namespace pocketllm;

namespace {

struct RowOut {
  std::vector<int8_t> q;
  std::vector<float> d;
  std::vector<int32_t> sum;
};

RowOut quantize_with(QuantizeActRowFn fn, const std::vector<float>& x, int64_t cols, int64_t group, float static_d) {
  const int64_t n_groups = (cols + group - 1) / group;
  RowOut o{std::vector<int8_t>(static_cast<size_t>(n_groups * group) + 1, 99),  // + a guard byte
           std::vector<float>(static_cast<size_t>(n_groups), -1.0f), std::vector<int32_t>(static_cast<size_t>(n_groups), -1)};
  fn(x.data(), cols, group, n_groups, static_d, o.q.data(), o.d.data(), o.sum.data());
  return o;
}

}  // namespace

TEST(ElementwiseKernels, QuantizeActRowIsBitExactWithRef) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  for (int64_t group : {32, 48, 64, 2048})
    for (int64_t cols : {1, 7, 31, 32, 33, 100, 2048, 2051})
      for (int variant = 0; variant < 5; ++variant) {
        auto x = kt::random_floats(static_cast<size_t>(cols), static_cast<uint32_t>(cols + group + variant), 3.0f);
        float static_d = 0;
        if (variant == 1)  // exact ties: max 127 makes the scale 1, values x.5
          for (int64_t c = 0; c < cols; ++c) x[c] = (c % 32 == 0) ? 127.0f : static_cast<float>(c % 9) - 4.5f;
        if (variant == 2)  // zeros, a NaN, an inf, denormals, huge values
          for (int64_t c = 0; c < cols; ++c) {
            const float edge[] = {0.0f, -0.0f, nan, 1e-40f, -3e30f, 1e-30f, inf, 2.0f};
            x[c] = (c % 5 == 0) ? edge[(c / 5) % 8] : x[c];
          }
        if (variant == 3) static_d = 0.01f;  // a calibrated scale: large values clamp
        if (variant == 4) std::fill(x.begin(), x.end(), 0.0f);
        const RowOut want = quantize_with(ref_quantize_act_row, x, cols, group, static_d);
        for (const KernelTable* k : kt::tested_kernels()) {
          const RowOut got = quantize_with(k->quantize_act_row, x, cols, group, static_d);
          ASSERT_EQ(got.q, want.q) << k->name << " cols " << cols << " group " << group << " variant " << variant;
          ASSERT_EQ(std::memcmp(got.d.data(), want.d.data(), want.d.size() * 4), 0) << k->name << " cols " << cols;
          ASSERT_EQ(got.sum, want.sum) << k->name << " cols " << cols << " group " << group << " variant " << variant;
        }
      }
}

TEST(ElementwiseKernels, QuantizeActRowValues) {
  // The reference itself against the definition on a hand-checked row (the
  // bit-exact test above only ties the tables to it).
  std::vector<float> x = {2.0f, -1.0f, 0.5f, std::nanf(""), 1.0f / 127.0f * 2.0f * 63.5f};
  const RowOut o = quantize_with(ref_quantize_act_row, x, 5, 32, 0);
  EXPECT_FLOAT_EQ(o.d[0], 2.0f / 127.0f);
  EXPECT_EQ(o.q[0], 127);
  EXPECT_EQ(o.q[1], -64);  // -63.5 -> -64 (even)
  EXPECT_EQ(o.q[2], 32);   // 31.75 -> 32
  EXPECT_EQ(o.q[3], 0);    // NaN
  for (int c = 5; c < 32; ++c) EXPECT_EQ(o.q[c], 0) << c;
  EXPECT_EQ(o.q[32], 99);  // the guard past the group
  int32_t s = 0;
  for (int c = 0; c < 32; ++c) s += o.q[c];
  EXPECT_EQ(o.sum[0], s);
}

TEST(ElementwiseKernels, SiluMulMatchesRef) {
  const float inf = std::numeric_limits<float>::infinity();
  for (int64_t n : {0, 1, 7, 8, 15, 16, 17, 100, 5632}) {
    auto a = kt::random_floats(static_cast<size_t>(n), static_cast<uint32_t>(n + 5), 4.0f);
    const auto b = kt::random_floats(static_cast<size_t>(n), static_cast<uint32_t>(n + 6), 2.0f);
    const float edge[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 20.0f, -20.0f, 87.5f, -87.5f, 100.0f, -100.0f, 1e30f, -1e30f, inf};
    for (int64_t i = 0; i < n && i < 13; ++i) a[i * 7 % n] = edge[i];
    std::vector<float> want = a;
    ref_silu_mul(want.data(), b.data(), n);
    for (const KernelTable* k : kt::tested_kernels()) {
      std::vector<float> got = a;
      got.push_back(55.0f);  // guard
      k->silu_mul(got.data(), b.data(), n);
      ASSERT_EQ(got[n], 55.0f) << k->name << " wrote past n=" << n;
      for (int64_t i = 0; i < n; ++i) {
        if (std::isinf(want[i])) {
          ASSERT_EQ(got[i], want[i]) << k->name << " a=" << a[i];
          continue;
        }
        // Below a = -87 the tables' exp flushes to 0: silu is then < 1e-35 in magnitude.
        ASSERT_NEAR(got[i], want[i], 4e-7 * std::fabs(want[i]) + 1e-33) << k->name << " a=" << a[i] << " b=" << b[i];
      }
    }
  }
}
