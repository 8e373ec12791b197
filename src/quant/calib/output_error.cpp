#include "quant/calib/output_error.h"

#include <vector>

#include "core/error.h"

namespace pocketllm::calib {

std::vector<float> reference_outputs(const float* w, int64_t rows, int64_t cols, const float* x, int64_t n,
                                     ThreadPool& pool) {
  std::vector<float> y0(static_cast<size_t>(n * rows));
  if (n <= 0) return y0;
  Matrix ref = make_matrix(DType::F32, rows, cols, w);
  linear(ref, x, cols, n, y0.data(), rows, pool);
  return y0;
}

OutputError output_error_against(const std::vector<float>& y0, const QuantizedTensor& q, ActPrecision act,
                                 float act_scale, const float* x, int64_t n, ThreadPool& pool) {
  OutputError e;
  if (n <= 0) return e;
  if (y0.size() != static_cast<size_t>(n * q.rows)) fail("output error: {} reference outputs for {} x {}", y0.size(), n, q.rows);
  Matrix mq = make_matrix(q.type, q.rows, q.cols, q.bytes.data());
  mq.act = act;
  mq.act_scale = act_scale;
  prepare_matrix(mq);
  std::vector<float> y1(y0.size());
  linear(mq, x, q.cols, n, y1.data(), q.rows, pool);
  for (size_t i = 0; i < y0.size(); ++i) {
    const double d = static_cast<double>(y1[i]) - y0[i];
    e.err += d * d;
    e.ref += static_cast<double>(y0[i]) * y0[i];
  }
  return e;
}

OutputError quantized_output_error(const float* w, const QuantizedTensor& q, ActPrecision act, const float* x,
                                   int64_t n, ThreadPool& pool, float act_scale) {
  return output_error_against(reference_outputs(w, q.rows, q.cols, x, n, pool), q, act, act_scale, x, n, pool);
}

}  // namespace pocketllm::calib
