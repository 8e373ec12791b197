// Output error of a quantized linear measured on calibration inputs with the real
// kernels: ‖X Qᵀ − X Wᵀ‖² against ‖X Wᵀ‖², where X Qᵀ is what linear() computes for
// the stored weights (int8 activations per token for W4A8/W8A8), so activation
// quantization is included. Used by the smoothing search and the quantize report.
#pragma once
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/linear.h"
#include "quant/quantize.h"

namespace pocketllm::calib {

struct OutputError {
  double err = 0, ref = 0;  // Σ squared error, Σ squared reference output
  double relative() const { return ref > 0 ? err / ref : 0.0; }
  OutputError& operator+=(const OutputError& o) {
    err += o.err, ref += o.ref;
    return *this;
  }
};

// w: [rows][cols] f32 reference weights; q: their stored form; x: [n][cols] inputs;
// act_scale > 0: static activation scale (quantize --act static), 0: per token.
OutputError quantized_output_error(const float* w, const QuantizedTensor& q, ActPrecision act, const float* x,
                                   int64_t n, ThreadPool& pool, float act_scale = 0);

// The same in two steps, for searches that score many variants of one linear:
// y0 = X Wᵀ ([n][rows]) once, then the error of each stored variant against it.
std::vector<float> reference_outputs(const float* w, int64_t rows, int64_t cols, const float* x, int64_t n,
                                     ThreadPool& pool);
OutputError output_error_against(const std::vector<float>& y0, const QuantizedTensor& q, ActPrecision act,
                                 float act_scale, const float* x, int64_t n, ThreadPool& pool);

}  // namespace pocketllm::calib
