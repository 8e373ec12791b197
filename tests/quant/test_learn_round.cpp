// --learn (learned rounding): the product kernel against a plain loop, the
// objective never rising (random and real stories260K layers), a real gain where
// round-to-nearest is clearly suboptimal, and results independent of threads.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "quant/calib/gptq.h"
#include "quant/calib/learn_round.h"
#include "quant/calib/stats.h"
#include "quantizer/calibrate.h"
#include "quantizer/float_model.h"
#include "correlated_stats.h"
#include "support/model_helpers.h"
#include "support/test_support.h"

using namespace pocketllm;
using namespace pocketllm::calib;
namespace ts = testsupport;

namespace {
std::vector<float> correlated_hessian(int64_t cols, int64_t tokens, uint32_t seed) {
  return calibtest::correlated_stats(cols, tokens, seed).hessian();
}

double row_error(const float* w, const float* v, int64_t cols, const std::vector<float>& h) {
  double f = 0;
  for (int64_t i = 0; i < cols; ++i) {
    double hi = 0;
    for (int64_t j = 0; j < cols; ++j) hi += static_cast<double>(h[i * cols + j]) * (static_cast<double>(v[j]) - w[j]);
    f += (static_cast<double>(v[i]) - w[i]) * hi;
  }
  return f;
}

CalibMethod best(int iters) {
  CalibMethod m;
  m.gptq = m.clip = m.refit = true;
  m.learn = iters >= 0;
  m.learn_iters = std::max(iters, 0);
  return m;
}
}  // namespace

TEST(LearnRound, ProductMatchesPlainLoop) {
  for (int isa = 0; isa <= learn_cpu_isa(); ++isa)
  for (int64_t cols : {1, 7, 64, 100, 172, 300}) {
    for (int64_t n : {4, 8, 16}) {
      const auto e = testsupport::heavy_tailed_weights(n * cols, 3), h0 = testsupport::heavy_tailed_weights(cols * cols, 4);
      std::vector<float> h(h0.size());
      for (int64_t i = 0; i < cols; ++i)
        for (int64_t j = 0; j < cols; ++j) h[i * cols + j] = h0[i * cols + j] + h0[j * cols + i];
      h[0] = 1e3f;  // an extreme entry
      std::vector<float> et(static_cast<size_t>(n * cols)), g(static_cast<size_t>(n * cols), 123.0f);
      for (int64_t b = 0; b < n; ++b)
        for (int64_t j = 0; j < cols; ++j) et[j * n + b] = (j % 5 == 0) ? 0.0f : e[b * cols + j];
      rows_times_hessian(et.data(), n, h.data(), hessian_strips(h.data(), cols).data(), cols, g.data(), isa);
      for (int64_t b = 0; b < n; ++b)
        for (int64_t c = 0; c < cols; ++c) {
          double want = 0, mag = 0;
          for (int64_t j = 0; j < cols; ++j) {
            want += static_cast<double>(et[j * n + b]) * h[j * cols + c];
            mag += std::fabs(static_cast<double>(et[j * n + b]) * h[j * cols + c]);
          }
          ASSERT_NEAR(g[b * cols + c], want, 1e-5 * mag + 1e-12) << "isa " << isa << " cols " << cols << " n " << n;
        }
    }
  }
}

// Every row's exact H-weighted error after --learn is at most the one before, for
// every symmetric W4 layout, from RTN codes and from GPTQ + clip + refit.
TEST(LearnRound, NeverRaisesTheObjectiveOnRandomLayers) {
  const int64_t rows = 20, cols = 256;
  const auto w = testsupport::heavy_tailed_weights(rows * cols, 11);
  const auto h = correlated_hessian(cols, 700, 12);
  ThreadPool pool(2);
  for (int group : {0, 32, 64, 128}) {
    const int64_t g = stored_group(Scheme{4, group, {}}, cols);
    for (int iters : {0, 40})
    for (CalibMethod m : {CalibMethod{}, best(-1)}) {
      const auto before = quantize_calibrated(w.data(), rows, cols, 4, g, h, m, &pool);
      m.learn = true;
      m.learn_iters = iters;
      const auto after = quantize_calibrated(w.data(), rows, cols, 4, g, h, m, &pool);
      double sum0 = 0, sum1 = 0;
      for (int64_t r = 0; r < rows; ++r) {
        const double e0 = row_error(w.data() + r * cols, before.values.data() + r * cols, cols, h);
        const double e1 = row_error(w.data() + r * cols, after.values.data() + r * cols, cols, h);
        EXPECT_LE(e1, e0 * (1 + 1e-9)) << "group " << group << " row " << r;
        sum0 += e0, sum1 += e1;
      }
      EXPECT_LT(sum1, sum0) << "group " << group << (m.gptq ? " best" : " rtn") << " iters " << iters
                            << ": learning changed nothing";
      EXPECT_LE(after.learned.after, after.learned.before);
    }
  }
}

