// --smooth: equivalent per-channel scaling (SmoothQuant/AWQ/MobileQuant family).
// For linears reading x, y = W x = (W diag(s)) (x / s): the scales s move into the
// weights' columns and 1/s into whatever produced x: the RMSNorm gain before q/k/v
// and gate/up, up_proj's rows before down_proj (SwiGLU/GeGLU is linear in up's output),
// or v_proj's rows (and bias) before o_proj (attention mixes each V channel linearly; with
// grouped-query attention the heads sharing a V head share its scales).
// s is searched per layer and input: s_j = a_j^α / max_r |W_rj|^(1−α) over
// α ∈ {0, 0.1, …, 1}, a_j = max|x_j| or rms(x_j), plus s = 1 (no change), keeping the one whose quantized
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

enum class SmoothStat { Max, Rms };  // the activation statistic a_j of the scales

struct SmoothChoice {
  std::vector<float> scales;  // empty: no change is best
  float alpha = -1;           // -1: no change
  SmoothStat stat = SmoothStat::Max;
  OutputError before, after;
};

// Searches the scales for linears sharing one input (all with `cols` columns) described by st's
// samples and abs_max. Needs st.n_samples() > 0. tie (empty, or one entry per column): columns
// with the same tie[j] get one scale (their producer row is shared, e.g. a V head read by several
// query heads).
SmoothChoice search_smooth_scales(const std::vector<SmoothLinear>& ls, const LinearStats& st, ActPrecision act,
                                  ThreadPool& pool, const std::vector<int64_t>& tie = {});

struct SmoothOptions {
  bool up_down = true;  // also between up_proj and down_proj (not with an online ffn_down rotation)
  // Also between v_proj and o_proj when both are known (> 0): the attention's head counts.
  int64_t n_heads = 0, n_kv_heads = 0;
};

// o_proj's input column h * head_dim + d reads V row kv(h) * head_dim + d, kv(h) = h / (n_heads / n_kv_heads):
// the V row of each column (the tie for search_smooth_scales).
std::vector<int64_t> gqa_value_rows(int64_t n_heads, int64_t n_kv_heads, int64_t head_dim);

// Smooths every layer of a llama-layout model in place, updating `stats` (inputs become x / s).
// report(layer, input, choice) is called for each searched input.
void smooth_model(FloatTensors& t, CalibStats& stats, int64_t n_layers, const QuantPlanOptions& plan, ActPrecision act,
                  const SmoothOptions& o, ThreadPool& pool,
                  const std::function<void(int64_t, const std::string&, const SmoothChoice&)>& report);

}  // namespace pocketllm::calib
