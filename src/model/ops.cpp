#include "model/ops.h"

#include <cmath>

#include "kernels/table.h"

namespace pocketllm::ops {

void rmsnorm(float* out, const float* x, const float* w, int64_t n, float eps) {
  float ss = 0.0f;
  for (int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
  const float scale = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = w[i] * (scale * x[i]);
}

void swiglu(float* a, const float* b, int64_t n) { active_kernels().silu_mul(a, b, n); }

void geglu_tanh(float* a, const float* b, int64_t n) {
  const float k = 0.7978845608028654f;  // sqrt(2 / pi)
  for (int64_t i = 0; i < n; ++i) {
    const float x = a[i];
    a[i] = 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x))) * b[i];
  }
}

void softcap(float* x, int64_t n, float cap) {
  const float inv = 1.0f / cap;
  for (int64_t i = 0; i < n; ++i) x[i] = cap * std::tanh(x[i] * inv);
}

std::vector<float> rope_inv_freq(const ModelConfig& c, const std::vector<float>& freq_factors, bool local) {
  const int64_t rot = c.rot_dim(), half = rot / 2;
  const float theta = local && c.rope_theta_local > 0.0f ? c.rope_theta_local : c.rope_theta;
  std::vector<float> f(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i)
    f[i] = 1.0f / std::pow(theta, static_cast<float>(2 * i) / static_cast<float>(rot));
  if (local) return f;
  if (c.rope_linear_factor != 1.0f)
    for (auto& v : f) v /= c.rope_linear_factor;
  if (c.rope_llama3.enabled && freq_factors.empty()) {
    // Llama 3.x: long wavelengths are slowed by `factor`, short ones kept, a smooth blend between.
    const auto& s = c.rope_llama3;
    const double old_ctx = static_cast<double>(s.original_context);
    const double low_wl = old_ctx / s.low_freq_factor, high_wl = old_ctx / s.high_freq_factor;
    for (auto& v : f) {
      const double wl = 2.0 * M_PI / v;
      if (wl < high_wl) continue;
      if (wl > low_wl) {
        v = static_cast<float>(v / s.factor);
      } else {
        const double smooth = (old_ctx / wl - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        v = static_cast<float>((1.0 - smooth) * v / s.factor + smooth * v);
      }
    }
  }
  for (size_t i = 0; i < freq_factors.size() && i < f.size(); ++i) f[i] /= freq_factors[i];
  return f;
}

void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t pos, const float* inv_freq, RopeStyle style,
          int64_t rot_dim, float mscale) {
  const int64_t half = (rot_dim > 0 ? rot_dim : head_dim) / 2;
  for (int64_t i = 0; i < half; ++i) {
    const float angle = static_cast<float>(pos) * inv_freq[i];
    const float c = std::cos(angle) * mscale, s = std::sin(angle) * mscale;
    for (int64_t h = 0; h < n_heads; ++h) {
      float* hx = x + h * head_dim;
      const int64_t a = style == RopeStyle::Interleaved ? 2 * i : i;
      const int64_t b = style == RopeStyle::Interleaved ? 2 * i + 1 : i + half;
      const float x0 = hx[a], x1 = hx[b];
      hx[a] = x0 * c - x1 * s;
      hx[b] = x0 * s + x1 * c;
    }
  }
}

}  // namespace pocketllm::ops
