// Static activation ranges (quantize --act static): one calibrated int8 scale for
// every token instead of each token's max|x| / 127. The scalar ref against an
// independent computation (saturation included), every table against the ref,
// and matrices with different static scales never sharing one quantized input.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "kernel_test_util.h"

using namespace pocketllm;

namespace {
const Scheme kStaticSchemes[] = {{4, 32, {}}, {4, 128, {}}, {4, 0, {}}, {8, 32, {}}, {8, 0, {}}};

float max_abs(const std::vector<float>& v) {
  float m = 0;
  for (float x : v) m = std::max(m, std::fabs(x));
  return m;
}
}  // namespace

TEST(StaticActs, QuantizeUsesTheGivenScaleAndSaturates) {
  const float d = 0.01f;
  const std::vector<float> x = {0.0f, 0.004f, 0.006f, -0.015f, 1.27f, 1.28f, -5.0f, 0.5f, NAN, INFINITY, -INFINITY};
  QuantActs a;
  const int64_t cols = static_cast<int64_t>(x.size());
  quantize_acts(x.data(), cols, 1, cols, 32, 32, a, d);
  const int8_t want[] = {0, 0, 1, -2, 127, 127, -127, 50, 0, 127, -127};
  int32_t sum = 0;
  for (int64_t c = 0; c < cols; ++c) {
    EXPECT_EQ(a.q[c], want[c]) << "x = " << x[c];
    sum += want[c];
  }
  for (int64_t c = cols; c < 32; ++c) EXPECT_EQ(a.q[c], 0);
  EXPECT_EQ(a.d[0], d);
  EXPECT_EQ(a.sum[0], sum);
  // Dynamic ranges for comparison: the group's own max sets the scale.
  quantize_acts(x.data(), cols, 1, 8, 32, 32, a);
  EXPECT_FLOAT_EQ(a.d[0], 5.0f / 127.0f);
  // A hostile scale is refused, not used.
  EXPECT_THROW(quantize_acts(x.data(), cols, 1, cols, 32, 32, a, -1.0f), Error);
  EXPECT_THROW(quantize_acts(x.data(), cols, 1, cols, 32, 32, a, NAN), Error);
}

TEST(StaticActs, RefMatchesIndependentMathAndEveryTableMatchesRef) {
  uint32_t seed = 100;
  for (const Scheme& s : kStaticSchemes)
    for (int64_t cols : {64, 172, 1000}) {
      const int64_t rows = 19;
      const auto w = kt::random_floats(static_cast<size_t>(rows * cols), seed++, 0.05f);
      const QuantizedTensor q = quantize_rtn(w.data(), rows, cols, s);
      const auto wd = dequantize(q.type, q.bytes.data(), q.bytes.size(), rows, cols);
      Matrix m = make_matrix(q.type, rows, cols, q.bytes.data());
      for (int64_t nt : {1, 6, 40}) {
        const auto x = kt::random_floats(static_cast<size_t>(nt * cols), seed++);
        // Half the calibration maximum: the largest activations saturate at +-127.
        m.act_scale = 0.5f * max_abs(x) / 127.0f;
        const auto ref = kt::run_linear(m, *find_kernels("ref"), x, nt);
        const auto mag = kt::abs_sums(wd, x, rows, cols, nt);
        int saturated = 0;
        for (int64_t t = 0; t < nt; ++t)
          for (int64_t r = 0; r < rows; ++r) {
            double want = 0;
            for (int64_t c = 0; c < cols; ++c) {
              const double v = std::nearbyint(x[t * cols + c] * (1.0f / m.act_scale));  // as the kernels round
              saturated += std::fabs(v) > 127;
              want += double(wd[r * cols + c]) * std::clamp(v, -127.0, 127.0) * m.act_scale;
            }
            ASSERT_NEAR(ref[t * rows + r], want, 2e-6 * mag[t * rows + r] + 1e-6)
                << "W" << s.bits << " g" << s.group << " cols " << cols << " token " << t << " row " << r;
          }
        EXPECT_GT(saturated, 0);
        Matrix dynamic = m;
        dynamic.act_scale = 0;
        EXPECT_NE(kt::run_linear(dynamic, *find_kernels("ref"), x, nt), ref) << "the static scale must be used";
        for (const KernelTable* k : kt::tested_kernels()) {
          const auto y = kt::run_linear(m, *k, x, nt, 2, /*drop_data=*/true);
          for (size_t i = 0; i < y.size(); ++i)
            ASSERT_NEAR(y[i], ref[i], 2e-6 * mag[i] + 1e-6) << k->name << " W" << s.bits << " g" << s.group << " at " << i;
        }
      }
    }
}

TEST(StaticActs, DifferentScalesDoNotShareOneQuantizedInput) {
  const int64_t cols = 96, n_tokens = 4;
  const auto w = kt::random_floats(32 * cols, 9);
  const QuantizedTensor q = quantize_rtn(w.data(), 32, cols, Scheme{4, 32, {}});
  const auto x = kt::random_floats(static_cast<size_t>(n_tokens * cols), 10);
  Matrix a = make_matrix(q.type, 32, cols, q.bytes.data()), b = a, c = a;
  a.act_scale = max_abs(x) / 127.0f;
  b.act_scale = 0.3f * a.act_scale;  // c: dynamic
  for (const KernelTable* k : kt::tested_kernels()) {
    for (Matrix* mat : {&a, &b, &c}) {
      mat->packed.reset();
      prepare_matrix(*mat, *k);
    }
    ThreadPool pool(1);
    std::vector<float> ya(n_tokens * 32), yb(ya.size()), yc(ya.size());
    const LinearOut outs[] = {{&a, ya.data(), 32}, {&b, yb.data(), 32}, {&c, yc.data(), 32}};
    linear_shared_input(outs, x.data(), cols, n_tokens, pool);
    EXPECT_EQ(ya, kt::run_linear(a, *k, x, n_tokens)) << k->name;
    EXPECT_EQ(yb, kt::run_linear(b, *k, x, n_tokens)) << k->name;
    EXPECT_EQ(yc, kt::run_linear(c, *k, x, n_tokens)) << k->name;
    EXPECT_NE(ya, yb) << k->name;
  }
}
