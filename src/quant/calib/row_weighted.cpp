#include "quant/calib/row_weighted.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "quant/calib/clip.h"

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


// One row's weighted objective f(v) = Σ_t a_t (x_t·(w − v))² + λ (w − v)ᵀ H (w − v), kept as
// z_t = x_t·(w − v) and He = H (w − v): a code move or a scale step changes both by one
// column of xT / H (or one group's), so each trial costs n + cols, not n · cols.
struct RowState {
  int64_t n, cols;
  const float* xt;      // [cols][n]
  const float* a;       // [n]
  const std::vector<float>& h;
  double lambda;
  std::vector<double> z, he;
  double value(const float* w, const float* v) const {
    double f = 0;
    for (int64_t t = 0; t < n; ++t) f += a[t] * z[t] * z[t];
    double q = 0;
    for (int64_t c = 0; c < cols; ++c) q += (static_cast<double>(w[c]) - v[c]) * he[c];
    return f + lambda * q;
  }
  void reset(const float* w, const float* v) {
    z.assign(static_cast<size_t>(n), 0.0);
    he.assign(static_cast<size_t>(cols), 0.0);
    for (int64_t c = 0; c < cols; ++c) {
      const double e = static_cast<double>(w[c]) - v[c];
      if (e == 0) continue;
      const float* xc = xt + c * n;
      for (int64_t t = 0; t < n; ++t) z[t] += e * xc[t];
      const float* hc = h.data() + c * cols;  // column c of the symmetric H, read as its row
      for (int64_t i = 0; i < cols; ++i) he[i] += e * hc[i];
    }
  }
  std::vector<double> diag;  // Σ_t a_t x_tc² + λ H_cc: the curvature of a move in column c
  void set_diag() {
    diag.assign(static_cast<size_t>(cols), 0.0);
    for (int64_t c = 0; c < cols; ++c) {
      const float* xc = xt + c * n;
      double dd = 0;
      for (int64_t t = 0; t < n; ++t) dd += a[t] * static_cast<double>(xc[t]) * xc[t];
      diag[c] = dd + lambda * h[c * cols + c];
    }
  }
  // The slope in column c: f(v + d e_c) − f(v) = −2 d slope(c) + d² diag[c] (the error moves by −d).
  double slope(int64_t c) const {
    const float* xc = xt + c * n;
    double g = 0;
    for (int64_t t = 0; t < n; ++t) g += a[t] * z[t] * xc[t];
    return g + lambda * he[c];
  }
  void apply_move(int64_t c, double d) {
    const float* xc = xt + c * n;
    for (int64_t t = 0; t < n; ++t) z[t] -= d * xc[t];
    const float* hc = h.data() + c * cols;
    for (int64_t i = 0; i < cols; ++i) he[i] -= d * hc[i];
  }
};

