// Scalar references of kernels/ggml_int.h: for each row and token, per (super-)
// block an exact int32 sum of weight codes times int8 activations, then
// y += (d_w * d_a) * sum - (dmin_w * d_a) * (min term), blocks in order.
#include <cstring>

#include "core/fp16.h"
#include "kernels/ggml_int.h"
#include "weights/blocks_iq4.h"
#include "weights/blocks_k.h"
#include "weights/blocks_legacy.h"

namespace pocketllm {
namespace {

template <class Block>
Block block_at(const uint8_t* row, int64_t i) {
  Block b;  // rows in a file need not be aligned
  std::memcpy(&b, row + i * sizeof(Block), sizeof(Block));
  return b;
}

// Q4_K and Q5_K: the 5th bit comes from qh when given.
template <class Block, bool kQh>
float dot_q45_k(const uint8_t* row, int64_t nb, const GgmlActs& a, int64_t t) {
  const int8_t* x = a.tok_q(t);
  const float* da = a.tok_d(t);
  const int16_t* s16 = a.tok_sum16(t);
  float acc = 0;
  for (int64_t i = 0; i < nb; ++i, x += kQK_K, s16 += 16) {
    const Block b = block_at<Block>(row, i);
    int32_t sumi = 0, summ = 0;
    for (int j = 0; j < 8; ++j) {
      int sc, m;
      k_scale_min(j, b.scales, sc, m);
      const uint8_t* chunk = b.qs + 32 * (j / 2);
      int32_t s = 0;
      for (int l = 0; l < 32; ++l) {
        int q = j % 2 ? chunk[l] >> 4 : chunk[l] & 0x0F;
        if constexpr (kQh) q |= ((b.qh[l] >> j) & 1) << 4;
        s += q * x[32 * j + l];
      }
      sumi += sc * s;
      summ += m * (s16[2 * j] + s16[2 * j + 1]);
    }
    acc += f16_to_f32(b.d) * da[i] * static_cast<float>(sumi) - f16_to_f32(b.dmin) * da[i] * static_cast<float>(summ);
  }
  return acc;
}

float dot_q6_k(const uint8_t* row, int64_t nb, const GgmlActs& a, int64_t t) {
  const int8_t* x = a.tok_q(t);
  const float* da = a.tok_d(t);
  float acc = 0;
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    const BlockQ6_K b = block_at<BlockQ6_K>(row, i);
    int32_t sumi = 0;
    for (int half = 0; half < 2; ++half)
      for (int k = 0; k < 4; ++k) {
        const uint8_t* ql = b.ql + 64 * half + 32 * (k % 2);
        const uint8_t* qh = b.qh + 32 * half;
        const int first = 128 * half + 32 * k;
        for (int sub = 0; sub < 2; ++sub) {
          int32_t s = 0;
          for (int l = 16 * sub; l < 16 * sub + 16; ++l) {
            const int q = ((ql[l] >> (k < 2 ? 0 : 4)) & 0x0F) | (((qh[l] >> (2 * k)) & 3) << 4);
            s += (q - 32) * x[first + l];
          }
          sumi += b.scales[first / 16 + sub] * s;
        }
      }
    acc += f16_to_f32(b.d) * da[i] * static_cast<float>(sumi);
  }
  return acc;
}

float dot_q5_0(const uint8_t* row, int64_t nb, const GgmlActs& a, int64_t t) {
  const int8_t* x = a.tok_q(t);
  const float* da = a.tok_d(t);
  float acc = 0;
  for (int64_t i = 0; i < nb; ++i, x += kQK_Legacy) {
    const BlockQ5_0 b = block_at<BlockQ5_0>(row, i);
    uint32_t qh;
    std::memcpy(&qh, b.qh, 4);
    int32_t s = 0;
    for (int j = 0; j < 16; ++j) {
      const int q0 = (b.qs[j] & 0x0F) | (((qh >> j) & 1) << 4), q1 = (b.qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
      s += (q0 - 16) * x[j] + (q1 - 16) * x[j + 16];
    }
    acc += f16_to_f32(b.d) * da[i] * static_cast<float>(s);
  }
  return acc;
}

float dot_iq4_xs(const uint8_t* row, int64_t nb, const GgmlActs& a, int64_t t) {
  const int8_t* x = a.tok_q(t);
  const float* da = a.tok_d(t);
  float acc = 0;
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    const BlockIQ4_XS b = block_at<BlockIQ4_XS>(row, i);
    int32_t sumi = 0;
    for (int j = 0; j < 8; ++j) {
      const int ls = ((b.scales_l[j / 2] >> (4 * (j % 2))) & 0x0F) | (((b.scales_h >> (2 * j)) & 3) << 4);
      int32_t s = 0;
      for (int l = 0; l < 16; ++l)
        s += kIQ4Levels[b.qs[16 * j + l] & 0x0F] * x[32 * j + l] + kIQ4Levels[b.qs[16 * j + l] >> 4] * x[32 * j + 16 + l];
      sumi += (ls - 32) * s;
    }
    acc += f16_to_f32(b.d) * da[i] * static_cast<float>(sumi);
  }
  return acc;
}

template <int kBlock, float (*Dot)(const uint8_t*, int64_t, const GgmlActs&, int64_t)>
void rows_times_tokens(const uint8_t* data, size_t row_bytes, int64_t cols, const GgmlActs& a, int64_t r0, int64_t r1,
                       float* y, int64_t ldy) {
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t t = 0; t < a.n_tokens(); ++t) y[t * ldy + r] = Dot(data + r * row_bytes, cols / kBlock, a, t);
}
}  // namespace

void ref_ggml_q4_k(const uint8_t* d, size_t rb, int64_t c, const GgmlActs& a, int64_t r0, int64_t r1, float* y,
                   int64_t ldy) {
  rows_times_tokens<kQK_K, dot_q45_k<BlockQ4_K, false>>(d, rb, c, a, r0, r1, y, ldy);
}
void ref_ggml_q5_k(const uint8_t* d, size_t rb, int64_t c, const GgmlActs& a, int64_t r0, int64_t r1, float* y,
                   int64_t ldy) {
  rows_times_tokens<kQK_K, dot_q45_k<BlockQ5_K, true>>(d, rb, c, a, r0, r1, y, ldy);
}
void ref_ggml_q6_k(const uint8_t* d, size_t rb, int64_t c, const GgmlActs& a, int64_t r0, int64_t r1, float* y,
                   int64_t ldy) {
  rows_times_tokens<kQK_K, dot_q6_k>(d, rb, c, a, r0, r1, y, ldy);
}
void ref_ggml_q5_0(const uint8_t* d, size_t rb, int64_t c, const GgmlActs& a, int64_t r0, int64_t r1, float* y,
                   int64_t ldy) {
  rows_times_tokens<kQK_Legacy, dot_q5_0>(d, rb, c, a, r0, r1, y, ldy);
}
void ref_ggml_iq4_xs(const uint8_t* d, size_t rb, int64_t c, const GgmlActs& a, int64_t r0, int64_t r1, float* y,
                     int64_t ldy) {
  rows_times_tokens<kQK_K, dot_iq4_xs>(d, rb, c, a, r0, r1, y, ldy);
}

}  // namespace pocketllm
