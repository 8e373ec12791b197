// GPTQ / clip-search math on synthetic data: exact replay into the stored
// layout, GPTQ = RTN when inputs are uncorrelated, and measured error gains.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "quant/calib/clip.h"
#include "quant/calib/gptq.h"
#include "quant/calib/inverse_factor.h"
#include "quant/calib/refit.h"
#include "quant/calib/stats.h"
#include "quant/quantize.h"
#include "correlated_stats.h"
#include "support/test_support.h"

using namespace pocketllm;
using namespace pocketllm::calib;

namespace {
using calibtest::correlated_stats;
}  // namespace

TEST(CalibStats, HessianIsMeanOuterProduct) {
  LinearStats st(3);
  const float x[6] = {1, 2, -3, 0.5f, 0, 4};
  st.add(x, 3, 2);
  const auto h = st.hessian();
  EXPECT_FLOAT_EQ(h[0 * 3 + 0], (1 + 0.25f) / 2);
  EXPECT_FLOAT_EQ(h[0 * 3 + 2], (-3 + 2.0f) / 2);
  EXPECT_FLOAT_EQ(h[2 * 3 + 0], h[0 * 3 + 2]);
  EXPECT_FLOAT_EQ(st.abs_max[2], 4);
  EXPECT_EQ(stats_key("blk.2.attn_k.weight"), "blk.2.attn_in");
  EXPECT_EQ(stats_key("blk.11.ffn_down.weight"), "blk.11.ffn_down_in");
  EXPECT_EQ(stats_key("output.weight"), "");
}

// U upper with Uᵀ U = H⁻¹ (blocked, threaded): checked as Uᵀ U H = I on sizes around
// the 64-row blocks, and identical for 1 and 2 threads.
// One channel 50x the others on every token: the report names it and measures it.
TEST(CalibStats, OutliersNameTheChannelThatStandsOut) {
  const int64_t cols = 8, n = 4;
  std::vector<float> x(static_cast<size_t>(cols * n));
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < cols; ++i) x[t * cols + i] = (i == 5 ? 50.0f : 1.0f) * ((t + i) % 2 ? 1.0f : -1.0f);
  LinearStats st(cols, 2, false);
  st.add(x.data(), cols, n);
  const auto o = st.outliers(2);
  const double rms = std::sqrt((7.0 + 2500.0) / 8.0);
  EXPECT_NEAR(o.rms, rms, 1e-9);
  EXPECT_NEAR(o.peak_to_rms, 50.0 / rms, 1e-6);
  EXPECT_NEAR(o.token_peak_to_rms_median, 50.0 / rms, 1e-6);
  ASSERT_EQ(o.top.size(), 2u);
  EXPECT_EQ(o.top[0].index, 5);
  EXPECT_NEAR(o.top[0].rms_ratio, 50.0 / rms, 1e-6);
  EXPECT_EQ(o.top[1].index, 0);  // ties: the lowest index
  // Smoothing divides the channel: the statistic follows exactly.
  std::vector<float> s(cols, 1.0f);
  s[5] = 50.0f;
  st.divide_channels(s);
  EXPECT_NEAR(st.outliers(1).peak_to_rms, 1.0, 1e-6);
}

TEST(CalibGptq, InverseFactorIsTheCholeskyFactorOfTheInverse) {
  for (int64_t n : {1, 5, 64, 65, 150, 200}) {
    std::mt19937 rng(static_cast<uint32_t>(n));
    std::normal_distribution<double> nd;
    std::vector<double> x(static_cast<size_t>(n * (n + 8))), h(static_cast<size_t>(n * n), 0.0);
    for (auto& v : x) v = nd(rng);
    for (int64_t t = 0; t < n + 8; ++t)  // H = Xᵀ X / T: SPD, correlated
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j) h[i * n + j] += x[t * n + i] * x[t * n + j] / double(n + 8);
    std::vector<double> u1, u2;
    ThreadPool one(1), two(2);
    ASSERT_TRUE(inverse_hessian_factor(h, n, u1, &one));
    ASSERT_TRUE(inverse_hessian_factor(h, n, u2, &two));
    EXPECT_EQ(u1, u2) << "n " << n;
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_GT(u1[i * n + i], 0);
      for (int64_t j = 0; j < i; ++j) ASSERT_EQ(u1[i * n + j], 0.0);
    }
    // (Uᵀ U) H = I.
    std::vector<double> hinv(static_cast<size_t>(n * n), 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j)
        for (int64_t k = 0; k <= std::min(i, j); ++k) hinv[i * n + j] += u1[k * n + i] * u1[k * n + j];
    double worst = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t k = 0; k < n; ++k) s += hinv[i * n + k] * h[k * n + j];
        worst = std::max(worst, std::fabs(s - (i == j ? 1.0 : 0.0)));
      }
    EXPECT_LT(worst, 1e-6) << "n " << n;
  }
  std::vector<double> u, bad = {1, 2, 2, 1};  // indefinite
  EXPECT_FALSE(inverse_hessian_factor(bad, 2, u));
}

