// Orthogonal transforms for rotation-based quantization (QuaRot/SpinQuant style):
// a fast Walsh-Hadamard transform for power-of-two sizes, and for any size
// n = p * m (p the largest power of two dividing n, m odd) the Kronecker product
// T = H_p ⊗ Q_m with Q_m a deterministic orthogonal m x m block (m = 1: plain Hadamard).
// Index i = a * m + b (a < p, b < m). Costs O(n log p + n m) per vector.
//
//   OrthoTransform t = OrthoTransform::make(172, seed);   // p = 4, m = 43
//   t.apply_transposed(x);   // x <- Tᵀ x   (rows of W T: apply to each row of W)
//   t.apply(x);              // x <- T x
#pragma once
#include <cstdint>
#include <vector>

namespace pocketllm {

// In place, normalized (1/sqrt(n)) Walsh-Hadamard transform of x[0..n); n a power of two.
// The normalized transform is symmetric and its own inverse.
void fwht(float* x, int64_t n);

// The odd part m of n (n = 2^k * m).
int64_t odd_factor(int64_t n);

// A deterministic orthogonal m x m matrix (row-major): Gram-Schmidt (twice, in double) of a
// matrix of uniform pseudo-random values (splitmix64 of seed); m = 1 gives [1].
std::vector<float> random_orthogonal(int64_t m, uint64_t seed);

struct OrthoTransform {
  int64_t n = 0, p = 1, m = 1;
  std::vector<float> q;      // [m][m] orthogonal block
  std::vector<float> signs;  // empty, or [n] ±1: T = diag(signs) (H_p ⊗ Q_m)

  // The transform of size n with Q_m = random_orthogonal(m, seed) and, when
  // random_signs, a seeded ±1 diagonal. Throws Error when m > 512 (too costly online).
  static OrthoTransform make(int64_t n, uint64_t seed, bool random_signs);
  // The same from a given m x m block (as stored in a file); no signs.
  static OrthoTransform from_block(int64_t n, std::vector<float> q);

  void apply(float* x) const;             // x <- T x
  void apply_transposed(float* x) const;  // x <- Tᵀ x
  // Tᵀ applied to each of `rows` vectors x + r * ld.
  void apply_transposed_rows(float* x, int64_t rows, int64_t ld) const;
};

}  // namespace pocketllm
