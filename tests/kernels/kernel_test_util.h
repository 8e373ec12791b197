// Shared helpers for the kernel tests: random data, a reference float matmul,
// and running linear() with a given kernel table.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/linear.h"
#include "kernels/table.h"
#include "quant/quantize.h"

namespace kt {

inline std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// n tokens of cols activations cycling through the cases integer kernels must get
// right: random normal, all zero, one huge value among small ones, all +-1 (every
// int8 code +-127: the largest vpmaddubsw pairs), all +1 (largest block sums).
inline std::vector<float> extreme_tokens(int64_t n, int64_t cols, uint32_t seed) {
  auto x = random_floats(static_cast<size_t>(n * cols), seed);
  std::mt19937 rng(seed);
  for (int64_t t = 0; t < n; ++t) {
    float* xt = &x[t * cols];
    if (t % 5 == 1) std::fill(xt, xt + cols, 0.0f);
    if (t % 5 == 2) xt[rng() % cols] = 1e4f;
    if (t % 5 == 3)
      for (int64_t c = 0; c < cols; ++c) xt[c] = rng() % 2 ? 1.0f : -1.0f;
    if (t % 5 == 4) std::fill(xt, xt + cols, 1.0f);
  }
  return x;
}

// The tables under test: every one this CPU supports, or with POCKETLLM_ISA set,
// ref and that one (the CI runs each ARM table under qemu this way).
inline std::vector<const pocketllm::KernelTable*> tested_kernels() {
  const char* isa = std::getenv("POCKETLLM_ISA");
  if (!isa || !*isa) return pocketllm::available_kernels();
  std::vector<const pocketllm::KernelTable*> out = {pocketllm::find_kernels("ref")};
  if (std::string(isa) != "ref") out.push_back(&pocketllm::select_kernels(isa));
  return out;
}

// Threads a test may start: POCKETLLM_TEST_MAX_THREADS (default 2). .ci/aarch64.sh
// sets 1 because qemu-aarch64 (7.2) on this host hangs creating a thread.
inline int max_test_threads() {
  const char* s = std::getenv("POCKETLLM_TEST_MAX_THREADS");
  return s && std::atoi(s) > 0 ? std::atoi(s) : 2;
}

// y[t][r] of linear() with weights prepared for `k`.
inline std::vector<float> run_linear(const pocketllm::Matrix& base, const pocketllm::KernelTable& k,
                                     const std::vector<float>& x, int64_t n_tokens, int threads = 1,
                                     bool drop_data = false) {
  pocketllm::Matrix m = base;
  m.packed.reset();
  pocketllm::prepare_matrix(m, k);
  if (drop_data && m.packed) m.data = nullptr;
  pocketllm::ThreadPool pool(std::min(threads, max_test_threads()));
  std::vector<float> y(static_cast<size_t>(n_tokens * m.rows), -12345.0f);
  pocketllm::linear(m, x.data(), m.cols, n_tokens, y.data(), m.rows, pool);
  return y;
}

// sum_k |w[r][k]| * |x[t][k]|: the scale of a dot product's rounding error.
inline std::vector<double> abs_sums(const std::vector<float>& w, const std::vector<float>& x, int64_t rows,
                                    int64_t cols, int64_t n_tokens) {
  std::vector<double> s(static_cast<size_t>(rows * n_tokens));
  for (int64_t t = 0; t < n_tokens; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      double acc = 0;
      for (int64_t c = 0; c < cols; ++c) acc += std::fabs(double(w[r * cols + c]) * x[t * cols + c]);
      s[t * rows + r] = acc;
    }
  return s;
}

}  // namespace kt
