// Calibration statistics of one linear input: the second-moment matrix
// H = sum_t x_t x_tᵀ (the GPTQ Hessian, up to a factor 2) and per-channel max |x|.
// Linears that read the same input (q/k/v, gate/up) share one LinearStats.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pocketllm::calib {

struct LinearStats {
  int64_t cols = 0;
  int64_t n_tokens = 0;
  std::vector<double> xtx;     // [cols][cols], symmetric
  std::vector<float> abs_max;  // [cols]

  explicit LinearStats(int64_t c = 0);
  // Adds n rows x[t * ldx + 0 .. cols).
  void add(const float* x, int64_t ldx, int64_t n);
  // H / n_tokens as floats (mean second moment); empty stats give zeros.
  std::vector<float> hessian() const;
};

// Which shared statistics a tensor's input belongs to ("blk.3.attn_q.weight" -> "blk.3.attn_in"),
// or "" for tensors that calibration does not cover.
std::string stats_key(const std::string& tensor_name);

using CalibStats = std::map<std::string, LinearStats>;

}  // namespace pocketllm::calib
