#include "quant/calib/gptq.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "kernels/int_weights.h"
#include "quant/calib/clip.h"
#include "quant/calib/inverse_factor.h"
#include "quant/calib/learn_round.h"
#include "quant/calib/refit.h"

namespace pocketllm::calib {
namespace {

float grid_value(float w, float s, int qmax) {
  if (s <= 0) return 0.0f;
  return static_cast<float>(std::clamp<long>(std::lrintf(w * (1.0f / s)), -qmax, qmax)) * s;
}

}  // namespace

int64_t stored_group(const Scheme& s, int64_t cols) {
  const auto f = int_weight_format(scheme_type(s, cols));
  if (!f) fail("calibration: scheme type has no integer format");
  return effective_group(*f, cols);
}

std::vector<double> gptq_factor(const std::vector<float>& hessian, int64_t cols, const std::vector<int64_t>& order,
                                float damp_fraction, float* work, int64_t rows, ThreadPool* pool) {
  std::vector<double> u;
  std::vector<double> h(static_cast<size_t>(cols * cols));
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j < cols; ++j) h[i * cols + j] = hessian[order[i] * cols + order[j]];
  double mean_diag = 0;
  for (int64_t i = 0; i < cols; ++i) mean_diag += h[i * cols + i];
  mean_diag = std::max(mean_diag / static_cast<double>(cols), 1e-12);
  for (int64_t i = 0; i < cols; ++i)
    if (h[i * cols + i] <= 0) {  // a channel never active: its weights cannot matter
      h[i * cols + i] = mean_diag;
      for (int64_t r = 0; r < rows; ++r) work[r * cols + i] = 0;
    }
  // Damping keeps H invertible; raise it until the factorization succeeds.
  double damp = std::max(static_cast<double>(damp_fraction), 1e-6);
  for (;; damp *= 10) {
    std::vector<double> hd = h;
    for (int64_t i = 0; i < cols; ++i) hd[i * cols + i] += damp * mean_diag;
    if (inverse_hessian_factor(std::move(hd), cols, u, pool)) break;
    if (damp > 1e3) fail("calibration Hessian is not positive definite even with damping");
  }
  return u;
}

CalibratedWeights quantize_calibrated(const float* w, int64_t rows, int64_t cols, int bits, int64_t group,
                                      const std::vector<float>& hessian, const CalibMethod& method, ThreadPool* pool) {
  if (rows < 0 || cols <= 0 || group <= 0) fail("calibrated quantization: bad shape {} x {} (group {})", rows, cols, group);
  if (bits != 4 && bits != 5 && bits != 8) fail("calibrated quantization: {} bits is not supported", bits);
  const bool have_h = !hessian.empty();
  if (have_h && hessian.size() != static_cast<size_t>(cols * cols)) fail("calibration Hessian does not match {} columns", cols);
  if (method.gptq && !have_h) fail("GPTQ needs calibration statistics (--calib FILE)");
  if (method.refit && !have_h) fail("scale refitting needs calibration statistics (--calib FILE)");
  const int qmax = bits == 4 ? 7 : bits == 5 ? 15 : 127;  // 5: Q5_0's grid kept symmetric
  CalibratedWeights cw;
  cw.rows = rows, cw.cols = cols, cw.group = group;
  cw.groups_per_row = (cols + group - 1) / group;
  cw.values.assign(static_cast<size_t>(rows * cols), 0.0f);
  cw.scales.assign(static_cast<size_t>(rows * cw.groups_per_row), 0.0f);
  std::vector<float> diag(static_cast<size_t>(cols), 1.0f);
  if (have_h)
    for (int64_t i = 0; i < cols; ++i) diag[i] = hessian[i * cols + i];

  // Column order: storage order, or with act_order decreasing diag(H). GPTQ works on
  // permuted copies (work, h, u) and writes values back at the original columns.
  std::vector<int64_t> order(static_cast<size_t>(cols));
  for (int64_t i = 0; i < cols; ++i) order[i] = i;
  const bool act_order = method.gptq && method.act_order;
  if (act_order)
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return diag[a] > diag[b]; });
  std::vector<float> work(static_cast<size_t>(rows * cols));  // GPTQ updates the not-yet-quantized columns
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < cols; ++k) work[r * cols + k] = w[r * cols + order[k]];
  std::vector<double> u;
  if (method.gptq) u = gptq_factor(hessian, cols, order, method.damp, work.data(), rows, pool);
  // Scales of group gi of row r from weights g[0..n) (error-compensated ones, or the originals with act_order).
  auto choose = [&](int64_t r, int64_t gi, const float* g, int64_t n) {
    cw.scales[r * cw.groups_per_row + gi] =
        method.clip ? search_clip_scale(g, diag.data() + gi * group, n, qmax) : rtn_scale(g, n, qmax);
  };
  if (act_order)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c0 = 0; c0 < cols; c0 += group) choose(r, c0 / group, w + r * cols + c0, std::min(group, cols - c0));
  // Rows are independent (each feeds back only its own errors), so they run in
  // blocks that share each pass over U (cols² doubles) while it is in cache,
  // blocks spread over the threads; a row's arithmetic does not depend on its block.
  const auto run_rows = [&](int64_t r0, int64_t r1) {
    for (int64_t k = 0; k < cols; ++k) {
      const int64_t c = order[k], gi = c / group;
      if (!act_order && c % group == 0)  // storage order: a group starts, scale it from the compensated weights
        for (int64_t r = r0; r < r1; ++r) choose(r, gi, work.data() + r * cols + k, std::min(group, cols - c));
      for (int64_t r = r0; r < r1; ++r) {
        float* wr = work.data() + r * cols;
        const float q = grid_value(wr[k], cw.scales[r * cw.groups_per_row + gi], qmax);
        cw.values[r * cols + c] = q;
        if (!method.gptq) continue;
        const double* ur = u.data() + k * cols;
        const double err = (static_cast<double>(wr[k]) - q) / ur[k];
        for (int64_t j = k + 1; j < cols; ++j) wr[j] -= static_cast<float>(err * ur[j]);
      }
    }
  };
  constexpr int64_t kRowBlock = 32;
  const int64_t n_blocks = (rows + kRowBlock - 1) / kRowBlock;
  const auto run_block = [&](int64_t b) { run_rows(b * kRowBlock, std::min(rows, (b + 1) * kRowBlock)); };
  if (pool && pool->size() > 1 && n_blocks > 1)
    pool->run([&](int ti, int nt) {
      for (int64_t b = ti; b < n_blocks; b += nt) run_block(b);
    });
  else
    for (int64_t b = 0; b < n_blocks; ++b) run_block(b);
  if (method.refit) refit_scales(w, hessian, cw, pool);
  if (method.learn) {
    if (!have_h) fail("learned rounding needs calibration statistics (--calib FILE)");
    LearnSettings ls;
    ls.iters = method.learn_iters;
    ls.polish_sweeps = method.learn_sweeps;
    cw.learned = learn_rounding(w, hessian, cw, qmax, ls, pool, method.learn_progress);
    // New codes: their best scales moved too (a refit step never raises the error).
    if (method.refit && cw.learned.rows_changed > 0) refit_scales(w, hessian, cw, pool);
  }
  return cw;
}