TEST(CalibGptq, ReplayStoresExactlyTheCalibratedValues) {
  const int64_t rows = 8, cols = 96;
  const auto w = testsupport::heavy_tailed_weights(rows * cols, 1);
  const auto h = correlated_stats(cols, 400, 2).hessian();
  for (int group : {0, 32, 64}) {
    const Scheme s{4, group, {}};
    const auto cw = quantize_calibrated(w.data(), rows, cols, 4, stored_group(s, cols), h, {.gptq = true, .clip = true});
    const QuantizedTensor q = quantize_rtn(cw.values.data(), rows, cols, replay_scheme(s, cw));
    const auto back = dequantize(q.type, q.bytes.data(), q.bytes.size(), rows, cols);
    for (int64_t i = 0; i < rows * cols; ++i) ASSERT_EQ(back[i], cw.values[i]) << "group " << group << " at " << i;
  }
}

TEST(CalibGptq, WithoutMethodsEqualsRoundToNearest) {
  const int64_t rows = 5, cols = 64;
  const auto w = testsupport::heavy_tailed_weights(rows * cols, 3);
  const auto cw = quantize_calibrated(w.data(), rows, cols, 4, 32, {}, {});
  const QuantizedTensor q = quantize_rtn(w.data(), rows, cols, Scheme{4, 32, {}});
  const auto back = dequantize(q.type, q.bytes.data(), q.bytes.size(), rows, cols);
  for (int64_t i = 0; i < rows * cols; ++i) ASSERT_EQ(back[i], cw.values[i]);
}

TEST(CalibGptq, IdentityHessianGivesRoundToNearest) {
  // Uncorrelated inputs leave nothing to compensate: GPTQ must reduce to RTN (damping aside).
  const int64_t rows = 4, cols = 64;
  const auto w = testsupport::heavy_tailed_weights(rows * cols, 4);
  std::vector<float> h(static_cast<size_t>(cols * cols), 0.0f);
  for (int64_t i = 0; i < cols; ++i) h[i * cols + i] = 1.0f + static_cast<float>(i % 3);
  const auto g = quantize_calibrated(w.data(), rows, cols, 4, 32, h, {.gptq = true});
  const auto r = quantize_calibrated(w.data(), rows, cols, 4, 32, {}, {});
  for (int64_t i = 0; i < rows * cols; ++i) ASSERT_NEAR(g.values[i], r.values[i], 1e-7f);
}

TEST(CalibGptq, ReducesOutputErrorOnCorrelatedInputs) {
  const int64_t rows = 32, cols = 128;
  const auto w = testsupport::heavy_tailed_weights(rows * cols, 5);
  const auto h = correlated_stats(cols, 1000, 6).hessian();
  for (int group : {0, 32}) {
    const int64_t g = stored_group(Scheme{4, group, {}}, cols);
    const auto rtn = quantize_calibrated(w.data(), rows, cols, 4, g, {}, {});
    const auto gptq = quantize_calibrated(w.data(), rows, cols, 4, g, h, {.gptq = true});
    const auto both = quantize_calibrated(w.data(), rows, cols, 4, g, h, {.gptq = true, .clip = true});
    const double e_rtn = relative_output_error(w.data(), rtn.values.data(), rows, cols, h);
    const double e_gptq = relative_output_error(w.data(), gptq.values.data(), rows, cols, h);
    const double e_both = relative_output_error(w.data(), both.values.data(), rows, cols, h);
    EXPECT_LT(e_gptq, 0.8 * e_rtn) << "group " << group;
    EXPECT_LT(e_both, e_rtn) << "group " << group;
  }
}

// The refit keeps every integer code, stays on the stored grid, and never raises
// the H-weighted output error (each step is the exact minimizer of a quadratic).
TEST(CalibRefit, KeepsCodesAndNeverRaisesOutputError) {
  const int64_t rows = 24, cols = 96;
  const auto w = testsupport::heavy_tailed_weights(rows * cols, 21);
  const auto h = correlated_stats(cols, 600, 22).hessian();
  for (int group : {0, 32}) {
    const Scheme s{4, group, {}};
    const int64_t g = stored_group(s, cols);
    for (CalibMethod m : {CalibMethod{}, CalibMethod{.gptq = true}, CalibMethod{.gptq = true, .clip = true}}) {
      const auto before = quantize_calibrated(w.data(), rows, cols, 4, g, m.gptq ? h : std::vector<float>{}, m);
      m.refit = true;
      const auto after = quantize_calibrated(w.data(), rows, cols, 4, g, h, m);
      int moved = 0;
      for (int64_t r = 0; r < rows; ++r) {
        const double e0 = relative_output_error(w.data() + r * cols, before.values.data() + r * cols, 1, cols, h);
        const double e1 = relative_output_error(w.data() + r * cols, after.values.data() + r * cols, 1, cols, h);
        EXPECT_LE(e1, e0 * (1 + 1e-9) + 1e-15) << "group " << group << " row " << r;
        for (int64_t c = 0; c < cols; ++c) {
          const float s0 = before.scales[r * before.groups_per_row + c / g], s1 = after.scales[r * after.groups_per_row + c / g];
          ASSERT_EQ(std::nearbyint(before.values[r * cols + c] / s0), std::nearbyint(after.values[r * cols + c] / s1));
        }
        for (int64_t gi = 0; gi < after.groups_per_row; ++gi) moved += after.scales[r * after.groups_per_row + gi] != before.scales[r * before.groups_per_row + gi];
      }
      EXPECT_GT(moved, rows / 2) << "group " << group;
      // Still exactly what the stored layout holds.
      const QuantizedTensor q = quantize_rtn(after.values.data(), rows, cols, replay_scheme(s, after));
      const auto back = dequantize(q.type, q.bytes.data(), q.bytes.size(), rows, cols);
      for (int64_t i = 0; i < rows * cols; ++i) ASSERT_EQ(back[i], after.values[i]);
    }
  }
  EXPECT_THROW(quantize_calibrated(w.data(), rows, cols, 4, 32, {}, {.refit = true}), Error);
}

