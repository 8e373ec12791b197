// Calibrated asymmetric K-quants (GGUF Q4_K, Q5_K; rows of whole 256-weight
// super-blocks): per sub-block of 32 a scale and a min, both stored as 6-bit codes
// against the super-block's f16 d and dmin, so an asymmetric group costs 4.5
// (Q4_K) or 5.5 (Q5_K) bits per weight instead of the 5.0 of f16 scale + min.
//
//   KQuantWeights k = quantize_kquant_calibrated(DType::Q4_K, w, rows, cols, H, {.gptq = true, .clip = true});
//   // k.bytes: the rows as Q4_K blocks; k.values: exactly what the Q4_K dequantizer gives back.
//
// Methods: clip = per sub-block search of [min, max] clipping, each candidate's scale
// and min refitted by least squares to the codes, weighted by diag(H), then the 6-bit
// codes of scale and min searched one step up and down; gptq = error feedback
// through H, each super-block's grid chosen when it starts from the compensated
// weights; refit = each super-block's d and dmin refitted to H with the codes fixed
// (the H-weighted error never rises).
#pragma once
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "quant/calib/gptq.h"
#include "weights/dtype.h"

namespace pocketllm::calib {

struct KQuantWeights {
  DType type = DType::Q4_K;
  std::vector<float> values;   // [rows][cols]
  std::vector<uint8_t> bytes;  // rows of type t
};

// t: Q4_K or Q5_K; cols a multiple of 256; hessian [cols][cols] or empty (then no gptq,
// and clip weights every column alike). Throws Error otherwise or for NaN/inf weights.
KQuantWeights quantize_kquant_calibrated(DType t, const float* w, int64_t rows, int64_t cols,
                                         const std::vector<float>& hessian, const CalibMethod& method,
                                         ThreadPool* pool = nullptr);

}  // namespace pocketllm::calib
