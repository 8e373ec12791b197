// Calibrated weight quantization: GPTQ (error feedback through the inverse
// calibration Hessian, column by column) and/or clipped scales, producing
// values on the same symmetric grid quantize_rtn() stores, so the output file
// uses the ordinary RTN-layout types.
//
//   CalibratedWeights cw = quantize_calibrated(w, rows, cols, 4, 32, H, {.gptq = true, .clip = true});
//   QuantizedTensor q = quantize_rtn(cw.values.data(), rows, cols, replay_scheme(Scheme{4, 32}, cw));
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "quant/quantize.h"

namespace pocketllm::calib {

struct RowWeighting;  // quant/calib/row_weighted.h

struct CalibMethod {
  bool gptq = false;     // error feedback with the calibration Hessian
  bool clip = false;     // per-group clip-ratio search weighted by diag(H)
  float damp = 0.01f;    // GPTQ: added to diag(H), times its mean
  // GPTQ: columns in order of decreasing diag(H) (most active inputs first); group scales are
  // then fixed up front from the original weights ("static groups"), so the stored layout is unchanged.
  bool act_order = false;
  bool refit = false;    // then refit each group scale to H with the codes fixed (quant/calib/refit.h)
  // --learn: the codes the methods above chose move, where that lowers the output error
  // (quant/calib/learn_round.h): learn_iters Adam steps of learned rounding (AdaRound-style; 0: none),
  // then learn_sweeps greedy sweeps of single-code moves. The scales are refitted again when refit is on.
  bool learn = false;
  int learn_iters = 0;
  int learn_sweeps = 3;
  // Called with (rows done, rows) while the learned rounding runs (may be empty).
  std::function<void(int64_t, int64_t)> learn_progress{};
  // --mlp-aware: a tensor's per-row output weighting (quant/calib/row_weighted.h), or null for the
  // shared Hessian; row_shared: the fraction of the shared H each row's H_r keeps.
  std::function<const RowWeighting*(const std::string& tensor)> row_weighting{};
  float row_shared = 0.01f;
};

// What --learn did to one matrix (quant/calib/learn_round.h).
struct LearnSummary {
  double before = 0, after = 0;  // Σ over rows of (w − v)ᵀ H (w − v)
  int64_t rows_changed = 0, codes_changed = 0;
};

struct CalibratedWeights {
  int64_t rows = 0, cols = 0, group = 0, groups_per_row = 0;
  std::vector<float> values;  // [rows][cols], each exactly q * scale with |q| <= qmax
  std::vector<float> scales;  // [rows][groups_per_row], f16-exact
  LearnSummary learned;       // when CalibMethod::learn
};

// bits: 4, 8, or 5 (Q5_0's codes, kept in [-15, 15]).
// group: weights per scale as stored (effective group: the padded row length for per-row schemes).
// hessian: [cols][cols] mean x xᵀ of the input; may be empty when neither method needs it
// (clip then weights all columns equally; GPTQ requires it).
// pool: threads for the factorization and the rows (results do not depend on it).
CalibratedWeights quantize_calibrated(const float* w, int64_t rows, int64_t cols, int bits, int64_t group,
                                      const std::vector<float>& hessian, const CalibMethod& method,
                                      ThreadPool* pool = nullptr);

// GPTQ's factor: the upper Cholesky factor of the inverse of H (damped by damp_fraction times
// its mean diagonal, raised until it factors) with columns in `order`. Channels H never saw are
// zeroed in work ([rows][cols] in that order): their weights cannot matter.
std::vector<double> gptq_factor(const std::vector<float>& hessian, int64_t cols, const std::vector<int64_t>& order,
                                float damp_fraction, float* work, int64_t rows, ThreadPool* pool);

// A copy of `base` whose choose_scale returns cw's scales: quantize_rtn(cw.values.data(), ...)
// then stores exactly cw's grid values. The returned scheme refers to cw (keep it alive).
Scheme replay_scheme(const Scheme& base, const CalibratedWeights& cw);

// Relative output error tr((W-Q) H (W-Q)ᵀ) / tr(W H Wᵀ), over all rows or (max_rows > 0)
// that many rows spread evenly through the matrix (it costs cols² per row).
double relative_output_error(const float* w, const float* q, int64_t rows, int64_t cols, const std::vector<float>& h,
                             int64_t max_rows = 0, ThreadPool* pool = nullptr);

// The stored group of a scheme for rows of cols (the padded row for per-row schemes).
int64_t stored_group(const Scheme& s, int64_t cols);

}  // namespace pocketllm::calib
