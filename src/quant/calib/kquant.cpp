#include "quant/calib/kquant.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "core/error.h"
#include "core/fp16.h"
#include "weights/block_pack.h"
#include "weights/blocks_k.h"

namespace pocketllm::calib {
namespace {

constexpr int kSub = 32, kSubs = 8, kCodeMax = 63;  // 8 sub-blocks of 32, 6-bit scale and min codes

// One super-block's grid: value = dl[j] * q - ml[j] for sub-block j, as the dequantizer computes it.
struct Grid {
  uint16_t d16 = 0, dmin16 = 0;
  int sc[kSubs] = {}, m[kSubs] = {};
  float dl[kSubs] = {}, ml[kSubs] = {};
};

int code(float x, float dl, float ml, int qmax) {
  if (dl <= 0) return 0;
  return static_cast<int>(std::clamp(std::nearbyint((x + ml) / dl), 0.0f, static_cast<float>(qmax)));
}

// Σ imp (x - (s q - m))² with codes rounded against (s, m).
double sub_error(const float* x, const float* imp, float s, float m, int qmax) {
  double e = 0;
  for (int i = 0; i < kSub; ++i) {
    const double d = x[i] - (s * static_cast<float>(code(x[i], s, m, qmax)) - m);
    e += imp[i] * d * d;
  }
  return e;
}

// A sub-block's real-valued scale and min (value = s q - m, s >= 0, m >= 0: the
// types store no positive offset). search: clipped ranges, each refitted by
// weighted least squares to its codes; otherwise [min(x, 0), max x].
std::pair<float, float> choose_sub(const float* x, const float* imp, int qmax, bool search) {
  float lo = std::min(0.0f, *std::min_element(x, x + kSub)), hi = *std::max_element(x, x + kSub);
  for (int i = 0; i < kSub; ++i)
    if (!std::isfinite(x[i])) fail("K-quant: weight {} is not finite", x[i]);
  const float range = hi - lo;
  if (range <= 0) return {0.0f, -lo};
  std::pair<float, float> best{range / static_cast<float>(qmax), -lo};
  if (!search) return best;
  double best_err = sub_error(x, imp, best.first, best.second, qmax);
  constexpr int kSteps = 6;  // each end clipped by 0 .. 15% of the range
  for (int a = 0; a <= kSteps; ++a)
    for (int b = 0; b <= kSteps; ++b) {
      const float l = std::min(0.0f, lo + 0.025f * static_cast<float>(a) * range);
      const float h = hi - 0.025f * static_cast<float>(b) * range;
      if (h <= l) continue;
      float s = (h - l) / static_cast<float>(qmax), m = -l;
      // Least squares for (s, m) given the codes: [Σwq² −Σwq; −Σwq Σw] [s m]ᵀ = [Σwqx −Σwx]ᵀ.
      double sw = 0, swq = 0, swqq = 0, swx = 0, swqx = 0;
      for (int i = 0; i < kSub; ++i) {
        const double q = code(x[i], s, m, qmax), wi = imp[i];
        sw += wi, swq += wi * q, swqq += wi * q * q, swx += wi * x[i], swqx += wi * q * x[i];
      }
      const double det = swqq * sw - swq * swq;
      if (det > 0) {
        const double s2 = (swqx * sw - swq * swx) / det, m2 = (swq * swqx - swqq * swx) / det;
        if (s2 > 0 && m2 >= 0) s = static_cast<float>(s2), m = static_cast<float>(m2);
      }
      const double err = sub_error(x, imp, s, m, qmax);
      if (err < best_err) best_err = err, best = {s, m};
    }
  return best;
}

void set_codes(Grid& g, int j, int sc, int m) {
  g.sc[j] = sc, g.m[j] = m;
  g.dl[j] = f16_to_f32(g.d16) * static_cast<float>(sc);
  g.ml[j] = f16_to_f32(g.dmin16) * static_cast<float>(m);
}

// The super-block's grid for weights x[256]: sub-block scales and mins, then their
// 6-bit codes against d = max scale / 63 and dmin = max min / 63 (f16).
Grid choose_grid(const float* x, const float* imp, int qmax, bool search) {
  std::array<std::pair<float, float>, kSubs> sm;
  float smax = 0, mmax = 0;
  for (int j = 0; j < kSubs; ++j) {
    sm[j] = choose_sub(x + j * kSub, imp + j * kSub, qmax, search);
    smax = std::max(smax, sm[j].first), mmax = std::max(mmax, sm[j].second);
  }
  Grid g;
  g.d16 = f32_to_f16(smax / kCodeMax);
  g.dmin16 = f32_to_f16(mmax / kCodeMax);
  const float d = f16_to_f32(g.d16), dmin = f16_to_f32(g.dmin16);
  if (!std::isfinite(d) || !std::isfinite(dmin)) fail("K-quant: a scale is past f16's range");
  for (int j = 0; j < kSubs; ++j) {
    const int sc = d > 0 ? std::clamp(static_cast<int>(std::nearbyint(sm[j].first / d)), 0, kCodeMax) : 0;
    const int m = dmin > 0 ? std::clamp(static_cast<int>(std::nearbyint(sm[j].second / dmin)), 0, kCodeMax) : 0;
    set_codes(g, j, sc, m);
    if (!search) continue;
    // Rounding the scale and min to 6 bits moves the grid: the neighbouring codes may fit better.
    double best = sub_error(x + j * kSub, imp + j * kSub, g.dl[j], g.ml[j], qmax);
    int bsc = sc, bm = m;
    for (int a = std::max(0, sc - 1); a <= std::min(kCodeMax, sc + 1); ++a)
      for (int b = std::max(0, m - 1); b <= std::min(kCodeMax, m + 1); ++b) {
        set_codes(g, j, a, b);
        const double e = sub_error(x + j * kSub, imp + j * kSub, g.dl[j], g.ml[j], qmax);
        if (e < best) best = e, bsc = a, bm = b;
      }
    set_codes(g, j, bsc, bm);
  }
  return g;
}

// --refit: with the codes fixed, each super-block's d and dmin (the value is linear in
// them: d·(sc q) − dmin·m) move to the minimizer of the row's H-weighted error
// (w − v)ᵀH(w − v), one super-block at a time (two passes), rounded to f16; a move is
// kept only if the exactly recomputed error drops, so the error never rises.
void refit_row(const float* w, const float* h, int64_t cols, std::vector<Grid>& grids, const int* q, float* v) {
  std::vector<double> e(static_cast<size_t>(cols)), he(static_cast<size_t>(cols), 0.0);
  for (int64_t c = 0; c < cols; ++c) e[c] = static_cast<double>(w[c]) - v[c];
  for (int64_t j = 0; j < cols; ++j)
    if (e[j] != 0)
      for (int64_t c = 0; c < cols; ++c) he[c] += e[j] * h[j * cols + c];
  double a[kQK_K], b[kQK_K], de[kQK_K];
  float nv[kQK_K];
  for (int pass = 0; pass < 2; ++pass)
    for (size_t sb = 0; sb < grids.size(); ++sb) {
      Grid& g = grids[sb];
      const int64_t c0 = static_cast<int64_t>(sb) * kQK_K;
      for (int i = 0; i < kQK_K; ++i) a[i] = static_cast<double>(g.sc[i / kSub]) * q[c0 + i], b[i] = g.m[i / kSub];
      double aha = 0, ahb = 0, bhb = 0, ahe = 0, bhe = 0;
      for (int i = 0; i < kQK_K; ++i) {
        const float* hi = h + (c0 + i) * cols + c0;
        double ha = 0, hb = 0;
        for (int k = 0; k < kQK_K; ++k) ha += hi[k] * a[k], hb += hi[k] * b[k];
        aha += a[i] * ha, ahb += a[i] * hb, bhb += b[i] * hb;
        ahe += a[i] * he[c0 + i], bhe += b[i] * he[c0 + i];
      }
      // e' = e − δd·A + δm·B: minimize over (δd, δm).
      const double det = aha * bhb - ahb * ahb;
      if (!(det > 0)) continue;
      const double dd = (ahe * bhb - bhe * ahb) / det, dm = (ahe * ahb - bhe * aha) / det;
      Grid n = g;
      n.d16 = f32_to_f16(static_cast<float>(f16_to_f32(g.d16) + dd));
      n.dmin16 = f32_to_f16(static_cast<float>(f16_to_f32(g.dmin16) + dm));
      if (!std::isfinite(f16_to_f32(n.d16)) || !std::isfinite(f16_to_f32(n.dmin16))) continue;
      for (int j = 0; j < kSubs; ++j) set_codes(n, j, g.sc[j], g.m[j]);
      for (int i = 0; i < kQK_K; ++i) {
        nv[i] = n.dl[i / kSub] * static_cast<float>(q[c0 + i]) - n.ml[i / kSub];
        de[i] = static_cast<double>(v[c0 + i]) - nv[i];  // the change of e = w - v
      }
      double gain = 0;  // Δeᵀ H Δe + 2 Δeᵀ H e, exactly for the stored values
      for (int i = 0; i < kQK_K; ++i) {
        const float* hi = h + (c0 + i) * cols + c0;
        double hd = 0;
        for (int k = 0; k < kQK_K; ++k) hd += hi[k] * de[k];
        gain += de[i] * hd + 2 * de[i] * he[c0 + i];
      }
      if (!(gain < 0)) continue;
      g = n;
      for (int i = 0; i < kQK_K; ++i) {
        v[c0 + i] = nv[i];
        if (de[i] == 0) continue;
        const float* hi = h + (c0 + i) * cols;
        for (int64_t c = 0; c < cols; ++c) he[c] += de[i] * hi[c];
      }
    }
}

}  // namespace

KQuantWeights quantize_kquant_calibrated(DType t, const float* w, int64_t rows, int64_t cols,
                                         const std::vector<float>& hessian, const CalibMethod& method,
                                         ThreadPool* pool) {
  if (t != DType::Q4_K && t != DType::Q5_K) fail("calibrated K-quants: {} is not Q4_K or Q5_K", dtype_name(t));
  if (rows < 0 || cols <= 0 || cols % kQK_K != 0)
    fail("{} needs rows of whole {}-weight super-blocks, not {}", dtype_name(t), kQK_K, cols);
  const bool have_h = !hessian.empty();
  if (have_h && hessian.size() != static_cast<size_t>(cols * cols)) fail("calibration Hessian does not match {} columns", cols);
  if (method.gptq && !have_h) fail("GPTQ needs calibration statistics (--calib FILE)");
  if (method.refit && !have_h) fail("scale refitting needs calibration statistics (--calib FILE)");
  const int qmax = t == DType::Q4_K ? 15 : 31;
  const size_t block_bytes = t == DType::Q4_K ? sizeof(BlockQ4_K) : sizeof(BlockQ5_K);
  const int64_t n_super = cols / kQK_K;
  std::vector<float> imp(static_cast<size_t>(cols), 1.0f);
  if (have_h && method.clip)
    for (int64_t i = 0; i < cols; ++i) imp[i] = std::max(hessian[i * cols + i], 0.0f);

  KQuantWeights out;
  out.type = t;
  out.values.assign(static_cast<size_t>(rows * cols), 0.0f);
  out.bytes.assign(static_cast<size_t>(rows * n_super) * block_bytes, 0);
  std::vector<float> work(w, w + rows * cols);  // GPTQ updates the not-yet-quantized columns
  std::vector<double> u;
  if (method.gptq) {
    std::vector<int64_t> order(static_cast<size_t>(cols));
    for (int64_t i = 0; i < cols; ++i) order[i] = i;
    u = gptq_factor(hessian, cols, order, method.damp, work.data(), rows, pool);
  }
  // Rows are independent; within a row, each super-block's grid is chosen when it
  // starts (from the error-compensated weights with GPTQ); refitted, then packed.
  const auto run_rows = [&](int64_t r0, int64_t r1) {
    std::vector<int> q(static_cast<size_t>(cols));
    std::vector<Grid> grids(static_cast<size_t>(n_super));
    for (int64_t r = r0; r < r1; ++r) {
      float* wr = work.data() + r * cols;
      for (int64_t b = 0; b < n_super; ++b) {
        const int64_t c0 = b * kQK_K;
        const Grid& g = grids[b] = choose_grid(wr + c0, imp.data() + c0, qmax, method.clip);
        for (int64_t k = c0; k < c0 + kQK_K; ++k) {
          const int j = static_cast<int>((k - c0) / kSub);
          const int qi = code(wr[k], g.dl[j], g.ml[j], qmax);
          const float v = g.dl[j] * static_cast<float>(qi) - g.ml[j];
          q[k] = qi;
          out.values[r * cols + k] = v;
          if (!method.gptq) continue;
          const double* uk = u.data() + k * cols;
          const double err = (static_cast<double>(wr[k]) - v) / uk[k];
          for (int64_t c = k + 1; c < cols; ++c) wr[c] -= static_cast<float>(err * uk[c]);
        }
      }
      if (method.refit) refit_row(w + r * cols, hessian.data(), cols, grids, q.data(), out.values.data() + r * cols);
      for (int64_t b = 0; b < n_super; ++b) {
        const Grid& g = grids[b];
        pack_q45_k_block(qmax == 31, g.d16, g.dmin16, g.sc, g.m, q.data() + b * kQK_K,
                         out.bytes.data() + static_cast<size_t>(r * n_super + b) * block_bytes);
      }
    }
  };
  if (pool && pool->size() > 1 && rows > 1)
    pool->parallel_for(rows, run_rows);
  else
    run_rows(0, rows);
  return out;
}

}  // namespace pocketllm::calib