// Where RTN ignores strong input correlations, learned rounding must cut the output
// error clearly (a no-op or a broken gradient fails this).
TEST(LearnRound, CutsTheErrorWhereRoundToNearestIsSuboptimal) {
  const int64_t rows = 16, cols = 128;
  const auto w = testsupport::heavy_tailed_weights(rows * cols, 31);
  const auto h = correlated_hessian(cols, 800, 32);
  for (int group : {0, 32}) {
    const int64_t g = stored_group(Scheme{4, group, {}}, cols);
    const auto rtn = quantize_calibrated(w.data(), rows, cols, 4, g, h, {});
    for (int iters : {0, 100}) {
      CalibMethod m;
      m.learn = true;
      m.learn_iters = iters;
      const auto learned = quantize_calibrated(w.data(), rows, cols, 4, g, h, m);
      const double e0 = relative_output_error(w.data(), rtn.values.data(), rows, cols, h);
      const double e1 = relative_output_error(w.data(), learned.values.data(), rows, cols, h);
      EXPECT_LT(e1, 0.7 * e0) << "group " << group << " iters " << iters << ": rtn " << e0 << " learned " << e1;
      EXPECT_EQ(learned.scales, rtn.scales);  // scales fixed without refit
    }
  }
}

// The same inputs give the same codes for any thread count (row blocks are fixed).
TEST(LearnRound, SameResultForAnyThreadCount) {
  const int64_t rows = 150, cols = 96;  // several row blocks
  const auto w = testsupport::heavy_tailed_weights(rows * cols, 41);
  const auto h = correlated_hessian(cols, 400, 42);
  ThreadPool one(1), two(2);
  const auto a = quantize_calibrated(w.data(), rows, cols, 4, 32, h, best(30), &one);
  const auto b = quantize_calibrated(w.data(), rows, cols, 4, 32, h, best(30), &two);
  const auto c = quantize_calibrated(w.data(), rows, cols, 4, 32, h, best(30), &two);
  EXPECT_EQ(a.values, b.values);
  EXPECT_EQ(a.scales, b.scales);
  EXPECT_EQ(b.values, c.values);
  CalibMethod no_h;
  no_h.learn = true;
  EXPECT_THROW(quantize_calibrated(w.data(), rows, cols, 4, 32, {}, no_h), Error);
}

// Real layers: stories260K's block linears with statistics from calib.txt, --method best
// with and without --learn: never higher per tensor, and lower in total.
TEST(LearnRound, NeverRaisesTheObjectiveOnStoriesLayers) {
  auto m = ts::stories_model();
  MethodOptions o;
  o.calib_file = (ts::shared_data() / "text/calib.txt").string();
  o.calib_tokens = 512;
  o.calib_samples = 8;
  const CalibStats stats = collect_calib_stats(*m, o, true, "test");
  ThreadPool pool(2);
  double sum0 = 0, sum1 = 0;
  int tensors = 0;
  for (auto& [name, t] : model_float_tensors(*m)) {
    const std::string key = stats_key(name);
    if (key.empty() || t.ne.size() < 2) continue;
    const auto st = stats.find(key);
    ASSERT_NE(st, stats.end()) << name;
    const int64_t rows = t.rows(), cols = t.cols();
    const std::vector<float>& w = t.data;
    const std::vector<float> h = st->second.hessian();
    for (int group : {0, 32}) {
      const int64_t g = stored_group(Scheme{4, group, {}}, cols);
      CalibMethod base = best(-1);
      base.act_order = group == 0;
      const auto before = quantize_calibrated(w.data(), rows, cols, 4, g, h, base, &pool);
      base.learn = true;
      const auto after = quantize_calibrated(w.data(), rows, cols, 4, g, h, base, &pool);
      const double e0 = relative_output_error(w.data(), before.values.data(), rows, cols, h);
      const double e1 = relative_output_error(w.data(), after.values.data(), rows, cols, h);
      EXPECT_LE(e1, e0 * (1 + 1e-9)) << name << " group " << group;
      sum0 += e0, sum1 += e1, ++tensors;
    }
  }
  ASSERT_GT(tensors, 10);
  EXPECT_LT(sum1, sum0) << "learning lowered no stories260K layer";
  std::printf("stories260K, %d tensor layouts: mean relative output error %.4e -> %.4e (%.3fx)\n", tensors,
              sum0 / tensors, sum1 / tensors, sum1 / sum0);
}

