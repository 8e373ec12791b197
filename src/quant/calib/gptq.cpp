#include "quant/calib/gptq.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "kernels/int_weights.h"
#include "quant/calib/clip.h"
#include "quant/calib/refit.h"

namespace pocketllm::calib {
namespace {

// In-place lower Cholesky of an n x n SPD matrix; false when not positive definite.
bool cholesky_lower(std::vector<double>& a, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    double d = a[j * n + j];
    for (int64_t k = 0; k < j; ++k) d -= a[j * n + k] * a[j * n + k];
    if (!(d > 0)) return false;
    d = std::sqrt(d);
    a[j * n + j] = d;
    for (int64_t i = j + 1; i < n; ++i) {
      double s = a[i * n + j];
      for (int64_t k = 0; k < j; ++k) s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / d;
    }
    for (int64_t k = j + 1; k < n; ++k) a[j * n + k] = 0;
  }
  return true;
}

// Upper factor U with Uᵀ U = H⁻¹ (what GPTQ walks along), from H = L Lᵀ.
bool inverse_hessian_factor(std::vector<double> h, int64_t n, std::vector<double>& u) {
  if (!cholesky_lower(h, n)) return false;
  // Linv = L⁻¹ (lower), then H⁻¹ = Linvᵀ Linv.
  std::vector<double> linv(static_cast<size_t>(n * n), 0.0);
  for (int64_t j = 0; j < n; ++j) {
    linv[j * n + j] = 1.0 / h[j * n + j];
    for (int64_t i = j + 1; i < n; ++i) {
      double s = 0;
      for (int64_t k = j; k < i; ++k) s += h[i * n + k] * linv[k * n + j];
      linv[i * n + j] = -s / h[i * n + i];
    }
  }
  std::vector<double> hinv(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) {
      double s = 0;
      for (int64_t k = i; k < n; ++k) s += linv[k * n + i] * linv[k * n + j];
      hinv[i * n + j] = hinv[j * n + i] = s;
    }
  if (!cholesky_lower(hinv, n)) return false;
  u.assign(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) u[i * n + j] = hinv[j * n + i];
  return true;
}

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

CalibratedWeights quantize_calibrated(const float* w, int64_t rows, int64_t cols, int bits, int64_t group,
                                      const std::vector<float>& hessian, const CalibMethod& method) {
  if (rows < 0 || cols <= 0 || group <= 0) fail("calibrated quantization: bad shape {} x {} (group {})", rows, cols, group);
  if (bits != 4 && bits != 8) fail("calibrated quantization: {} bits is not supported", bits);
  const bool have_h = !hessian.empty();
  if (have_h && hessian.size() != static_cast<size_t>(cols * cols)) fail("calibration Hessian does not match {} columns", cols);
  if (method.gptq && !have_h) fail("GPTQ needs calibration statistics (--calib FILE)");
  if (method.refit && !have_h) fail("scale refitting needs calibration statistics (--calib FILE)");
  const int qmax = bits == 4 ? 7 : 127;
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
  if (method.gptq) {
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
    double damp = std::max(static_cast<double>(method.damp), 1e-6);
    for (;; damp *= 10) {
      std::vector<double> hd = h;
      for (int64_t i = 0; i < cols; ++i) hd[i * cols + i] += damp * mean_diag;
      if (inverse_hessian_factor(std::move(hd), cols, u)) break;
      if (damp > 1e3) fail("calibration Hessian is not positive definite even with damping");
    }
  }

  // Scales of group gi of row r from weights g[0..n) (error-compensated ones, or the originals with act_order).
  auto choose = [&](int64_t r, int64_t gi, const float* g, int64_t n) {
    cw.scales[r * cw.groups_per_row + gi] =
        method.clip ? search_clip_scale(g, diag.data() + gi * group, n, qmax) : rtn_scale(g, n, qmax);
  };
  if (act_order)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c0 = 0; c0 < cols; c0 += group) choose(r, c0 / group, w + r * cols + c0, std::min(group, cols - c0));
  for (int64_t k = 0; k < cols; ++k) {
    const int64_t c = order[k], gi = c / group;
    if (!act_order && c % group == 0)  // storage order: a group starts, scale it from the compensated weights
      for (int64_t r = 0; r < rows; ++r) choose(r, gi, work.data() + r * cols + k, std::min(group, cols - c));
    for (int64_t r = 0; r < rows; ++r) {
      float* wr = work.data() + r * cols;
      const float q = grid_value(wr[k], cw.scales[r * cw.groups_per_row + gi], qmax);
      cw.values[r * cols + c] = q;
      if (!method.gptq) continue;
      const double* ur = u.data() + k * cols;
      const double err = (static_cast<double>(wr[k]) - q) / ur[k];
      for (int64_t j = k + 1; j < cols; ++j) wr[j] -= static_cast<float>(err * ur[j]);
    }
  }
  if (method.refit) refit_scales(w, hessian, cw);
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

double relative_output_error(const float* w, const float* q, int64_t rows, int64_t cols, const std::vector<float>& h) {
  if (h.size() != static_cast<size_t>(cols * cols)) fail("output error: Hessian does not match {} columns", cols);
  double num = 0, den = 0;
  std::vector<double> e(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < cols; ++i) e[i] = static_cast<double>(w[r * cols + i]) - q[r * cols + i];
    for (int64_t i = 0; i < cols; ++i) {
      double he = 0, hw = 0;
      for (int64_t j = 0; j < cols; ++j) {
        he += h[i * cols + j] * e[j];
        hw += h[i * cols + j] * w[r * cols + j];
      }
      num += e[i] * he;
      den += w[r * cols + i] * hw;
    }
  }
  return den > 0 ? num / den : 0.0;
}

}  // namespace pocketllm::calib