Scheme replay_scheme(const Scheme& base, const CalibratedWeights& cw) {
  Scheme s = base;
  const float* origin = cw.values.data();
  s.choose_scale = [&cw, origin](const float* g, int64_t, int) {
    const int64_t off = g - origin;
    if (off < 0 || off >= cw.rows * cw.cols) fail("internal error: calibrated scale asked for foreign weights");
    return cw.scales[(off / cw.cols) * cw.groups_per_row + (off % cw.cols) / cw.group];
  };
  return s;
}

double relative_output_error(const float* w, const float* q, int64_t rows, int64_t cols, const std::vector<float>& h,
                             int64_t max_rows, ThreadPool* pool) {
  if (h.size() != static_cast<size_t>(cols * cols)) fail("output error: Hessian does not match {} columns", cols);
  const int64_t n = max_rows > 0 ? std::min(rows, max_rows) : rows;
  std::vector<double> num(static_cast<size_t>(n)), den(static_cast<size_t>(n));
  // Row i of the n measured rows: rows spread evenly through the matrix.
  const auto measure = [&](int64_t i0, int64_t i1) {
    std::vector<double> e(static_cast<size_t>(cols)), he(e.size()), hw(e.size());
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t r = i * rows / n;
      const float* wr = w + r * cols;
      for (int64_t c = 0; c < cols; ++c) e[c] = static_cast<double>(wr[c]) - q[r * cols + c];
      // H e and H w as sums of H's rows (H is symmetric): contiguous, vectorized.
      std::fill(he.begin(), he.end(), 0.0);
      std::fill(hw.begin(), hw.end(), 0.0);
      for (int64_t j = 0; j < cols; ++j) {
        const float* hj = h.data() + j * cols;
        const double ej = e[j], wj = wr[j];
        for (int64_t c = 0; c < cols; ++c) {
          he[c] += ej * hj[c];
          hw[c] += wj * hj[c];
        }
      }
      double a = 0, b = 0;
      for (int64_t c = 0; c < cols; ++c) a += e[c] * he[c], b += wr[c] * hw[c];
      num[i] = a, den[i] = b;
    }
  };
  if (pool) pool->parallel_for(n, measure);
  else measure(0, n);
  double sn = 0, sd = 0;  // summed in row order: the same result for any thread count
  for (int64_t i = 0; i < n; ++i) sn += num[i], sd += den[i];
  return sd > 0 ? sn / sd : 0.0;
}

}  // namespace pocketllm::calib