// Greedy code moves and group scale refits of one row against its weighted objective
// (scalable form of the per-row methods: no cols² matrix per row). Never raises f: every
// step is taken only when its exact change is negative, and the row falls back to its
// starting codes if the recomputed objective is not lower.
void learn_row_weighted(const float* w, float* v, float* scales, int64_t cols, int64_t group, int qmax,
                        RowState& st, int sweeps) {
  st.reset(w, v);
  st.set_diag();
  const double f0 = st.value(w, v);
  const std::vector<float> v0(v, v + cols), s0(scales, scales + (cols + group - 1) / group);
  const int64_t groups = (cols + group - 1) / group;
  std::vector<double> p(static_cast<size_t>(st.n));
  for (int sweep = 0; sweep < sweeps; ++sweep) {
    int64_t moved = 0;
    for (int64_t c = 0; c < cols; ++c) {
      const float s = scales[c / group];
      if (s <= 0) continue;
      const long q = std::lrint(v[c] / s);
      const double g = st.slope(c);
      for (int dir : {-1, 1}) {
        const long q2 = q + dir;
        if (q2 < -qmax || q2 > qmax) continue;
        const double d = static_cast<double>(q2 * s) - v[c];
        if (-2 * d * g + d * d * st.diag[c] < 0) {
          st.apply_move(c, d);
          v[c] = static_cast<float>(q2) * s;
          ++moved;
          break;
        }
      }
    }
    // Each group's scale to the minimizer of f along v_g = s q_g (f16-exact, positive).
    for (int64_t gi = 0; gi < groups; ++gi) {
      const int64_t c0 = gi * group, c1 = std::min(cols, c0 + group);
      const float s = scales[gi];
      if (s <= 0) continue;
      std::fill(p.begin(), p.end(), 0.0);
      double qhq = 0, qhe = 0;
      for (int64_t c = c0; c < c1; ++c) {
        const double q = std::lrint(v[c] / s);
        if (q == 0) continue;
        const float* xc = st.xt + c * st.n;
        for (int64_t t = 0; t < st.n; ++t) p[t] += q * xc[t];
        qhe += q * st.he[c];
        for (int64_t k = c0; k < c1; ++k) qhq += q * st.h[c * cols + k] * std::lrint(v[k] / s);
      }
      double b = 0, cc = 0;  // f(s + u) − f(s) = −2u b + u² cc (the error moves by −u p)
      for (int64_t t = 0; t < st.n; ++t) b += st.a[t] * st.z[t] * p[t], cc += st.a[t] * p[t] * p[t];
      b += st.lambda * qhe, cc += st.lambda * qhq;
      if (cc <= 0) continue;
      const float s_new = round_scale_f16(static_cast<float>(s + b / cc));
      const double u = static_cast<double>(s_new) - s;
      if (!(s_new > 0) || u == 0 || -2 * u * b + u * u * cc >= 0) continue;
      for (int64_t c = c0; c < c1; ++c) {
        const double q = std::lrint(v[c] / s);
        if (q == 0) continue;
        st.apply_move(c, q * u);
        v[c] = static_cast<float>(q) * s_new;
      }
      scales[gi] = s_new;
    }
    if (moved == 0 && sweep > 0) break;
  }
  st.reset(w, v);  // exact, from scratch: drift in z and He cannot sneak a worse row in
  if (!(st.value(w, v) < f0)) {
    std::copy(v0.begin(), v0.end(), v);
    std::copy(s0.begin(), s0.end(), scales);
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

CalibratedWeights quantize_calibrated_rows_greedy(const float* w, int64_t rows, int64_t cols, int bits, int64_t group,
                                                  const std::vector<float>& hessian, const RowWeighting& rw,
                                                  float shared_fraction, const CalibMethod& method, ThreadPool* pool) {
  if (static_cast<int64_t>(rw.weight.size()) != rows * rw.n) fail("internal error: row weighting of the wrong size");
  CalibratedWeights cw = quantize_calibrated(w, rows, cols, bits, group, hessian, method, pool);
  const int qmax = bits == 4 ? 7 : bits == 5 ? 15 : 127;
  std::vector<float> xt(static_cast<size_t>(cols * rw.n));  // the samples column by column
  for (int64_t t = 0; t < rw.n; ++t)
    for (int64_t c = 0; c < cols; ++c) xt[c * rw.n + t] = rw.samples[t * cols + c];
  auto run = [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      RowState st{rw.n, cols, xt.data(), rw.weight.data() + r * rw.n, hessian, shared_fraction, {}, {}, {}};
      learn_row_weighted(w + r * cols, cw.values.data() + r * cols, cw.scales.data() + r * cw.groups_per_row, cols,
                         cw.group, qmax, st, std::max(2, method.learn_sweeps));
    }
  };
  if (pool) pool->parallel_for(rows, run);
  else run(0, rows);
  return cw;
}

CalibratedWeights quantize_calibrated_for(const std::string& tensor, const float* w, int64_t rows, int64_t cols, int bits,
                                          int64_t group, const std::vector<float>& hessian, const CalibMethod& method,
                                          ThreadPool* pool) {
  if (const RowWeighting* rw = method.row_weighting ? method.row_weighting(tensor) : nullptr; rw && !hessian.empty())
    return quantize_calibrated_rows_greedy(w, rows, cols, bits, group, hessian, *rw, method.row_shared, method, pool);
  return quantize_calibrated(w, rows, cols, bits, group, hessian, method, pool);
}

}  // namespace pocketllm::calib