TEST(CalibClip, SearchNeverWorseThanMaxScale) {
  const auto w = testsupport::heavy_tailed_weights(32 * 40, 7);
  std::vector<float> imp(32, 1.0f);
  int strictly_better = 0;
  for (int b = 0; b < 40; ++b) {
    const float* g = w.data() + b * 32;
    const double e_max = weighted_rounding_error(g, imp.data(), 32, 7, rtn_scale(g, 32, 7));
    const double e_clip = weighted_rounding_error(g, imp.data(), 32, 7, search_clip_scale(g, imp.data(), 32, 7));
    EXPECT_LE(e_clip, e_max);
    strictly_better += e_clip < 0.999 * e_max;
  }
  EXPECT_GT(strictly_better, 10);  // heavy-tailed groups gain from clipping
}

TEST(CalibGptq, BadInputsFailClearly) {
  const std::vector<float> w(64, 0.1f);
  EXPECT_THROW(quantize_calibrated(w.data(), 1, 64, 4, 32, {}, {.gptq = true}), Error);
  EXPECT_THROW(quantize_calibrated(w.data(), 1, 64, 4, 32, std::vector<float>(10), {}), Error);
  EXPECT_THROW(quantize_calibrated(w.data(), 1, 64, 3, 32, {}, {}), Error);
  // A zero Hessian (no signal) still factorizes thanks to the dead-channel handling.
  EXPECT_NO_THROW(quantize_calibrated(w.data(), 1, 64, 4, 32, std::vector<float>(64 * 64, 0.0f), {.gptq = true}));
}

TEST(CalibGptq, ActOrderKeepsTheStoredLayoutAndCutsError) {
  const int64_t rows = 32, cols = 128;
  const auto w = testsupport::heavy_tailed_weights(rows * cols, 8);
  const auto h = correlated_stats(cols, 1000, 9).hessian();
  for (int group : {0, 32}) {
    const Scheme s{4, group, {}};
    const int64_t g = stored_group(s, cols);
    const CalibMethod ao{.gptq = true, .clip = false, .damp = 0.01f, .act_order = true};
    const auto cw = quantize_calibrated(w.data(), rows, cols, 4, g, h, ao);
    // Static groups: scales are the original weights' RTN scales, and the replay is exact.
    const auto rtn = quantize_calibrated(w.data(), rows, cols, 4, g, {}, {});
    EXPECT_EQ(cw.scales, rtn.scales) << "group " << group;
    const QuantizedTensor q = quantize_rtn(cw.values.data(), rows, cols, replay_scheme(s, cw));
    const auto back = dequantize(q.type, q.bytes.data(), q.bytes.size(), rows, cols);
    for (int64_t i = 0; i < rows * cols; ++i) ASSERT_EQ(back[i], cw.values[i]) << "group " << group << " at " << i;
    const double e_rtn = relative_output_error(w.data(), rtn.values.data(), rows, cols, h);
    const double e_ao = relative_output_error(w.data(), cw.values.data(), rows, cols, h);
    EXPECT_LT(e_ao, 0.8 * e_rtn) << "group " << group;
  }
}

TEST(CalibStats, SamplesAndChannelScaling) {
  LinearStats st(2, 2, true);
  const float x[6] = {1, 2, 3, -4, 5, 6};
  st.add(x, 2, 3);
  ASSERT_EQ(st.n_samples(), 2);  // capped at max_samples
  EXPECT_EQ(st.samples, (std::vector<float>{1, 2, 3, -4}));
  const auto h0 = st.hessian();
  st.divide_channels({2.0f, 4.0f});
  EXPECT_EQ(st.samples, (std::vector<float>{0.5f, 0.5f, 1.5f, -1.0f}));
  EXPECT_FLOAT_EQ(st.abs_max[1], 6.0f / 4);
  const auto h1 = st.hessian();
  EXPECT_FLOAT_EQ(h1[0 * 2 + 1], h0[0 * 2 + 1] / 8);
  EXPECT_FLOAT_EQ(h1[1 * 2 + 1], h0[1 * 2 + 1] / 16);
  EXPECT_THROW(st.divide_channels({1.0f}), Error);
}
