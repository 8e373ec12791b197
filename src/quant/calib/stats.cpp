#include "quant/calib/stats.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace pocketllm::calib {

LinearStats::LinearStats(int64_t c, int64_t max_samples_, bool second_moments_)
    : cols(c), second_moments(second_moments_), max_samples(max_samples_) {
  if (c < 0 || c > 65536) fail("calibration: a linear input of {} columns is not supported", c);
  if (second_moments) xtx.assign(static_cast<size_t>(c * c), 0.0);
  abs_max.assign(static_cast<size_t>(c), 0.0f);
  sum_sq.assign(static_cast<size_t>(c), 0.0);
}

void LinearStats::divide_channels(const std::vector<float>& s) {
  if (s.size() != static_cast<size_t>(cols)) fail("calibration: {} smoothing scales for {} channels", s.size(), cols);
  for (int64_t i = 0; i < cols; ++i) abs_max[i] /= s[i];
  for (int64_t i = 0; i < cols; ++i) sum_sq[i] /= static_cast<double>(s[i]) * s[i];
  for (size_t k = 0; k < samples.size(); ++k) samples[k] /= s[k % static_cast<size_t>(cols)];
  if (!xtx.empty())
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j) xtx[i * cols + j] /= static_cast<double>(s[i]) * s[j];
}

void LinearStats::add(const float* x, int64_t ldx, int64_t n, ThreadPool* pool) {
  for (int64_t t = 0; t < n; ++t) {
    const float* xt = x + t * ldx;
    if (n_samples() < max_samples) samples.insert(samples.end(), xt, xt + cols);
    for (int64_t i = 0; i < cols; ++i) {
      abs_max[i] = std::max(abs_max[i], std::fabs(xt[i]));
      sum_sq[i] += static_cast<double>(xt[i]) * xt[i];
    }
  }
  n_tokens += n;
  if (!second_moments) return;
  // Upper triangle only (hessian() mirrors it). Tokens go in blocks: each row of xtx
  // (cols doubles) takes a whole block of tokens while it is in cache, so the matrix
  // (254 MB for a 5632-wide input) is streamed once per block, not once per token.
  constexpr int64_t kTokens = 64;
  for (int64_t t0 = 0; t0 < n; t0 += kTokens) {
    const int64_t t1 = std::min(n, t0 + kTokens);
    const auto row = [&](int64_t i) {
      double* h = xtx.data() + i * cols;
      for (int64_t t = t0; t < t1; ++t) {
        const float* xt = x + t * ldx;
        const double xi = xt[i];
        if (xi == 0) continue;
        for (int64_t j = i; j < cols; ++j) h[j] += xi * xt[j];
      }
    };
    // Rows of xtx are independent; interleaved over threads (they shorten along the triangle).
    if (pool && pool->size() > 1 && cols >= 256)
      pool->run([&](int ti, int nt) {
        for (int64_t i = ti; i < cols; i += nt) row(i);
      });
    else
      for (int64_t i = 0; i < cols; ++i) row(i);
  }
}

std::vector<float> LinearStats::hessian() const {
  std::vector<float> h(static_cast<size_t>(cols * cols), 0.0f);
  if (n_tokens == 0 || xtx.empty()) return h;
  const double inv = 1.0 / static_cast<double>(n_tokens);
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = i; j < cols; ++j) h[i * cols + j] = h[j * cols + i] = static_cast<float>(xtx[i * cols + j] * inv);
  return h;
}

LinearStats::Outliers LinearStats::outliers(int top_n) const {
  Outliers o;
  if (n_tokens == 0 || cols == 0) return o;
  double total = 0;
  for (double v : sum_sq) total += v;
  o.rms = std::sqrt(total / (static_cast<double>(n_tokens) * static_cast<double>(cols)));
  if (o.rms == 0) return o;
  std::vector<int64_t> order(static_cast<size_t>(cols));
  for (int64_t i = 0; i < cols; ++i) order[i] = i;
  const auto n_top = std::min<int64_t>(std::max(top_n, 1), cols);
  std::partial_sort(order.begin(), order.begin() + n_top, order.end(),
                    [&](int64_t a, int64_t b) { return abs_max[a] > abs_max[b] || (abs_max[a] == abs_max[b] && a < b); });
  o.peak_to_rms = abs_max[order[0]] / o.rms;
  for (int64_t k = 0; k < n_top && k < top_n; ++k) {
    const int64_t i = order[k];
    o.top.push_back({i, abs_max[i] / o.rms, std::sqrt(sum_sq[i] / static_cast<double>(n_tokens)) / o.rms});
  }
  std::vector<double> ratios;
  for (int64_t t = 0; t < n_samples(); ++t) {
    const float* x = samples.data() + t * cols;
    double ss = 0, peak = 0;
    for (int64_t i = 0; i < cols; ++i) {
      ss += static_cast<double>(x[i]) * x[i];
      peak = std::max(peak, static_cast<double>(std::fabs(x[i])));
    }
    if (ss > 0) ratios.push_back(peak / std::sqrt(ss / static_cast<double>(cols)));
  }
  if (!ratios.empty()) {
    std::nth_element(ratios.begin(), ratios.begin() + static_cast<std::ptrdiff_t>(ratios.size() / 2), ratios.end());
    o.token_peak_to_rms_median = ratios[ratios.size() / 2];
  }
  return o;
}

std::string stats_key(const std::string& name) {
  if (!name.starts_with("blk.")) return "";
  const auto dot = name.find('.', 4);
  if (dot == std::string::npos) return "";
  const std::string layer = name.substr(0, dot + 1);
  const std::string rest = name.substr(dot + 1);
  // phi3's fused attn_qkv (and its [gate; up] ffn_up) reads the same input as the split matrices.
  if (rest == "attn_q.weight" || rest == "attn_k.weight" || rest == "attn_v.weight" || rest == "attn_qkv.weight")
    return layer + "attn_in";
  if (rest == "attn_output.weight") return layer + "attn_out_in";
  if (rest == "ffn_gate.weight" || rest == "ffn_up.weight") return layer + "ffn_in";
  if (rest == "ffn_down.weight") return layer + "ffn_down_in";
  return "";
}

}  // namespace pocketllm::calib
