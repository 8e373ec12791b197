// --smooth: equivalent per-channel scaling (SmoothQuant/AWQ/MobileQuant family).
// For linears reading x, y = W x = (W diag(s)) (x / s): the scales s move into the
// weights' columns and 1/s into whatever produced x: the RMSNorm gain before q/k/v
// and gate/up, or up_proj's rows before down_proj (SwiGLU is linear in up's output).
// s is searched per layer and input: s_j = max|x_j|^α / max_r |W_rj|^(1−α) over
// α ∈ {0, 0.1, …, 1} plus s = 1 (no change), keeping the one whose quantized
// linears (RTN, real int8-activation kernels) have the least output error on the
// calibration samples. The FP32 model computes the same function.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/linear.h"
#include "quant/calib/output_error.h"
#include "quant/calib/stats.h"
#include "quant/float_tensors.h"
#include "quant/plan.h"

namespace pocketllm::calib {

struct SmoothLinear {
  const FloatTensor* w;
  Scheme scheme;
};

struct SmoothChoice {
  std::vector<float> scales;  // empty: no change is best
  float alpha = -1;           // -1: no change
  OutputError before, after;
};

// Searches the scales for linears sharing one input (all with `cols` columns) described by st's
// samples and abs_max. Needs st.n_samples() > 0.
SmoothChoice search_smooth_scales(const std::vector<SmoothLinear>& ls, const LinearStats& st, ActPrecision act,
                                  ThreadPool& pool);

struct SmoothOptions {
  bool up_down = true;  // also between up_proj and down_proj (not with an online ffn_down rotation)
};

// Smooths every layer of a llama-layout model in place, updating `stats` (inputs become x / s).
// report(layer, input, choice) is called for each searched input.
void smooth_model(FloatTensors& t, CalibStats& stats, int64_t n_layers, const QuantPlanOptions& plan, ActPrecision act,
                  const SmoothOptions& o, ThreadPool& pool,
                  const std::function<void(int64_t, const std::string&, const SmoothChoice&)>& report);

}  // namespace pocketllm::calib
