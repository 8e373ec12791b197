// The small elementwise and per-row operations of a transformer block.
#pragma once
#include <cstdint>
#include <vector>

#include "model/config.h"

namespace pocketllm::ops {

// out = x / rms(x) * w, row of n.
void rmsnorm(float* out, const float* x, const float* w, int64_t n, float eps);
// a[i] = silu(a[i]) * b[i]
void swiglu(float* a, const float* b, int64_t n);

// a[i] = gelu_tanh(a[i]) * b[i] (GeGLU with the tanh approximation of GELU)
void geglu_tanh(float* a, const float* b, int64_t n);
// x[i] = cap * tanh(x[i] / cap)
void softcap(float* x, int64_t n, float cap);

// Per-pair inverse frequencies of RoPE over the rotated dims (c.rot_dim()), with
// Llama 3 or linear scaling or GGUF per-pair divisors applied. local: the table of
// sliding-window layers (base rope_theta_local, never scaled).
std::vector<float> rope_inv_freq(const ModelConfig& c, const std::vector<float>& freq_factors, bool local = false);
// Rotates the first rot_dim dims (0: all) of n_heads heads of head_dim at position
// pos, pairing dims as `style` says; the rest of each head passes through.
// mscale multiplies the rotated dims (LongRoPE's attention factor).
void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t pos, const float* inv_freq, RopeStyle style,
          int64_t rot_dim = 0, float mscale = 1.0f);

}  // namespace pocketllm::ops
