// Output-aware per-row Hessians for the gated FFN's ffn_gate and ffn_up (--mlp-aware).
// The FFN's output is Wdown (act(g) ⊙ u) with g = Wgate x, u = Wup x. An error δu_r in
// up's row r reaches it as act(g_r) δu_r, an error δg_r as act'(g_r) u_r δg_r. So
// row r's error matters in proportion to a_rt² = act(g_rt)² (up) or (act'(g_rt) u_rt)²
// (gate) on token t, and its objective becomes (w − q)ᵀ H_r (w − q) with
// H_r = Σ_t a_rt² x_t x_tᵀ / Σ_t a_rt² (plus a little of the shared H, for the
// directions the samples do not cover), instead of one H for every row: tokens where
// the gate is closed no longer count for up's rows. GPTQ / clip / refit / --learn run
// on the shared H first; then each row's codes and group scales move greedily against
// its own objective, kept in sample space (H_r is never formed: cols² per row would
// not fit for large FFNs). Measured alternative (not kept): every method per row on
// its own H_r, about as good on stories260K but rows · n · cols² + rows · cols³ work.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "quant/calib/gptq.h"

namespace pocketllm::calib {

struct RowWeighting {
  const float* samples = nullptr;  // [n][cols] calibration inputs (owned by the statistics)
  int64_t n = 0;
  std::vector<float> weight;       // [rows][n]: a_rt², each row normalized to sum 1
};

enum class GateAct { Silu, GeluTanh };

// The weightings of one FFN's gate and up rows from its float weights ([hidden][cols] each) and
// the input samples x ([n][cols]).
void ffn_row_weightings(const float* gate, const float* up, int64_t hidden, int64_t cols, const float* x, int64_t n,
                        GateAct act, RowWeighting& gate_w, RowWeighting& up_w, ThreadPool* pool = nullptr);

// quantize_calibrated on the shared H, then per row greedy code moves and
// group scale refits against Σ_t a_rt (x_t·(w − v))² + shared_fraction · (w − v)ᵀ H (w − v),
// kept in sample space (no cols² matrix per row; rows · cols · n per sweep). Never raises a
// row's weighted objective from where the shared-H methods left it.
CalibratedWeights quantize_calibrated_rows_greedy(const float* w, int64_t rows, int64_t cols, int bits, int64_t group,
                                                  const std::vector<float>& hessian, const RowWeighting& rw,
                                                  float shared_fraction, const CalibMethod& method,
                                                  ThreadPool* pool = nullptr);

// quantize_calibrated, or quantize_calibrated_rows_greedy when method.row_weighting has a weighting for `tensor`.
CalibratedWeights quantize_calibrated_for(const std::string& tensor, const float* w, int64_t rows, int64_t cols, int bits,
                                          int64_t group, const std::vector<float>& hessian, const CalibMethod& method,
                                          ThreadPool* pool = nullptr);

}  // namespace pocketllm::calib
