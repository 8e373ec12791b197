#include "quant/calib/refit.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "quant/calib/clip.h"

namespace pocketllm::calib {
namespace {

// Float sums: 16 lanes per instruction instead of 8, and precise enough to place an
// f16 scale (relative error ~1e-6 for the widest inputs).
void axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

// Rows [r0, r1) together: each row of H (symmetric, so also its column) is read
// once for the whole block while it is in cache; H of a 5632-wide input is 127 MB
// and one pass per row would stream it thousands of times.
void refit_block(const float* w, const std::vector<float>& hessian, CalibratedWeights& cw, int64_t r0, int64_t r1) {
  const int64_t cols = cw.cols, group = cw.group, n = r1 - r0;
  std::vector<float> q(static_cast<size_t>(n * cols));
  std::vector<float> he(static_cast<size_t>(n * cols), 0.0f), hq(he.size());
  std::vector<float> e(static_cast<size_t>(n * cols));
  for (int64_t b = 0; b < n; ++b) {
    const int64_t r = r0 + b;
    const float* sc = cw.scales.data() + r * cw.groups_per_row;
    for (int64_t c = 0; c < cols; ++c) {
      const float s = sc[c / group], v = cw.values[r * cols + c];
      q[b * cols + c] = s > 0 ? std::nearbyint(v / s) : 0.0f;
      e[b * cols + c] = w[r * cols + c] - v;
    }
  }
  // he = H e per row, as sums of H's rows.
  for (int64_t j = 0; j < cols; ++j)
    for (int64_t b = 0; b < n; ++b)
      if (const float ej = e[b * cols + j]; ej != 0) axpy(ej, hessian.data() + j * cols, he.data() + b * cols, cols);
  // One scale per row has no neighbours: one pass is exact. Groups: two passes.
  const int passes = cw.groups_per_row == 1 ? 1 : 2;
  for (int pass = 0; pass < passes; ++pass)
    for (int64_t gi = 0; gi < cw.groups_per_row; ++gi) {
      const int64_t c0 = gi * group, c1 = std::min(cols, c0 + group);
      const bool last = pass == passes - 1 && gi == cw.groups_per_row - 1;
      // hq = H q_g (q restricted to the group) per row.
      std::fill(hq.begin(), hq.end(), 0.0f);
      for (int64_t j = c0; j < c1; ++j)
        for (int64_t b = 0; b < n; ++b)
          if (const float qj = q[b * cols + j]; qj != 0) axpy(qj, hessian.data() + j * cols, hq.data() + b * cols, cols);
      for (int64_t b = 0; b < n; ++b) {
        const int64_t r = r0 + b;
        double num = 0, den = 0;
        for (int64_t i = c0; i < c1; ++i) {
          num += q[b * cols + i] * he[b * cols + i];
          den += q[b * cols + i] * hq[b * cols + i];
        }
        float& s = cw.scales[r * cw.groups_per_row + gi];
        if (!(den > 0)) continue;
        // The error is quadratic in s: the step num/den lands on its minimum.
        const float s_new = round_scale_f16(static_cast<float>(s + num / den));
        if (!(s_new > 0) || !std::isfinite(s_new) || s_new == s) continue;
        const float delta = s_new - s;
        s = s_new;
        for (int64_t j = c0; j < c1; ++j) cw.values[r * cols + j] = q[b * cols + j] * s_new;
        // e loses delta · q_g: H e changes by −delta · H q_g.
        if (!last)
          for (int64_t i = 0; i < cols; ++i) he[b * cols + i] -= delta * hq[b * cols + i];
      }
    }
}

}  // namespace

void refit_scales(const float* w, const std::vector<float>& hessian, CalibratedWeights& cw, ThreadPool* pool) {
  if (hessian.size() != static_cast<size_t>(cw.cols * cw.cols)) fail("scale refit: Hessian does not match {} columns", cw.cols);
  constexpr int64_t kRowBlock = 32;
  const int64_t n_blocks = (cw.rows + kRowBlock - 1) / kRowBlock;
  const auto run_block = [&](int64_t b) { refit_block(w, hessian, cw, b * kRowBlock, std::min(cw.rows, (b + 1) * kRowBlock)); };
  if (pool && pool->size() > 1 && n_blocks > 1)
    pool->run([&](int ti, int nt) {
      for (int64_t b = ti; b < n_blocks; b += nt) run_block(b);
    });
  else
    for (int64_t b = 0; b < n_blocks; ++b) run_block(b);
}

}  // namespace pocketllm::calib
