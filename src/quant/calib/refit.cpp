#include "quant/calib/refit.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "quant/calib/clip.h"

namespace pocketllm::calib {

namespace {
void axpy(double a, const float* x, double* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}
}  // namespace

void refit_scales(const float* w, const std::vector<float>& hessian, CalibratedWeights& cw) {
  if (hessian.size() != static_cast<size_t>(cw.cols * cw.cols)) fail("scale refit: Hessian does not match {} columns", cw.cols);
  const int64_t cols = cw.cols, group = cw.group;
  std::vector<double> e(static_cast<size_t>(cols)), he(static_cast<size_t>(cols));
  std::vector<float> q(static_cast<size_t>(cols));
  for (int64_t r = 0; r < cw.rows; ++r) {
    float* vals = cw.values.data() + r * cols;
    float* sc = cw.scales.data() + r * cw.groups_per_row;
    for (int64_t c = 0; c < cols; ++c) {
      const float s = sc[c / group];
      q[c] = s > 0 ? std::nearbyint(vals[c] / s) : 0.0f;
      e[c] = static_cast<double>(w[r * cols + c]) - vals[c];
    }
    // he = H e, as a sum of H's rows (H is symmetric): contiguous axpys the compiler
    // vectorizes, where dot products in double would stay scalar.
    std::fill(he.begin(), he.end(), 0.0);
    for (int64_t j = 0; j < cols; ++j) axpy(e[j], hessian.data() + j * cols, he.data(), cols);
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t gi = 0; gi < cw.groups_per_row; ++gi) {
        const int64_t c0 = gi * group, c1 = std::min(cols, c0 + group);
        double num = 0, den = 0;
        for (int64_t i = c0; i < c1; ++i) {
          if (q[i] == 0) continue;
          num += q[i] * he[i];
          double hq = 0;
          for (int64_t j = c0; j < c1; ++j) hq += static_cast<double>(hessian[i * cols + j]) * q[j];
          den += q[i] * hq;
        }
        if (!(den > 0)) continue;
        const float s_new = round_scale_f16(static_cast<float>(sc[gi] + num / den));
        if (!(s_new > 0) || !std::isfinite(s_new) || s_new == sc[gi]) continue;
        const double delta = static_cast<double>(s_new) - sc[gi];
        sc[gi] = s_new;
        for (int64_t j = c0; j < c1; ++j) vals[j] = q[j] * s_new;
        // e loses delta · q over the group: H e changes by −delta · H[:, group] q.
        for (int64_t j = c0; j < c1; ++j)
          if (q[j] != 0) axpy(-delta * q[j], hessian.data() + j * cols, he.data(), cols);
      }
  }
}


}  // namespace pocketllm::calib
