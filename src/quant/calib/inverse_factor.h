// The factor GPTQ walks along: the upper-triangular U with Uᵀ U = H⁻¹ (the
// Cholesky factor of the inverse Hessian), computed without forming H⁻¹:
// with J the reversal permutation, J H J = Aᵀ A (A upper), so H = R Rᵀ with
// R = J Aᵀ J upper triangular, and U = R⁻¹. Both steps are blocked so the
// trailing matrix is streamed once per block of rows, not once per row (for
// FFN inputs of 5632 columns H alone is 254 MB), and spread over threads.
#pragma once
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"

namespace pocketllm::calib {

// h: [n][n] symmetric positive definite (consumed). Returns false when it is not
// positive definite. u: [n][n], upper triangle set, lower triangle zero.
bool inverse_hessian_factor(std::vector<double> h, int64_t n, std::vector<double>& u, ThreadPool* pool = nullptr);

}  // namespace pocketllm::calib
