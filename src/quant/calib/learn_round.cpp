#include "quant/calib/learn_round.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <mutex>

#include "core/error.h"

// The product E H is nearly all of the cost (2 · rows · cols² flops per step): one
// portable body, compiled for AVX-512 and AVX2 + FMA too on x86 and picked from the
// CPU's features (not its model name, which a virtual machine may not give).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define POCKETLLM_LEARN_X86 1
#endif

namespace pocketllm::calib {
namespace {

// 16 floats at any float-aligned address (GCC vector extension; lowered to what the target has).
typedef float v16 __attribute__((vector_size(64), aligned(4)));

constexpr float kZeta = 1.1f, kGamma = -0.1f;  // AdaRound's stretch of the sigmoid

// 2: AVX-512, 1: AVX2 + FMA, 0: the portable build.
int cpu_isa() {
#ifdef POCKETLLM_LEARN_X86
  static const int isa = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                                  __builtin_cpu_supports("avx512dq")
                              ? 2
                          : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1
                                                                                            : 0;
  return isa;
#else
  return 0;
#endif
}

// Σ a_i b_i in double, in 8 fixed lanes (vectorizes; the same order on every ISA).
__attribute__((always_inline)) inline double dot_float_double(const float* a, const double* b, int64_t n) {
  typedef double v8d __attribute__((vector_size(64), aligned(8)));
  typedef float v8f __attribute__((vector_size(32), aligned(4)));
  v8d acc = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    acc += __builtin_convertvector(*reinterpret_cast<const v8f*>(a + i), v8d) * *reinterpret_cast<const v8d*>(b + i);
  double s = 0;
  for (int k = 0; k < 8; ++k) s += acc[k];
  for (; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
float rect_h(float v) { return std::clamp(sigmoid(v) * (kZeta - kGamma) + kGamma, 0.0f, 1.0f); }
float v_for_h(float h) {
  const float sg = (h - kGamma) / (kZeta - kGamma);
  return std::log(sg / (1.0f - sg));
}

}  // namespace

std::vector<float> hessian_strips(const float* h, int64_t cols) {
  const int64_t full = cols / kStripCols * kStripCols;
  std::vector<float> p(static_cast<size_t>(full * cols));
  for (int64_t c0 = 0; c0 < full; c0 += kStripCols)
    for (int64_t j = 0; j < cols; ++j)
      std::memcpy(p.data() + c0 * cols + j * kStripCols, h + j * cols + c0, kStripCols * sizeof(float));
  return p;
}

namespace {

__attribute__((always_inline)) inline void product_body(const float* et, int64_t n, const float* h, const float* strips,
                                                         int64_t cols, float* g) {
  constexpr int64_t kCols = kStripCols, kRows = 4, kDepth = 256;  // tile: 4 rows x 64 columns in 16 registers
  const int64_t full = cols / kCols * kCols;
  for (int64_t i = 0; i < n * cols; ++i) g[i] = 0;
  for (int64_t j0 = 0; j0 < cols; j0 += kDepth) {  // a depth slice of H's strip stays in L2 across row tiles
    const int64_t j1 = std::min(cols, j0 + kDepth);
    for (int64_t c0 = 0; c0 < full; c0 += kCols)
      for (int64_t b0 = 0; b0 < n; b0 += kRows) {
        v16 acc[kRows][4];
        for (int64_t r = 0; r < kRows; ++r)
          for (int k = 0; k < 4; ++k) acc[r][k] = *reinterpret_cast<const v16*>(g + (b0 + r) * cols + c0 + 16 * k);
        for (int64_t j = j0; j < j1; ++j) {
          const float* hj = strips + c0 * cols + j * kCols;  // contiguous: no stride of a whole row
          const v16* hv = reinterpret_cast<const v16*>(hj);
          const v16 h0 = hv[0], h1 = hv[1], h2 = hv[2], h3 = hv[3];
          const float* ej = et + j * n + b0;
          for (int64_t r = 0; r < kRows; ++r) {
            const float e = ej[r];
            acc[r][0] += e * h0;
            acc[r][1] += e * h1;
            acc[r][2] += e * h2;
            acc[r][3] += e * h3;
          }
        }
        for (int64_t r = 0; r < kRows; ++r)
          for (int k = 0; k < 4; ++k) *reinterpret_cast<v16*>(g + (b0 + r) * cols + c0 + 16 * k) = acc[r][k];
      }
    for (int64_t b = 0; b < n; ++b)  // the last columns (rows not a multiple of 64)
      for (int64_t j = j0; j < j1; ++j) {
        const float e = et[j * n + b];
        for (int64_t c = full; c < cols; ++c) g[b * cols + c] += e * h[j * cols + c];
      }
  }
}

#ifdef POCKETLLM_LEARN_X86
__attribute__((target("avx512f,avx512vl,fma"))) void product_avx512(const float* et, int64_t n, const float* h,
                                                                    const float* strips, int64_t cols, float* g) {
  product_body(et, n, h, strips, cols, g);
}
__attribute__((target("avx2,fma"))) void product_avx2(const float* et, int64_t n, const float* h, const float* strips,
                                                      int64_t cols, float* g) {
  product_body(et, n, h, strips, cols, g);
}
#endif

}  // namespace

int learn_cpu_isa() { return cpu_isa(); }

void rows_times_hessian(const float* et, int64_t n, const float* h, const float* strips, int64_t cols, float* g,
                        int isa) {
  if (isa < 0) isa = cpu_isa();
  if (isa > cpu_isa()) fail("rows_times_hessian: this CPU cannot run isa {}", isa);
#ifdef POCKETLLM_LEARN_X86
  if (isa == 2) return product_avx512(et, n, h, strips, cols, g);
  if (isa == 1) return product_avx2(et, n, h, strips, cols, g);
#endif
  product_body(et, n, h, strips, cols, g);
}

namespace {

struct Block {
  int64_t n = 0, np = 0, cols = 0;        // rows, rows padded to 4, columns
  std::vector<float> s, lo, w, v0;         // per weight: scale, lower code, weight, start value
  std::vector<uint8_t> free_;              // 1: the weight may move
  std::vector<float> V, m, m2, et, g;      // parameters, Adam moments, E transposed, E H
};

// Rows [r0, r1): learns, then writes back each row whose exact error drops.
// The whole block is one body compiled per ISA (below): its per-weight loops (Adam, the
// moves, the exact check's double sums) then vectorize as widely as the product does.
__attribute__((always_inline)) inline LearnSummary learn_block_body(const float* w, const std::vector<float>& hessian,
                                                                    const std::vector<float>& strips,
                                                                    CalibratedWeights& cw, int qmax,
                                                                    const LearnSettings& st, int64_t r0, int64_t r1) {
  Block b;
  const int64_t cols = cw.cols, n = r1 - r0, np = (n + 3) / 4 * 4;
  const size_t nw = static_cast<size_t>(n * cols);
  b.s.resize(nw), b.lo.resize(nw), b.w.resize(nw), b.v0.resize(nw), b.free_.assign(nw, 0);
  b.V.assign(nw, 0.0f), b.m.assign(nw, 0.0f), b.m2.assign(nw, 0.0f);
  b.et.assign(static_cast<size_t>(np * cols), 0.0f), b.g.assign(static_cast<size_t>(np * cols), 0.0f);
  const float v_lo = v_for_h(st.start_margin), v_hi = v_for_h(1.0f - st.start_margin);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < cols; ++c) {
      const size_t k = static_cast<size_t>(i * cols + c);
      const float s = cw.scales[(r0 + i) * cw.groups_per_row + c / cw.group];
      const float wv = w[(r0 + i) * cols + c], v = cw.values[(r0 + i) * cols + c];
      b.s[k] = s, b.w[k] = wv, b.v0[k] = v;
      if (!(s > 0)) continue;
      const float q0 = std::nearbyint(v / s), t = wv / s;
      // The other code: one step toward w/s (or the only step the range allows).
      const bool up = (t >= q0 && q0 + 1 <= qmax) || q0 - 1 < -qmax;
      if (up ? q0 + 1 > qmax : q0 - 1 < -qmax) continue;
      b.lo[k] = up ? q0 : q0 - 1;
      b.V[k] = up ? v_lo : v_hi;  // h starts near the current code's side
      b.free_[k] = 1;
    }
  // The row errors at the start: the hard codes through one product.
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < cols; ++c) b.et[c * np + i] = b.v0[i * cols + c] - b.w[i * cols + c];
  rows_times_hessian(b.et.data(), np, hessian.data(), strips.data(), cols, b.g.data());
  std::vector<double> f0(static_cast<size_t>(n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < cols; ++c) f0[i] += static_cast<double>(b.et[c * np + i]) * b.g[i * cols + c];
  std::vector<float> row_scale(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) row_scale[i] = f0[i] > 0 ? static_cast<float>(2.0 * cols / f0[i]) : 0.0f;

  constexpr float kB1 = 0.9f, kB2 = 0.999f, kEps = 1e-8f;
  const int warm = st.iters / 5;
  float b1t = 1, b2t = 1;
  for (int it = 0; it < st.iters; ++it) {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < cols; ++c) {
        const size_t k = static_cast<size_t>(i * cols + c);
        const float v = b.free_[k] ? b.s[k] * (b.lo[k] + rect_h(b.V[k])) : b.v0[k];
        b.et[c * np + i] = v - b.w[k];
      }
    rows_times_hessian(b.et.data(), np, hessian.data(), strips.data(), cols, b.g.data());
    const bool reg = it >= warm;
    const float beta = reg ? 20.0f - 18.0f * static_cast<float>(it - warm) / static_cast<float>(std::max(1, st.iters - warm)) : 0;
    b1t *= kB1, b2t *= kB2;
    const float step = st.lr / (1.0f - b1t);
    for (int64_t i = 0; i < n; ++i) {
      if (row_scale[i] == 0) continue;
      for (int64_t c = 0; c < cols; ++c) {
        const size_t k = static_cast<size_t>(i * cols + c);
        if (!b.free_[k]) continue;
        const float sg = sigmoid(b.V[k]), raw = sg * (kZeta - kGamma) + kGamma;
        if (raw <= 0 || raw >= 1) continue;  // clipped: no gradient (Adam state kept)
        float gh = row_scale[i] * b.s[k] * b.g[i * cols + c];
        if (reg) {
          const float u = 2 * raw - 1, au = std::fabs(u);
          gh += st.lambda * -2.0f * beta * std::pow(au, beta - 1) * (u < 0 ? -1.0f : 1.0f);
        }
        const float gv = gh * (kZeta - kGamma) * sg * (1 - sg);
        b.m[k] = kB1 * b.m[k] + (1 - kB1) * gv;
        b.m2[k] = kB2 * b.m2[k] + (1 - kB2) * gv * gv;
        b.V[k] -= step * b.m[k] / (std::sqrt(b.m2[k] / (1 - b2t)) + kEps);
      }
    }
  }

  // Hard codes: the side h chose; then greedy single-code moves between the two sides,
  // each taken only if it lowers the (float) error: the exact check below has the last word.
  // H e comes from one product (none without Adam steps: the start's is still in g) and
  // follows each move by one column of H, so a sweep costs rows · cols plus the moves.
  if (st.polish_sweeps > 0 && st.iters > 0) {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < cols; ++c) {
        const size_t k = static_cast<size_t>(i * cols + c);
        const float v = b.free_[k] ? b.s[k] * (b.lo[k] + (b.V[k] >= 0 ? 1.0f : 0.0f)) : b.v0[k];
        b.et[c * np + i] = v - b.w[k];
      }
    rows_times_hessian(b.et.data(), np, hessian.data(), strips.data(), cols, b.g.data());
  }
  // Columns outside, rows inside: the block's rows share each read of H's row c (a wide H
  // does not fit in cache); each row still decides its codes in column order, as alone.
  for (int sweep = 0; sweep < st.polish_sweeps; ++sweep)
    for (int64_t c = 0; c < cols; ++c) {
      const float* hc = hessian.data() + c * cols;
      for (int64_t i = 0; i < n; ++i) {
        const size_t k = static_cast<size_t>(i * cols + c);
        if (!b.free_[k]) continue;
        float* gi = b.g.data() + i * cols;
        const bool up = b.V[k] >= 0;
        const float d = up ? -b.s[k] : b.s[k];
        const float delta = d * d * hc[c] + 2 * d * gi[c];
        if (!(delta < 0)) continue;
        b.V[k] = up ? -1.0f : 1.0f;
        for (int64_t j = 0; j < cols; ++j) gi[j] += d * hc[j];
      }
    }

