#include "quant/calib/clip.h"

#include <algorithm>
#include <cmath>

#include "core/fp16.h"

namespace pocketllm::calib {

float round_scale_f16(float s) { return f16_to_f32(f32_to_f16(s)); }

float rtn_scale(const float* w, int64_t n, int qmax) {
  float amax = 0;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(w[i]));
  return round_scale_f16(amax / static_cast<float>(qmax));
}

double weighted_rounding_error(const float* w, const float* importance, int64_t n, int qmax, float s) {
  const float inv = s > 0 ? 1.0f / s : 0.0f;
  double err = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float q = static_cast<float>(std::clamp<long>(std::lrintf(w[i] * inv), -qmax, qmax)) * s;
    const double e = static_cast<double>(w[i]) - q;
    err += (importance ? importance[i] : 1.0) * e * e;
  }
  return err;
}

float search_clip_scale(const float* w, const float* importance, int64_t n, int qmax, int steps, float min_ratio) {
  float amax = 0;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(w[i]));
  if (amax == 0) return 0;
  float best = round_scale_f16(amax / static_cast<float>(qmax));
  double best_err = weighted_rounding_error(w, importance, n, qmax, best);
  for (int k = 1; k <= steps; ++k) {
    const float ratio = 1.0f - (1.0f - min_ratio) * static_cast<float>(k) / static_cast<float>(steps);
    const float s = round_scale_f16(ratio * amax / static_cast<float>(qmax));
    const double err = weighted_rounding_error(w, importance, n, qmax, s);
    if (err < best_err) best_err = err, best = s;  // strict: ties keep the larger (unclipped) scale
  }
  return best;
}

}  // namespace pocketllm::calib
