// The attention helpers of every kernel table (f16 rounding, weighted row sums)
// against the scalar reference, on odd sizes, zeros and extremes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "core/fp16.h"
#include "kernel_test_util.h"
#include "kernels/ref/ref_kernels.h"

using namespace pocketllm;

TEST(AttentionKernels, RoundF16MatchesSoftwareConversion) {
  std::vector<float> x = kt::random_floats(1031, 7, 3.0f);
  // Edge cases: zeros, ties, subnormal halves, overflow to inf, the largest half.
  const float edge[] = {0.0f, -0.0f, 1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048, 6.0e-8f, 3.0e-8f, 2.9e-8f, -1e-6f,
                        65504.0f, 65519.0f, 65520.0f, 1e6f, -1e6f, std::numeric_limits<float>::infinity(), 1e-30f};
  x.insert(x.begin(), std::begin(edge), std::end(edge));
  for (const KernelTable* k : kt::tested_kernels())
    for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{8}, int64_t{17}, static_cast<int64_t>(x.size())}) {
      std::vector<float> got(x.begin(), x.begin() + n);
      k->round_f16(got.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        const float want = f16_to_f32(f32_to_f16(x[i]));
        ASSERT_EQ(std::memcmp(&got[i], &want, 4), 0) << k->name << " x=" << x[i] << " got " << got[i] << " want " << want;
      }
    }
}

TEST(AttentionKernels, AxpyRowsMatchesRef) {
  for (int64_t n : {1, 5, 8, 31, 32, 64, 80, 128, 257})
    for (int64_t n_rows : {0, 1, 3, 100})
      for (int64_t pad : {0, 3}) {  // rows packed (ld = n) or strided (transposed keys: ld = capacity)
      const int64_t ld = n + pad;
      const auto a = kt::random_floats(static_cast<size_t>(n_rows), 11);
      auto rows = kt::random_floats(static_cast<size_t>(n_rows * ld), 12, 10.0f);
      if (n_rows > 1) rows[ld] = 0.0f;  // a zero among the values
      std::vector<float> want(static_cast<size_t>(n), -1.0f);
      ref_axpy_rows(a.data(), rows.data(), n_rows, n, ld, want.data());
      for (const KernelTable* k : kt::tested_kernels()) {
        std::vector<float> got(static_cast<size_t>(n) + 1, 123.0f);  // the guard element must survive
        k->axpy_rows(a.data(), rows.data(), n_rows, n, ld, got.data());
        ASSERT_EQ(got[n], 123.0f) << k->name << " wrote past n=" << n;
        for (int64_t i = 0; i < n; ++i) {
          double mag = 0;
          for (int64_t j = 0; j < n_rows; ++j) mag += std::fabs(double(a[j]) * rows[j * ld + i]);
          ASSERT_NEAR(got[i], want[i], 1e-6 * mag + 1e-30) << k->name << " n=" << n << " rows=" << n_rows << " i=" << i;
        }
      }
    }
}

// m vectors at once must equal m single axpy_rows calls of the same table, bit for
// bit (attention's results must not depend on how heads are grouped), on packed
// and strided rows, odd sizes and m past the register block.
TEST(AttentionKernels, AxpyRowsMultiEqualsSingleCalls) {
  for (int64_t m : {1, 2, 3, 4, 5, 8})
    for (int64_t n : {1, 17, 64, 65, 200})
      for (int64_t n_rows : {0, 1, 7, 64}) {
        const int64_t lda = n_rows + 2, ld = n + 3, ldo = n + 1;
        const auto a = kt::random_floats(static_cast<size_t>(m * lda), 31);
        const auto rows = kt::random_floats(static_cast<size_t>(std::max<int64_t>(n_rows, 1) * ld), 32, 10.0f);
        for (const KernelTable* k : kt::tested_kernels()) {
          std::vector<float> want(static_cast<size_t>(m * ldo), 7.0f), got = want;
          for (int64_t i = 0; i < m; ++i) k->axpy_rows(a.data() + i * lda, rows.data(), n_rows, n, ld, want.data() + i * ldo);
          axpy_rows_multi(*k, a.data(), lda, m, rows.data(), n_rows, n, ld, got.data(), ldo);
          ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * 4), 0)
              << k->name << " m=" << m << " n=" << n << " rows=" << n_rows;
        }
      }
}

TEST(AttentionKernels, SoftmaxMatchesRef) {
  for (int64_t n : {1, 2, 15, 16, 17, 100, 513})
    for (float spread : {0.1f, 10.0f, 200.0f}) {  // 200: most weights underflow to 0
      auto x = kt::random_floats(static_cast<size_t>(n), 21, spread);
      if (n > 3) x[2] = x[3] = -1e30f;  // scores far below the rest
      std::vector<float> want = x;
      ref_softmax(want.data(), n);
      for (const KernelTable* k : kt::tested_kernels()) {
        std::vector<float> got = x;
        got.push_back(55.0f);  // guard
        k->softmax(got.data(), n);
        ASSERT_EQ(got[n], 55.0f) << k->name << " wrote past n=" << n;
        double sum = 0;
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_NEAR(got[i], want[i], 5e-7 * want[i] + 1e-12) << k->name << " n=" << n << " spread " << spread << " i=" << i;
          sum += got[i];
        }
        EXPECT_NEAR(sum, 1.0, 1e-5) << k->name;
      }
    }
}