  // Keep a row only if its exact error drops:
  // with d = v_new − v_old (nonzero on the moved weights only) and e = v_old − w,
  // f_new − f_old = 2 dᵀ H e + dᵀ H d, in double from the stored H (again a column of H
  // serves every row of the block; each row's terms are summed in column order).
  LearnSummary out;
  std::vector<std::vector<int64_t>> moved(static_cast<size_t>(n));
  std::vector<double> dd(nw, 0.0), e_old(nw), delta(static_cast<size_t>(n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < cols; ++c) {
      const size_t k = static_cast<size_t>(i * cols + c);
      e_old[k] = static_cast<double>(b.v0[k]) - b.w[k];
      if (!b.free_[k]) continue;
      const float vn = b.s[k] * (b.lo[k] + (b.V[k] >= 0 ? 1.0f : 0.0f));
      if (vn != b.v0[k]) moved[i].push_back(c), dd[k] = static_cast<double>(vn) - b.v0[k];
    }
  for (int64_t c = 0; c < cols; ++c) {
    const float* hr = hessian.data() + c * cols;
    for (int64_t i = 0; i < n; ++i) {
      const double dc = dd[i * cols + c];
      if (dc == 0) continue;
      const double he = dot_float_double(hr, e_old.data() + i * cols, cols);
      double hd = 0;
      for (int64_t q : moved[i]) hd += static_cast<double>(hr[q]) * dd[i * cols + q];
      delta[i] += dc * (2 * he + hd);
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    out.before += f0[i];
    if (moved[i].empty() || !(delta[i] < 0)) {
      out.after += f0[i];
      continue;
    }
    out.after += f0[i] + delta[i];
    ++out.rows_changed;
    out.codes_changed += static_cast<int64_t>(moved[i].size());
    for (int64_t c : moved[i]) {
      cw.values[(r0 + i) * cols + c] = b.s[i * cols + c] * (b.lo[i * cols + c] + (b.V[i * cols + c] >= 0 ? 1.0f : 0.0f));
    }
  }
  return out;
}

#ifdef POCKETLLM_LEARN_X86
__attribute__((target("avx512f,avx512vl,avx512dq,fma"))) LearnSummary learn_block_avx512(
    const float* w, const std::vector<float>& hessian, const std::vector<float>& strips, CalibratedWeights& cw, int qmax,
    const LearnSettings& st, int64_t r0, int64_t r1) {
  return learn_block_body(w, hessian, strips, cw, qmax, st, r0, r1);
}
__attribute__((target("avx2,fma"))) LearnSummary learn_block_avx2(const float* w, const std::vector<float>& hessian,
                                                                   const std::vector<float>& strips,
                                                                   CalibratedWeights& cw, int qmax,
                                                                   const LearnSettings& st, int64_t r0, int64_t r1) {
  return learn_block_body(w, hessian, strips, cw, qmax, st, r0, r1);
}
#endif

LearnSummary learn_block(const float* w, const std::vector<float>& hessian, const std::vector<float>& strips,
                         CalibratedWeights& cw, int qmax, const LearnSettings& st, int64_t r0, int64_t r1) {
#ifdef POCKETLLM_LEARN_X86
  if (cpu_isa() == 2) return learn_block_avx512(w, hessian, strips, cw, qmax, st, r0, r1);
  if (cpu_isa() == 1) return learn_block_avx2(w, hessian, strips, cw, qmax, st, r0, r1);
#endif
  return learn_block_body(w, hessian, strips, cw, qmax, st, r0, r1);
}

}  // namespace

LearnSummary learn_rounding(const float* w, const std::vector<float>& hessian, CalibratedWeights& cw, int qmax,
                            const LearnSettings& st, ThreadPool* pool,
                            const std::function<void(int64_t, int64_t)>& progress) {
  if (hessian.size() != static_cast<size_t>(cw.cols * cw.cols)) fail("learned rounding: Hessian does not match {} columns", cw.cols);
  if (st.iters < 0) fail("learned rounding: {} iterations", st.iters);
  LearnSummary total;
  if ((st.iters == 0 && st.polish_sweeps == 0) || cw.rows == 0) return total;
  // 64 rows share each pass over H: a wide input's H (127 MB at 5632) comes from memory, not cache.
  constexpr int64_t kRowBlock = 64;
  const int64_t n_blocks = (cw.rows + kRowBlock - 1) / kRowBlock;
  std::vector<LearnSummary> parts(static_cast<size_t>(n_blocks));
  const std::vector<float> strips = hessian_strips(hessian.data(), cw.cols);
  std::atomic<int64_t> next{0}, done{0};
  std::mutex progress_mutex;
  const auto work = [&](int, int) {
    for (int64_t bi; (bi = next.fetch_add(1)) < n_blocks;) {
      const int64_t r0 = bi * kRowBlock, r1 = std::min(cw.rows, r0 + kRowBlock);
      parts[bi] = learn_block(w, hessian, strips, cw, qmax, st, r0, r1);
      const int64_t d = done.fetch_add(r1 - r0) + (r1 - r0);
      if (progress) {
        std::lock_guard<std::mutex> lock(progress_mutex);
        progress(d, cw.rows);
      }
    }
  };
  if (progress) progress(0, cw.rows);
  if (pool && pool->size() > 1 && n_blocks > 1) pool->run(work);
  else work(0, 1);
  for (auto& p : parts) {  // in block order: the same sums for any thread count
    total.before += p.before, total.after += p.after;
    total.rows_changed += p.rows_changed, total.codes_changed += p.codes_changed;
  }
  return total;
}

}  // namespace pocketllm::calib
