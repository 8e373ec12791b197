// Calibration statistics of one linear input: the second-moment matrix
// H = sum_t x_t x_tᵀ (the GPTQ Hessian, up to a factor 2) and per-channel max |x|.
// Linears that read the same input (q/k/v, gate/up) share one LinearStats.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/thread_pool.h"

namespace pocketllm::calib {

struct LinearStats {
  int64_t cols = 0;
  int64_t n_tokens = 0;
  std::vector<double> xtx;     // [cols][cols], symmetric
  std::vector<float> abs_max;  // [cols]
  std::vector<double> sum_sq;  // [cols]: sum_t x_t[i]², for the outlier report (rms per channel)
  bool second_moments = true;  // false: only abs_max and samples (cheaper)
  int64_t max_samples = 0;     // keep the first max_samples input rows (smoothing search, error report)
  std::vector<float> samples;  // [n_samples][cols]

  explicit LinearStats(int64_t c = 0, int64_t max_samples = 0, bool second_moments = true);
  // Adds n rows x[t * ldx + 0 .. cols); pool (optional) shares the x xᵀ update, same result.
  void add(const float* x, int64_t ldx, int64_t n, ThreadPool* pool = nullptr);
  int64_t n_samples() const { return cols > 0 ? static_cast<int64_t>(samples.size()) / cols : 0; }
  // The statistics of x diag(1 / s): what the input becomes when a smoothing scale s moves into the weights.
  void divide_channels(const std::vector<float>& s);
  // H / n_tokens as floats (mean second moment); empty stats give zeros.
  std::vector<float> hessian() const;

  // How far single channels stand out, which is what a per-token int8 range suffers
  // from (its step is the token's max |x| / 127). rms: over all entries; peak_to_rms:
  // max_i abs_max[i] / rms; top: the top_n channels by abs_max[i] / rms, with their own
  // rms / rms; token_peak_to_rms_median: median over the kept samples of max_i |x_t,i| / rms(x_t).
  struct Outliers {
    double rms = 0, peak_to_rms = 0, token_peak_to_rms_median = 0;
    struct Channel {
      int64_t index;
      double peak_to_rms, rms_ratio;
    };
    std::vector<Channel> top;
  };
  Outliers outliers(int top_n) const;
};

// Which shared statistics a tensor's input belongs to ("blk.3.attn_q.weight" -> "blk.3.attn_in"),
// or "" for tensors that calibration does not cover.
std::string stats_key(const std::string& tensor_name);

using CalibStats = std::map<std::string, LinearStats>;

}  // namespace pocketllm::calib
