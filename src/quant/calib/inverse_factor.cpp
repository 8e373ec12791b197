#include "quant/calib/inverse_factor.h"

#include <algorithm>
#include <cmath>

namespace pocketllm::calib {
namespace {

constexpr int64_t kBlock = 64;

void axpy(double a, const double* x, double* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

// f(i) for every i in [b, e), rows interleaved over the pool's threads (row costs
// shrink along a triangle, so contiguous shares would leave one thread the most).
template <class F>
void rows_parallel(ThreadPool* pool, int64_t b, int64_t e, F&& f) {
  if (!pool || pool->size() == 1 || e - b < 2 * kBlock) {
    for (int64_t i = b; i < e; ++i) f(i);
    return;
  }
  pool->run([&](int ti, int nt) {
    for (int64_t i = b + ti; i < e; i += nt) f(i);
  });
}

// In place: a (symmetric, upper triangle read) becomes A with Aᵀ A = a, A upper.
// Right-looking by blocks of rows: a block is factored, then every later row gets
// the block's updates in one pass.
bool cholesky_upper(std::vector<double>& a, int64_t n, ThreadPool* pool) {
  for (int64_t j0 = 0; j0 < n; j0 += kBlock) {
    const int64_t j1 = std::min(n, j0 + kBlock);
    for (int64_t j = j0; j < j1; ++j) {
      double* rj = a.data() + j * n;
      if (!(rj[j] > 0) || !std::isfinite(rj[j])) return false;
      const double d = std::sqrt(rj[j]);
      rj[j] = d;
      for (int64_t k = j + 1; k < n; ++k) rj[k] /= d;
      for (int64_t i = j + 1; i < j1; ++i) axpy(-rj[i], rj + i, a.data() + i * n + i, n - i);
    }
    rows_parallel(pool, j1, n, [&](int64_t i) {
      double* ri = a.data() + i * n;
      for (int64_t j = j0; j < j1; ++j) axpy(-a[j * n + i], a.data() + j * n + i, ri + i, n - i);
    });
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < i; ++k) a[i * n + k] = 0;
  return true;
}

// x = a⁻¹ for upper-triangular a: row i of x is −(1/a_ii) Σ_{k>i} a_ik x_k (plus 1/a_ii
// on the diagonal), rows from the last up; blocks of rows first take the finished
// rows below them together.
std::vector<double> upper_inverse(const std::vector<double>& a, int64_t n, ThreadPool* pool) {
  std::vector<double> x(static_cast<size_t>(n * n), 0.0);
  for (int64_t i1 = n; i1 > 0; i1 -= kBlock) {
    const int64_t i0 = std::max<int64_t>(0, i1 - kBlock);
    rows_parallel(pool, i0, i1, [&](int64_t i) {
      double* xi = x.data() + i * n;
      for (int64_t k = i1; k < n; ++k) axpy(a[i * n + k], x.data() + k * n + k, xi + k, n - k);
    });
    for (int64_t i = i1 - 1; i >= i0; --i) {
      double* xi = x.data() + i * n;
      for (int64_t k = i + 1; k < i1; ++k) axpy(a[i * n + k], x.data() + k * n + k, xi + k, n - k);
      const double inv = 1.0 / a[i * n + i];
      for (int64_t k = i + 1; k < n; ++k) xi[k] *= -inv;
      xi[i] = inv;
    }
  }
  return x;
}

}  // namespace

bool inverse_hessian_factor(std::vector<double> h, int64_t n, std::vector<double>& u, ThreadPool* pool) {
  // J H J, then its upper factor A (J H J = Aᵀ A).
  std::vector<double> r(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) r[i * n + j] = h[(n - 1 - i) * n + (n - 1 - j)];
  h = {};
  if (!cholesky_upper(r, n, pool)) return false;
  // H = R Rᵀ with R = J Aᵀ J; U = R⁻¹ = J A⁻ᵀ J: u[i][j] = inv(A)[n-1-j][n-1-i].
  const std::vector<double> x = upper_inverse(r, n, pool);
  u.assign(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) u[i * n + j] = x[(n - 1 - j) * n + (n - 1 - i)];
  return true;
}

}  // namespace pocketllm::calib
