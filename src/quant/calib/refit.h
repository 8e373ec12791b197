// --refit: with the integer codes fixed (after GPTQ and/or clipping), each group
// scale moves to the value that minimizes the output error (w − Q)ᵀ H (w − Q)
// against the original row w, H the calibration second moments. One group at a
// time: the error is quadratic in each scale, so each step is exact; scales stay
// f16-exact and positive, and a step that would not change the f16 value is
// skipped. Two passes, since a group's best scale depends on its neighbours'
// through H (one for per-row scales). Cost per matrix: about rows · cols² per
// pass, like GPTQ itself, in blocks of rows that share each read of H.
#pragma once
#include <vector>

#include "quant/calib/gptq.h"

namespace pocketllm::calib {

// w: [rows][cols] original weights; hessian: [cols][cols]; cw: values and scales updated in place.
// Rows are independent: pool (optional) spreads them, with the same result.
void refit_scales(const float* w, const std::vector<float>& hessian, CalibratedWeights& cw, ThreadPool* pool = nullptr);

}  // namespace pocketllm::calib
