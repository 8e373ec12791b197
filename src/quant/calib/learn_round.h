// --learn: block reconstruction of calibrated codes against the calibration Hessian,
// scales fixed: optional learned rounding (AdaRound-style), then greedy moves.
//
// Each weight may keep its current code q0 (from GPTQ / clip / refit) or move one
// step toward its float value w/s. Learned rounding (iters > 0): a continuous variable h = clamp(1.2 σ(V) − 0.1, 0, 1)
// in [0, 1] sits between the two codes, lo and lo + 1. Adam minimizes, per row,
//   (w − v)ᵀ H (w − v) / f0 · cols  +  λ Σ (1 − |2h − 1|^β),   v = s (lo + h),
// H the calibration second moments (the output error of the linear on the
// calibration activations), f0 the row's error at the start; the regulariser
// (off for the first 20% of iterations, β annealed 20 → 2) pushes each h to 0 or 1.
// Each code then goes to the side h chose. Greedy moves (polish_sweeps): over each row,
// a code switches to its other side when that lowers the error (exact for a single move:
// Δ = d² H_cc + 2 d (H e)_c), H e updated after each move. A row keeps its new codes only
// if its exactly recomputed error (double sums) is lower: the objective never rises.
// On stories260K the greedy moves bought most of the gain per pass over H
// (docs/CALIBRATION.md): learned rounding needs ~100 steps to add to them.
// Rows are independent; a block of rows runs all its iterations while it is in
// cache, so the result does not depend on the thread count.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "core/thread_pool.h"
#include "quant/calib/gptq.h"

namespace pocketllm::calib {

struct LearnSettings {
  int iters = 0;            // Adam steps per row (0: off)
  float lr = 0.1f;          // on V (σ's argument)
  float lambda = 3.0f;      // regulariser weight (per weight, against the per-weight recon scale)
  float start_margin = 0.2f;  // h starts this far from the current code's side (0.2: h = 0.2 or 0.8)
  int polish_sweeps = 4;      // then greedy single-code moves that lower the error, sweeps over each row
};

// w: [rows][cols] original weights; hessian [cols][cols]; cw: codes (values) changed in place,
// scales unchanged. qmax: the code range [−qmax, qmax]. progress(rows done, rows) may be empty;
// it is called with 0 rows done when the learning starts.
LearnSummary learn_rounding(const float* w, const std::vector<float>& hessian, CalibratedWeights& cw, int qmax,
                           const LearnSettings& s, ThreadPool* pool = nullptr,
                           const std::function<void(int64_t, int64_t)>& progress = {});

// H's columns in strips of 64, each strip [cols][64] contiguous (the last cols % 64 columns are
// read from H itself): the product reads a strip row after row without striding over pages.
constexpr int64_t kStripCols = 64;
std::vector<float> hessian_strips(const float* h, int64_t cols);

// G = E H for n rows of E, given transposed (et [cols][n], n a multiple of 4), and symmetric
// H [cols][cols] with its strips; g [n][cols]. Float sums in register tiles, built for
// isa 2 (AVX-512), 1 (AVX2 + FMA) or 0 (portable); −1: the best this CPU runs
// (learn_cpu_isa()). Exposed for its test against a plain loop on every build.
void rows_times_hessian(const float* et, int64_t n, const float* h, const float* strips, int64_t cols, float* g,
                        int isa = -1);
int learn_cpu_isa();

}  // namespace pocketllm::calib
