#include "quant/calib/output_error.h"

#include <vector>

#include "core/error.h"

namespace pocketllm::calib {

OutputError quantized_output_error(const float* w, const QuantizedTensor& q, ActPrecision act, const float* x,
                                   int64_t n, ThreadPool& pool) {
  OutputError e;
  if (n <= 0) return e;
  const int64_t rows = q.rows, cols = q.cols;
  Matrix ref = make_matrix(DType::F32, rows, cols, w);
  Matrix mq = make_matrix(q.type, rows, cols, q.bytes.data());
  mq.act = act;
  prepare_matrix(mq);
  std::vector<float> y0(static_cast<size_t>(n * rows)), y1(y0.size());
  linear(ref, x, cols, n, y0.data(), rows, pool);
  linear(mq, x, cols, n, y1.data(), rows, pool);
  for (size_t i = 0; i < y0.size(); ++i) {
    const double d = static_cast<double>(y1[i]) - y0[i];
    e.err += d * d;
    e.ref += static_cast<double>(y0[i]) * y0[i];
  }
  return e;
}

}  // namespace pocketllm::calib
