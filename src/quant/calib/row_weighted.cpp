#include "quant/calib/row_weighted.h"

#include <cmath>

#include "core/error.h"

namespace pocketllm::calib {
namespace {

float act_value(GateAct a, float g) {
  if (a == GateAct::Silu) return g / (1.0f + std::exp(-g));
  const float c = 0.7978845608f, k = 0.044715f;  // GELU, tanh form
  return 0.5f * g * (1.0f + std::tanh(c * (g + k * g * g * g)));
}

float act_slope(GateAct a, float g) {
  if (a == GateAct::Silu) {
    const float s = 1.0f / (1.0f + std::exp(-g));
    return s * (1.0f + g * (1.0f - s));
  }
  const float c = 0.7978845608f, k = 0.044715f;
  const float th = std::tanh(c * (g + k * g * g * g));
  return 0.5f * (1.0f + th) + 0.5f * g * (1.0f - th * th) * c * (1.0f + 3.0f * k * g * g);
}

void normalize_rows(std::vector<float>& w, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0;
    for (int64_t t = 0; t < n; ++t) s += w[r * n + t];
    const float inv = s > 0 ? static_cast<float>(1.0 / s) : 0.0f;
    for (int64_t t = 0; t < n; ++t) w[r * n + t] = s > 0 ? w[r * n + t] * inv : 1.0f / static_cast<float>(n);
  }
}

}  // namespace

void ffn_row_weightings(const float* gate, const float* up, int64_t hidden, int64_t cols, const float* x, int64_t n,
                        GateAct act, RowWeighting& gate_w, RowWeighting& up_w, ThreadPool* pool) {
  gate_w = RowWeighting{x, n, std::vector<float>(static_cast<size_t>(hidden * n))};
  up_w = RowWeighting{x, n, std::vector<float>(static_cast<size_t>(hidden * n))};
  auto rows = [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t t = 0; t < n; ++t) {
        double g = 0, u = 0;
        for (int64_t c = 0; c < cols; ++c) {
          g += static_cast<double>(gate[r * cols + c]) * x[t * cols + c];
          u += static_cast<double>(up[r * cols + c]) * x[t * cols + c];
        }
        const float a_up = act_value(act, static_cast<float>(g));
        const float a_gate = act_slope(act, static_cast<float>(g)) * static_cast<float>(u);
        up_w.weight[r * n + t] = a_up * a_up;
        gate_w.weight[r * n + t] = a_gate * a_gate;
      }
  };
  if (pool) pool->parallel_for(hidden, rows);
  else rows(0, hidden);
  normalize_rows(gate_w.weight, hidden, n);
  normalize_rows(up_w.weight, hidden, n);
}

CalibratedWeights quantize_calibrated_rows(const float* w, int64_t rows, int64_t cols, int bits, int64_t group,
                                           const std::vector<float>& hessian, const RowWeighting& rw,
                                           float shared_fraction, const CalibMethod& method, ThreadPool* pool) {
  if (static_cast<int64_t>(rw.weight.size()) != rows * rw.n) fail("internal error: row weighting of the wrong size");
  if (static_cast<int64_t>(hessian.size()) != cols * cols) fail("internal error: the rows need the shared Hessian");
  CalibratedWeights out;
  out.rows = rows, out.cols = cols;
  out.values.resize(static_cast<size_t>(rows * cols));
  CalibMethod m = method;
  m.learn_progress = nullptr;
  std::vector<CalibratedWeights> per(static_cast<size_t>(rows));
  auto run = [&](int64_t r0, int64_t r1) {
    std::vector<float> h(static_cast<size_t>(cols * cols));
    std::vector<double> acc(static_cast<size_t>(cols * cols));
    for (int64_t r = r0; r < r1; ++r) {
      std::fill(acc.begin(), acc.end(), 0.0);
      const float* a = rw.weight.data() + r * rw.n;
      for (int64_t t = 0; t < rw.n; ++t) {
        if (a[t] == 0) continue;
        const float* x = rw.samples + t * cols;
        for (int64_t i = 0; i < cols; ++i) {
          const double ai = static_cast<double>(a[t]) * x[i];
          double* row = acc.data() + i * cols;
          for (int64_t j = 0; j <= i; ++j) row[j] += ai * x[j];
        }
      }
      for (int64_t i = 0; i < cols; ++i)
        for (int64_t j = 0; j <= i; ++j) {
          const float v = static_cast<float>(acc[i * cols + j]) + shared_fraction * hessian[i * cols + j];
          h[i * cols + j] = h[j * cols + i] = v;
        }
      per[static_cast<size_t>(r)] = quantize_calibrated(w + r * cols, 1, cols, bits, group, h, m, nullptr);
    }
  };
  if (pool) pool->parallel_for(rows, run);
  else run(0, rows);
  for (int64_t r = 0; r < rows; ++r) {
    const CalibratedWeights& p = per[static_cast<size_t>(r)];
    out.group = p.group, out.groups_per_row = p.groups_per_row;
    std::copy(p.values.begin(), p.values.end(), out.values.begin() + r * cols);
    out.scales.insert(out.scales.end(), p.scales.begin(), p.scales.end());
    out.learned.before += p.learned.before, out.learned.after += p.learned.after;
    out.learned.rows_changed += p.learned.rows_changed, out.learned.codes_changed += p.learned.codes_changed;
  }
  return out;
}

CalibratedWeights quantize_calibrated_for(const std::string& tensor, const float* w, int64_t rows, int64_t cols, int bits,
                                          int64_t group, const std::vector<float>& hessian, const CalibMethod& method,
                                          ThreadPool* pool) {
  if (const RowWeighting* rw = method.row_weighting ? method.row_weighting(tensor) : nullptr; rw && !hessian.empty())
    return quantize_calibrated_rows(w, rows, cols, bits, group, hessian, *rw, method.row_shared, method, pool);
  return quantize_calibrated(w, rows, cols, bits, group, hessian, method, pool);
}

}  // namespace pocketllm::calib
