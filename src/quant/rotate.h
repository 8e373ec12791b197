// --rotate: a Hadamard-based rotation of the residual stream folded into the
// weights (QuaRot/SpinQuant without training). With R orthogonal (dim x dim) and
// the residual h replaced by Rᵀ h:
//   - each RMSNorm gain g is folded into the linears that read the norm, which then
//     get W diag(g) R; the norm becomes weight-free (gain 1): RMSNorm commutes with R;
//   - linears that write the residual (attn_output, ffn_down) get Rᵀ W;
//   - the embedding rows e become Rᵀ e; the head gets W diag(g_final) R (a tied head
//     is untied: it can no longer share the embedding's values).
// Optionally (online_down) ffn_down's input is rotated too: ffn_down gets W T with
// T = H ⊗ Q (kernels/hadamard.h) and the runtime applies Tᵀ to that input, so the
// file needs pocketllm (FORMAT.md, key pocketllm.online_rotation).
// The FP32 model computes the same function (up to float rounding).
#pragma once
#include <cstdint>

#include "quant/float_tensors.h"

namespace pocketllm {

inline constexpr const char* kDownRotationTensor = "ffn_down_rotation.weight";
inline constexpr const char* kOnlineRotationKey = "pocketllm.online_rotation";  // value "ffn_down"

struct RotateOptions {
  uint64_t seed = 0;
  bool online_down = true;
};

// Rewrites `t` (a llama-layout model of n_layers blocks). Adds kDownRotationTensor ([m][m]
// block of the online transform) when online_down. Throws Error for layouts it cannot
// rotate exactly (post-norms, biases on the residual writers).
void rotate_model(FloatTensors& t, int64_t n_layers, const RotateOptions& o);

}  // namespace pocketllm
