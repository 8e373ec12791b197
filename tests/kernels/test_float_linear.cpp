// Float weights (F32/F16/BF16) through every table's dot product against the ref.
#include <gtest/gtest.h>

#include "core/fp16.h"
#include "kernel_test_util.h"

using namespace pocketllm;

TEST(FloatLinear, EveryIsaMatchesRef) {
  for (DType type : {DType::F32, DType::F16, DType::BF16})
    for (int64_t cols : {1, 7, 33, 172, 1000}) {
      const int64_t rows = 13, nt = 3;
      const auto wf = kt::random_floats(rows * cols, 51);
      std::vector<uint8_t> bytes;
      std::vector<float> wd(wf.size());
      for (size_t i = 0; i < wf.size(); ++i) {
        uint16_t h = type == DType::F16 ? f32_to_f16(wf[i]) : f32_to_bf16(wf[i]);
        if (type == DType::F32) {
          const auto* p = reinterpret_cast<const uint8_t*>(&wf[i]);
          bytes.insert(bytes.end(), p, p + 4);
          wd[i] = wf[i];
        } else {
          bytes.push_back(static_cast<uint8_t>(h));
          bytes.push_back(static_cast<uint8_t>(h >> 8));
          wd[i] = type == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
        }
      }
      const auto x = kt::random_floats(nt * cols, 52);
      const Matrix m = make_matrix(type, rows, cols, bytes.data());
      const auto mag = kt::abs_sums(wd, x, rows, cols, nt);
      const auto ref = kt::run_linear(m, *find_kernels("ref"), x, nt);
      for (int64_t t = 0; t < nt; ++t)
        for (int64_t r = 0; r < rows; ++r) {
          double exact = 0;
          for (int64_t c = 0; c < cols; ++c) exact += double(wd[r * cols + c]) * x[t * cols + c];
          ASSERT_NEAR(ref[t * rows + r], exact, 1e-6 * mag[t * rows + r] + 1e-7);
        }
      for (const KernelTable* k : kt::tested_kernels()) {
        const auto y = kt::run_linear(m, *k, x, nt);
        for (size_t i = 0; i < y.size(); ++i)
          ASSERT_NEAR(y[i], ref[i], 1e-6 * mag[i] + 1e-7) << k->name << " " << dtype_name(type) << " cols " << cols;
      }
    }
}
