// --act static: one int8 activation scale per linear for every token
// (MobileQuant's NPU-friendly mode) instead of each token's max|x| / 127.
// The scale is searched, not just the calibration maximum: d = r · max|x| / 127
// with r on a geometric grid (1, 0.9, 0.81, ...), keeping the r whose quantized
// linear (stored weights, the real kernels) has the least output error on the
// calibration samples. Clipping rare outliers buys resolution for every other
// activation; the maximum (r = 1) is always a candidate.
#pragma once
#include <cstdint>

#include "core/thread_pool.h"
#include "quant/calib/output_error.h"
#include "quant/calib/stats.h"

namespace pocketllm::calib {

struct StaticActChoice {
  float scale = 0;  // the chosen d
  float ratio = 1;  // d / (max|x| / 127)
  OutputError dynamic, unclipped, chosen;  // per-token ranges, r = 1, the chosen r
};

// w: [rows][cols] f32 reference weights, q: their stored form (int8 activations);
// st: the statistics of their input (abs_max over all calibration tokens, samples).
// Needs st.n_samples() > 0 and some non-zero input.
StaticActChoice search_static_act_scale(const float* w, const QuantizedTensor& q, const LinearStats& st, ThreadPool& pool);

}  // namespace pocketllm::calib
