// Calibration statistics of correlated activations with a few large channels, as in
// real residual streams: the cross terms of H make independent rounding (RTN)
// clearly suboptimal. Shared by the calibration-method tests.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "quant/calib/stats.h"

namespace calibtest {

inline pocketllm::calib::LinearStats correlated_stats(int64_t cols, int64_t tokens, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<float> mix(static_cast<size_t>(cols * cols));
  for (auto& m : mix) m = nd(rng) / std::sqrt(static_cast<float>(cols));
  pocketllm::calib::LinearStats st(cols);
  std::vector<float> z(static_cast<size_t>(cols)), x(static_cast<size_t>(cols));
  for (int64_t t = 0; t < tokens; ++t) {
    for (auto& v : z) v = nd(rng);
    for (int64_t i = 0; i < cols; ++i) {
      float s = z[i];
      for (int64_t j = 0; j < cols; ++j) s += mix[i * cols + j] * z[j] * 2.0f;
      x[i] = s * (i % 16 == 3 ? 6.0f : 1.0f);
    }
    st.add(x.data(), cols, 1);
  }
  return st;
}

}  // namespace calibtest
