// The small elementwise and per-row operations of a transformer block.
#pragma once
#include <cstdint>
#include <vector>

#include "model/config.h"

namespace pocketllm::ops {

// out = x / rms(x) * w, row of n.
void rmsnorm(float* out, const float* x, const float* w, int64_t n, float eps);
// In-place softmax over n values.
void softmax(float* x, int64_t n);
// a[i] = silu(a[i]) * b[i]
void swiglu(float* a, const float* b, int64_t n);

// Per-pair inverse frequencies of RoPE for a head of head_dim, with Llama 3
// scaling or GGUF per-pair divisors applied.
std::vector<float> rope_inv_freq(const ModelConfig& c, const std::vector<float>& freq_factors);
// Rotates n_heads heads of head_dim at position pos, pairing dims as `style` says.
void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t pos, const float* inv_freq, RopeStyle style);

}  // namespace pocketllm::ops
