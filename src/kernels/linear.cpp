#include "kernels/linear.h"

#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"

namespace pocketllm {

namespace {
bool is_float_type(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

// Eight independent partial sums let the compiler vectorize without -ffast-math.
float dot_f32(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] += a[i + k] * b[i + k];
  float s = 0;
  for (; i < n; ++i) s += a[i] * b[i];
  return s + ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

void linear_float(const Matrix& w, const float* x, int64_t ldx, int64_t n_tokens, float* y, int64_t ldy,
                  ThreadPool& pool) {
  pool.parallel_for(w.rows, [&](int64_t r0, int64_t r1) {
    thread_local std::vector<float> row;
    row.resize(static_cast<size_t>(w.cols));
    for (int64_t r = r0; r < r1; ++r) {
      const float* wr;
      if (w.type == DType::F32) {
        wr = reinterpret_cast<const float*>(w.data + r * w.row_bytes);
      } else {
        row_to_f32(w.type, w.data + r * w.row_bytes, row.data(), w.cols);
        wr = row.data();
      }
      for (int64_t t = 0; t < n_tokens; ++t) y[t * ldy + r] = dot_f32(wr, x + t * ldx, w.cols);
    }
  });
}
}  // namespace

void row_to_f32(DType type, const uint8_t* src, float* dst, int64_t n) {
  switch (type) {
    case DType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      return;
    case DType::F16: {
      const auto* h = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(h[i]);
      return;
    }
    case DType::BF16: {
      const auto* h = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(h[i]);
      return;
    }
    default:
      fail("row_to_f32: {} is not a float type", dtype_name(type));
  }
}

Matrix make_matrix(DType type, int64_t rows, int64_t cols, const void* data) {
  auto rb = dtype_row_bytes(type, static_cast<uint64_t>(cols));
  if (!rb) fail("a row of {} elements cannot be stored as {}", cols, dtype_name(type));
  Matrix m;
  m.type = type;
  m.rows = rows;
  m.cols = cols;
  m.data = static_cast<const uint8_t*>(data);
  m.row_bytes = *rb;
  return m;
}

void prepare_matrix(Matrix&) {}

void linear(const Matrix& w, const float* x, int64_t ldx, int64_t n_tokens, float* y, int64_t ldy, ThreadPool& pool) {
  if (is_float_type(w.type)) return linear_float(w, x, ldx, n_tokens, y, ldy, pool);
  fail("no kernel for weights of type {}", dtype_name(w.type));
}

void matrix_row(const Matrix& w, int64_t r, float* out) {
  if (is_float_type(w.type)) return row_to_f32(w.type, w.data + r * w.row_bytes, out, w.cols);
  fail("no row reader for weights of type {}", dtype_name(w.type));
}

}  // namespace pocketllm
