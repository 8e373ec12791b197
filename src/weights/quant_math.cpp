// Small numeric helpers the deterministic quantizers share.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/fp16.h"
#include "weights/codecs_internal.h"

namespace pocketllm::codecs {

uint16_t f16_scale(float scale) {
  if (!std::isfinite(scale)) fail("quantize: weights give a scale of {} (NaN or inf in the weights?)", scale);
  if (std::fabs(scale) > 65504.0f) fail("quantize: scale {} does not fit an f16", scale);
  return f32_to_f16(scale == 0 ? 0.0f : scale);  // +0 for -0: an all-zero block stores 0
}

float signed_absmax(const float* x, int n) {
  float best = 0;
  for (int i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) fail("quantize: weight {} is {}", i, x[i]);
    if (std::fabs(x[i]) > std::fabs(best)) best = x[i];
  }
  return best;
}

int round_clamp(float v, int lo, int hi) {
  // Clamp before converting: an out-of-range float-to-int conversion is undefined.
  const float c = std::clamp(v, static_cast<float>(lo), static_cast<float>(hi));
  return static_cast<int>(std::nearbyint(c));
}

int quantize_value(float v, float d, int lo, int hi) { return d == 0 ? std::clamp(0, lo, hi) : round_clamp(v / d, lo, hi); }

}  // namespace pocketllm::codecs
