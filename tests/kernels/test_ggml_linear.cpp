// Every GGML type pocketllm reads through the float path: linear() and
// matrix_row() on stored rows equal the dequantized matrix multiplied in
// double, on every kernel table (weights stay where they are: no packing).
// Float activations are asked for: types with integer kernels take the float
// path then (their int8 path is tested in test_ggml_int.cpp).
#include <gtest/gtest.h>

#include <cmath>

#include "kernel_test_util.h"
#include "weights/row_codec.h"

using namespace pocketllm;

TEST(GgmlLinear, EveryCodecTypeOnEveryTable) {
  constexpr int64_t rows = 19, cols = 512, tokens = 5;
  const std::vector<float> w = kt::random_floats(rows * cols, 3), x = kt::random_floats(tokens * cols, 4);
  ThreadPool pool(kt::max_test_threads());
  for (DType t : {DType::BF16, DType::F16, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q2_K, DType::Q3_K, DType::Q4_K,
                  DType::Q5_K, DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS}) {
    SCOPED_TRACE(dtype_name(t));
    const size_t rb = *dtype_row_bytes(t, cols);
    std::vector<uint8_t> stored(rb * rows);
    std::vector<float> wd(rows * cols);
    for (int64_t r = 0; r < rows; ++r) {
      ggml_row_from_f32(t, &w[r * cols], &stored[r * rb], cols);
      ggml_row_to_f32(t, &stored[r * rb], &wd[r * cols], cols);
    }
    EXPECT_TRUE(can_multiply(t));
    for (const KernelTable* k : kt::tested_kernels()) {
      SCOPED_TRACE(k->name);
      Matrix m = make_matrix(t, rows, cols, stored.data());
      m.act = ActPrecision::Float;  // the float path even where an integer kernel exists (test_ggml_int.cpp)
      prepare_matrix(m, *k);
      EXPECT_EQ(m.packed_bytes, 0u);  // read in place
      std::vector<float> y(tokens * rows);
      linear(m, x.data(), cols, tokens, y.data(), rows, pool);
      for (int64_t i = 0; i < tokens; ++i)
        for (int64_t r = 0; r < rows; ++r) {
          double want = 0;
          for (int64_t c = 0; c < cols; ++c) want += static_cast<double>(wd[r * cols + c]) * x[i * cols + c];
          ASSERT_NEAR(y[i * rows + r], want, 1e-4 * (1 + std::fabs(want))) << "token " << i << " row " << r;
        }
      std::vector<float> row(cols);
      matrix_row(m, 7, row.data());
      for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(row[c], wd[7 * cols + c]);
    }
  }
  EXPECT_FALSE(can_multiply(DType::IQ2_XS));
}
