// What `pocketllm quantize` (and any program using the quantizer) asks for: the
// output plan (scheme, group, head, GGML preset), the calibrated methods and the
// file options. quantizer/quantize_model.h runs it.
#pragma once
#include <cstdint>
#include <string>

#include "quant/calib/gptq.h"
#include "quant/plan.h"

namespace pocketllm {

// Calibration and the methods built on it (docs/CALIBRATION.md); without them the output is plain RTN.
struct MethodOptions {
  std::string calib_file;
  int64_t calib_tokens = 8192;
  int64_t calib_ctx = 256;
  int64_t calib_samples = 512;  // input rows kept per linear for the smoothing search and the report
  bool rotate = false, smooth = false;
  uint64_t seed = 0;            // rotation seed (the output is deterministic for a given seed)
  calib::CalibMethod weights;   // gptq / clip / damp / act_order
  int threads = 0;
  // --learn: the codes move after the other methods (quant/calib/learn_round.h); learn_iters Adam steps per row
  // of learned rounding before the greedy moves (0: greedy moves only, the default: see docs/CALIBRATION.md).
  bool learn = false;
  int learn_iters = 0;
  // --sequential: each block's statistics come from the model whose earlier blocks are already
  // quantized (quantizer/sequential.h), so a block's methods see the inputs the file will give it.
  bool sequential = false;
  // --compensate (with --sequential): each block's weights are first moved to W' = argmin E||W x_f − W' x_q||²
  // (x_f: the float model's inputs, x_q: the quantized-so-far model's, on the same tokens), then quantized.
  bool sequential_compensate = false;
  // --mlp-aware: ffn_gate/ffn_up rows each on their own output-weighted Hessian (quant/calib/row_weighted.h)
  bool mlp_aware = false;
  bool second_moments = false;  // collect x xᵀ even without GPTQ/clip/refit (--bpw measures output errors with it)
  bool any() const { return rotate || smooth || weights.gptq || weights.clip || weights.refit || weights.learn; }
};

struct QuantizeOptions {
  std::string in, out, tokenizer;
  QuantPlanOptions plan;
  MethodOptions methods;
  std::string preset;                // --method: "", "rtn" or "best"
  std::string act_mode = "dynamic";  // or "static": one searched scale per linear input
  bool tiles = false;  // store Q4_0/Q8_0-shaped matrices as tiles too (faster load, llama.cpp cannot read)
  bool allow_requantize = false;
  // --bpw: bits per weight of the block linears (0: off), types chosen from the KL each
  // tensor alone causes on bpw_tokens calibration tokens (quantizer/bit_budget.h).
  double bpw = 0;
  int64_t bpw_tokens = 512;
};

}  // namespace pocketllm
