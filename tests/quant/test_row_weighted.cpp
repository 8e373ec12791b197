// --mlp-aware (quant/calib/row_weighted.h): the gate/up row weightings are the
// FFN's first-order sensitivities; the per-row moves start from the shared-H
// methods' codes, never raise any row's weighted objective and lower the total
// clearly; the thread count does not change the result.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "quant/calib/gptq.h"
#include "quant/calib/row_weighted.h"

using namespace pocketllm;
using namespace pocketllm::calib;

namespace {

std::vector<float> random_vec(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng) * scale;
  return v;
}

// Correlated samples [n][cols] with a few large channels.
std::vector<float> samples(int64_t n, int64_t cols, uint32_t seed) {
  const std::vector<float> mix = random_vec(static_cast<size_t>(cols * cols), seed, 2.0f / std::sqrt(static_cast<float>(cols)));
  const std::vector<float> z = random_vec(static_cast<size_t>(n * cols), seed + 1, 1.0f);
  std::vector<float> x(static_cast<size_t>(n * cols));
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < cols; ++i) {
      double s = z[t * cols + i];
      for (int64_t j = 0; j < cols; ++j) s += mix[i * cols + j] * z[t * cols + j];
      x[t * cols + i] = static_cast<float>(s) * (i % 16 == 3 ? 6.0f : 1.0f);
    }
  return x;
}

double gelu(double g) { return 0.5 * g * (1.0 + std::tanh(0.7978845608 * (g + 0.044715 * g * g * g))); }
double silu(double g) { return g / (1.0 + std::exp(-g)); }

// (w − v)ᵀ H (w − v)
double row_error(const float* w, const float* v, int64_t cols, const std::vector<double>& h) {
  double f = 0;
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j < cols; ++j) f += (static_cast<double>(v[i]) - w[i]) * h[i * cols + j] * (static_cast<double>(v[j]) - w[j]);
  return f;
}

}  // namespace

TEST(RowWeighted, GateAndUpWeightsAreTheFfnSensitivities) {
  const int64_t hidden = 5, cols = 12, n = 40;
  const std::vector<float> gate = random_vec(hidden * cols, 1, 0.5f), up = random_vec(hidden * cols, 2, 0.5f);
  const std::vector<float> x = samples(n, cols, 3);
  for (GateAct act : {GateAct::Silu, GateAct::GeluTanh}) {
    RowWeighting gw, uw;
    ffn_row_weightings(gate.data(), up.data(), hidden, cols, x.data(), n, act, gw, uw);
    ASSERT_EQ(gw.weight.size(), static_cast<size_t>(hidden * n));
    for (int64_t r = 0; r < hidden; ++r) {
      std::vector<double> want_g(n), want_u(n);
      double sg = 0, su = 0;
      for (int64_t t = 0; t < n; ++t) {
        double g = 0, u = 0;
        for (int64_t c = 0; c < cols; ++c) g += gate[r * cols + c] * x[t * cols + c], u += up[r * cols + c] * x[t * cols + c];
        const auto f = [&](double v) { return act == GateAct::Silu ? silu(v) : gelu(v); };
        const double slope = (f(g + 1e-4) - f(g - 1e-4)) / 2e-4;  // numerically: the formula is checked, not copied
        want_u[t] = f(g) * f(g), want_g[t] = slope * u * slope * u;
        su += want_u[t], sg += want_g[t];
      }
      for (int64_t t = 0; t < n; ++t) {
        EXPECT_NEAR(uw.weight[r * n + t], want_u[t] / su, 1e-4) << r << " " << t;
        EXPECT_NEAR(gw.weight[r * n + t], want_g[t] / sg, 1e-4) << r << " " << t;
      }
    }
  }
}

TEST(RowWeighted, EachRowFitsItsOwnWeightedErrorAndThreadsDoNotMatter) {
  const int64_t rows = 24, cols = 48, n = 800;
  const std::vector<float> x = samples(n, cols, 7);
  const std::vector<float> w = random_vec(rows * cols, 8, 0.1f);
  // Rows that care about different tokens: up's rows under a SwiGLU gate (closed gates mute tokens).
  RowWeighting rw, gate_rows;
  const std::vector<float> gate = random_vec(rows * cols, 9, 0.5f);
  ffn_row_weightings(gate.data(), w.data(), rows, cols, x.data(), n, GateAct::Silu, gate_rows, rw);
  std::vector<float> h(static_cast<size_t>(cols * cols));
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j) h[i * cols + j] += x[t * cols + i] * x[t * cols + j] / static_cast<float>(n);
  CalibMethod m;
  m.gptq = m.clip = m.refit = m.learn = true;
  const float shared = 0.01f;
  for (int64_t group : {int64_t{16}, cols}) {
    ThreadPool one(1), three(3);
    const CalibratedWeights plain = quantize_calibrated(w.data(), rows, cols, 4, group, h, m, &one);
    const CalibratedWeights each = quantize_calibrated_rows_greedy(w.data(), rows, cols, 4, group, h, rw, shared, m, &one);
    const CalibratedWeights each3 = quantize_calibrated_rows_greedy(w.data(), rows, cols, 4, group, h, rw, shared, m, &three);
    EXPECT_EQ(each.values, each3.values);
    EXPECT_EQ(each.scales, each3.scales);
    double f_plain = 0, f_each = 0;
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<double> hr(static_cast<size_t>(cols * cols));
      for (int64_t t = 0; t < n; ++t)
        for (int64_t i = 0; i < cols; ++i)
          for (int64_t j = 0; j < cols; ++j)
            hr[i * cols + j] += static_cast<double>(rw.weight[r * n + t]) * x[t * cols + i] * x[t * cols + j];
      for (size_t k = 0; k < hr.size(); ++k) hr[k] += shared * h[k];
      const double before = row_error(w.data() + r * cols, plain.values.data() + r * cols, cols, hr);
      const double after = row_error(w.data() + r * cols, each.values.data() + r * cols, cols, hr);
      EXPECT_LE(after, before * (1 + 1e-9)) << "row " << r << ": its weighted objective rose";  // starts from plain
      f_plain += before, f_each += after;
    }
    std::printf("group %lld: weighted error %.4g (shared H) -> %.4g (each row's own)\n", static_cast<long long>(group), f_plain, f_each);
    EXPECT_LT(f_each, 0.9 * f_plain) << "group " << group << ": the rows' own weighted errors did not drop";
    EXPECT_EQ(each.groups_per_row, plain.groups_per_row);
  }
}
