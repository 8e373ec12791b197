// Weight clipping search: the scale of one quantization group chosen among
// clipped maxima (ratio * max|w|) to minimize the importance-weighted squared
// rounding error sum_i d_i (w_i - Q(w_i))^2. With d = diag(H) of the group's
// input columns this is the output error ignoring cross terms.
#pragma once
#include <cstdint>

namespace pocketllm::calib {

// The f32 value of `s` rounded to f16 (the precision scales are stored in).
float round_scale_f16(float s);

// max|w| / qmax, f16-rounded (plain round-to-nearest).
float rtn_scale(const float* w, int64_t n, int qmax);

// Best f16 scale over ratios 1, 1 - 1/steps*(1-min_ratio), ..., min_ratio of max|w| / qmax.
// importance may be null (all ones).
float search_clip_scale(const float* w, const float* importance, int64_t n, int qmax, int steps = 20,
                        float min_ratio = 0.5f);

// Σ d_i (w_i - clamp(round(w_i / s)) * s)^2.
double weighted_rounding_error(const float* w, const float* importance, int64_t n, int qmax, float s);

}  // namespace pocketllm::calib
