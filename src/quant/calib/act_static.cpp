#include "quant/calib/act_static.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace pocketllm::calib {

StaticActChoice search_static_act_scale(const float* w, const QuantizedTensor& q, const LinearStats& st, ThreadPool& pool) {
  const int64_t n = st.n_samples();
  if (n == 0 || st.cols != q.cols) fail("static activation ranges: no calibration samples for a {}-column input", q.cols);
  float amax = 0;
  for (float v : st.abs_max) amax = std::max(amax, v);
  if (!(amax > 0) || !std::isfinite(amax))
    fail("static activation ranges: the calibration input is {} (max |x| = {})", amax > 0 ? "not finite" : "all zero", amax);
  const float* x = st.samples.data();
  const std::vector<float> y0 = reference_outputs(w, q.rows, q.cols, x, n, pool);
  StaticActChoice c;
  c.dynamic = output_error_against(y0, q, ActPrecision::Int8, 0, x, n, pool);
  constexpr int kSteps = 24;  // r down to 0.9^23 ≈ 0.09
  float r = 1;
  for (int i = 0; i < kSteps; ++i, r *= 0.9f) {
    const float d = r * amax / 127.0f;
    const OutputError e = output_error_against(y0, q, ActPrecision::Int8, d, x, n, pool);
    if (i == 0) c.unclipped = e;
    if (i == 0 || e.err < c.chosen.err) c.chosen = e, c.scale = d, c.ratio = r;
  }
  return c;
}

}  // namespace pocketllm::calib
