#include "kernels/hadamard.h"

#include <cmath>

#include "core/error.h"
#include "core/splitmix.h"

namespace pocketllm {

namespace {
// Uniform in [-1, 1) from the top 53 bits: exact, the same on every platform.
double uniform(uint64_t& s) { return static_cast<double>(splitmix64(s) >> 11) * 0x1.0p-52 - 1.0; }

// Unnormalized butterflies across the p rows of a [p][m] array (row length m).
void hadamard_rows(float* x, int64_t p, int64_t m) {
  for (int64_t h = 1; h < p; h *= 2)
    for (int64_t i = 0; i < p; i += 2 * h)
      for (int64_t j = i; j < i + h; ++j) {
        float* a = x + j * m;
        float* b = x + (j + h) * m;
        for (int64_t k = 0; k < m; ++k) {
          const float u = a[k], v = b[k];
          a[k] = u + v;
          b[k] = u - v;
        }
      }
  const float scale = 1.0f / std::sqrt(static_cast<float>(p));
  for (int64_t i = 0; i < p * m; ++i) x[i] *= scale;
}

// y = M x (transpose = false) or Mᵀ x for an m x m row-major block, in place via tmp.
void block_multiply(const float* mat, int64_t m, bool transpose, float* x, float* tmp) {
  for (int64_t i = 0; i < m; ++i) {
    double s = 0;
    for (int64_t k = 0; k < m; ++k) s += static_cast<double>(transpose ? mat[k * m + i] : mat[i * m + k]) * x[k];
    tmp[i] = static_cast<float>(s);
  }
  for (int64_t i = 0; i < m; ++i) x[i] = tmp[i];
}
}  // namespace

void fwht(float* x, int64_t n) {
  if (n <= 0 || (n & (n - 1)) != 0) fail("fwht: size {} is not a power of two", n);
  hadamard_rows(x, n, 1);
}

int64_t odd_factor(int64_t n) {
  if (n <= 0) fail("orthogonal transform: size {} is not valid", n);
  while (n % 2 == 0) n /= 2;
  return n;
}

std::vector<float> random_orthogonal(int64_t m, uint64_t seed) {
  if (m <= 0 || m > 4096) fail("random orthogonal block: size {} is not supported", m);
  std::vector<double> a(static_cast<size_t>(m * m));  // column j = a[j * m ..]
  uint64_t s = seed;
  for (auto& v : a) v = uniform(s);
  for (int64_t j = 0; j < m; ++j) {
    double* cj = a.data() + j * m;
    for (int pass = 0; pass < 2; ++pass)  // twice: orthogonal to rounding level
      for (int64_t k = 0; k < j; ++k) {
        const double* ck = a.data() + k * m;
        double d = 0;
        for (int64_t i = 0; i < m; ++i) d += ck[i] * cj[i];
        for (int64_t i = 0; i < m; ++i) cj[i] -= d * ck[i];
      }
    double norm = 0;
    for (int64_t i = 0; i < m; ++i) norm += cj[i] * cj[i];
    norm = std::sqrt(norm);
    if (!(norm > 1e-6)) fail("random orthogonal block: degenerate draw (seed {})", seed);
    for (int64_t i = 0; i < m; ++i) cj[i] /= norm;
  }
  std::vector<float> q(static_cast<size_t>(m * m));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < m; ++j) q[i * m + j] = static_cast<float>(a[j * m + i]);
  return q;
}

OrthoTransform OrthoTransform::make(int64_t n, uint64_t seed, bool random_signs) {
  const int64_t m = odd_factor(n);
  if (m > 512) fail("rotation: size {} has an odd factor {} (> 512); not supported", n, m);
  OrthoTransform t = from_block(n, random_orthogonal(m, seed));
  if (random_signs) {
    uint64_t s = seed ^ 0x5157A7E5ull;
    t.signs.resize(static_cast<size_t>(n));
    for (auto& v : t.signs) v = (splitmix64(s) >> 63) ? -1.0f : 1.0f;
  }
  return t;
}

OrthoTransform OrthoTransform::from_block(int64_t n, std::vector<float> q) {
  OrthoTransform t;
  t.n = n;
  t.m = odd_factor(n);
  t.p = n / t.m;
  if (q.size() != static_cast<size_t>(t.m * t.m))
    fail("rotation: size {} needs a {} x {} orthogonal block, got {} values", n, t.m, t.m, q.size());
  t.q = std::move(q);
  return t;
}

void OrthoTransform::apply(float* x) const {
  if (m > 1) {
    std::vector<float> tmp(static_cast<size_t>(m));
    for (int64_t a = 0; a < p; ++a) block_multiply(q.data(), m, false, x + a * m, tmp.data());
  }
  hadamard_rows(x, p, m);
  if (!signs.empty())
    for (int64_t i = 0; i < n; ++i) x[i] *= signs[i];
}

void OrthoTransform::apply_transposed(float* x) const { apply_transposed_rows(x, 1, n); }

void OrthoTransform::apply_transposed_rows(float* x, int64_t rows, int64_t ld) const {
  std::vector<float> tmp(static_cast<size_t>(m));
  for (int64_t r = 0; r < rows; ++r) {
    float* xr = x + r * ld;
    if (!signs.empty())
      for (int64_t i = 0; i < n; ++i) xr[i] *= signs[i];
    if (m > 1)
      for (int64_t a = 0; a < p; ++a) block_multiply(q.data(), m, true, xr + a * m, tmp.data());
    hadamard_rows(xr, p, m);
  }
}

}  // namespace pocketllm
