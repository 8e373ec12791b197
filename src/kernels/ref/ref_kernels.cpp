#include "kernels/ref/ref_kernels.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/fp16.h"
#include "kernels/pack.h"

namespace pocketllm {

float ref_dot_f32(const float* a, const float* b, int64_t n) {
  // Eight independent partial sums let the compiler vectorize without -ffast-math.
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] += a[i + k] * b[i + k];
  float s = 0;
  for (; i < n; ++i) s += a[i] * b[i];
  return s + ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

void ref_f16_to_f32_row(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(src[i]);
}

void ref_round_f16(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = f16_to_f32(f32_to_f16(x[i]));
}

void ref_softmax(float* x, int64_t n) {
  float mx = x[0];
  for (int64_t i = 1; i < n; ++i) mx = std::max(mx, x[i]);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void ref_quantize_act_row(const float* x, int64_t cols, int64_t group, int64_t n_groups, float static_d, int8_t* q,
                          float* d, int32_t* sum) {
  for (int64_t gi = 0; gi < n_groups; ++gi) {
    const int64_t c0 = gi * group, c1 = std::min(cols, c0 + group);
    float dg = static_d;
    if (dg == 0) {
      float lane_max[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // max is exact: any order gives the same result
      int64_t c = c0;
      for (; c + 8 <= c1; c += 8)
        for (int k = 0; k < 8; ++k) lane_max[k] = std::max(lane_max[k], std::fabs(x[c + k]));
      float amax = 0;
      for (; c < c1; ++c) amax = std::max(amax, std::fabs(x[c]));
      for (float m : lane_max) amax = std::max(amax, m);  // std::max(m, NaN) keeps m: NaN never sets the scale
      dg = amax / 127.0f;
    }
    const float inv = dg > 0 ? 1.0f / dg : 0.0f;
    int32_t s = 0;
    for (int64_t c = c0; c < c1; ++c) s += q[c] = quantize_act_value(x[c] * inv);
    for (int64_t c = std::max(c0, c1); c < c0 + group; ++c) q[c] = 0;
    d[gi] = dg;
    sum[gi] = s;
  }
}

void ref_silu_mul(float* a, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) a[i] = a[i] / (1.0f + std::exp(-a[i])) * b[i];
}

void ref_axpy_rows(const float* a, const float* rows, int64_t n_rows, int64_t n, int64_t ld, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = 0.0f;
  for (int64_t j = 0; j < n_rows; ++j)
    for (int64_t i = 0; i < n; ++i) out[i] += a[j] * rows[j * ld + i];
}

namespace {
void ref_row_times_acts(const int8_t* q, const float* scales, const QuantActs& a, int64_t r, float* y, int64_t ldy) {
  for (int64_t tok = 0; tok < a.n_tokens; ++tok) {
    const int8_t* x = a.q.data() + tok * a.kp;
    float acc = 0;
    for (int64_t g = 0; g < a.n_groups; ++g) {
      int32_t isum = 0;
      for (int64_t k = g * a.group; k < (g + 1) * a.group; ++k) isum += int32_t{q[k]} * int32_t{x[k]};
      acc += static_cast<float>(isum) * (scales[g] * a.d[tok * a.n_groups + g]);
    }
    y[tok * ldy + r] = acc;
  }
}
}  // namespace

void ref_linear_int(DType t, const uint8_t* data, size_t row_bytes, int64_t cols, const QuantActs& a, int64_t r0,
                    int64_t r1, float* y, int64_t ldy) {
  std::vector<int8_t> q(static_cast<size_t>(a.kp));
  std::vector<float> scales(static_cast<size_t>(a.n_groups));
  for (int64_t r = r0; r < r1; ++r) {
    unpack_int_row(t, data + r * row_bytes, cols, q.data(), scales.data());
    ref_row_times_acts(q.data(), scales.data(), a, r, y, ldy);
  }
}

void ref_linear_packed(const PackedInt& w, const QuantActs& a, int64_t r0, int64_t r1, float* y, int64_t ldy) {
  std::vector<int8_t> q(static_cast<size_t>(a.kp));
  std::vector<float> scales(static_cast<size_t>(a.n_groups));
  for (int64_t r = r0; r < r1; ++r) {
    packed_row_ints(w, r, q.data(), scales.data());
    ref_row_times_acts(q.data(), scales.data(), a, r, y, ldy);
  }
}

void quantize_kv_q8(const float* x, int64_t n, int8_t* q, float* d) {
  for (int64_t b0 = 0, b = 0; b0 < n; b0 += kKvQ8Block, ++b) {
    const int64_t e = std::min(n, b0 + kKvQ8Block);
    float amax = 0.0f;
    for (int64_t i = b0; i < e; ++i) amax = std::max(amax, std::fabs(x[i]));  // max ignores a NaN x
    const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
    d[b] = amax / 127.0f;
    for (int64_t i = b0; i < e; ++i) q[i] = quantize_act_value(x[i] * id);
  }
}

void dequantize_kv_q8(const int8_t* q, const float* d, int64_t n, float* x) {
  for (int64_t i = 0; i < n; ++i) x[i] = d[i / kKvQ8Block] * static_cast<float>(q[i]);
}

// Per key and head: exact int32 dot products per block, then the scaled blocks in order.
void ref_kv_q8_scores(const int8_t* q, const float* qd, int64_t m, int64_t hd, const int8_t* k, const float* kd,
                      size_t stride, int64_t n, float* out, int64_t ldo) {
  const int64_t nb = (hd + kKvQ8Block - 1) / kKvQ8Block;
  for (int64_t j = 0; j < n; ++j) {
    const int8_t* kj = k + j * stride;
    const float* dj = reinterpret_cast<const float*>(reinterpret_cast<const uint8_t*>(kd) + j * stride);
    for (int64_t i = 0; i < m; ++i) {
      float acc = 0.0f;
      for (int64_t b = 0; b < nb; ++b) {
        int32_t s = 0;
        for (int64_t d = b * kKvQ8Block; d < std::min(hd, (b + 1) * kKvQ8Block); ++d)
          s += int32_t{q[i * hd + d]} * int32_t{kj[d]};
        acc += qd[i * nb + b] * dj[b] * static_cast<float>(s);
      }
      out[i * ldo + j] = acc;
    }
  }
}

void ref_kv_q8_wsum(const float* w, int64_t ldw, int64_t m, const int8_t* v, const float* vd, size_t stride, int64_t n,
                    int64_t hd, float* out, int64_t ldo) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t d = 0; d < hd; ++d) out[i * ldo + d] = 0.0f;
  for (int64_t j = 0; j < n; ++j) {
    const int8_t* vj = v + j * stride;
    const float* dj = reinterpret_cast<const float*>(reinterpret_cast<const uint8_t*>(vd) + j * stride);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t d = 0; d < hd; ++d) out[i * ldo + d] += w[i * ldw + j] * dj[d / kKvQ8Block] * static_cast<float>(vj[d]);
  }
}

const KernelTable kRefKernels = {
    .name = "ref",
    .gemm_w4 = nullptr,
    .gemm_w8 = nullptr,
    .dot_f32 = ref_dot_f32,
    .f16_to_f32_row = ref_f16_to_f32_row,
    .round_f16 = ref_round_f16,
    .axpy_rows = ref_axpy_rows,
    .reads_wsum128 = false,
    .softmax = ref_softmax,
    .quantize_act_row = ref_quantize_act_row,
    .silu_mul = ref_silu_mul,
    .axpy_rows_multi = nullptr,  // callers loop axpy_rows (axpy_rows_multi() in table.h)
    .ggml = kRefGgmlInt,
    .kv_q8_scores = ref_kv_q8_scores,
    .kv_q8_wsum = ref_kv_q8_wsum,
};

}  // namespace pocketllm
