// K-quant rows to f32 (weights/blocks_k.h), in ggml's order of operations so
// the results are bit-exact: a sub-block scale is d * sc (and d_min * m) in
// f32, then each weight is scale * q (- min).
#include "core/fp16.h"
#include "weights/blocks_k.h"
#include "weights/codecs_internal.h"

namespace pocketllm::codecs {

// Q2_K / Q3_K's 2-bit codes: each half of 128 weights is 32 bytes; bit pair k
// (shift 2k) of byte l is weight 128 * half + 32 * k + l.
void dequantize_q2_k(const uint8_t* row, float* out, int64_t n) {
  each_block<BlockQ2_K, kQK_K>(row, out, n, [](const BlockQ2_K& blk, float* y) {
    const float d = f16_to_f32(blk.d), dmin = f16_to_f32(blk.dmin);
    for (int half = 0; half < 2; ++half)
      for (int k = 0; k < 4; ++k)
        for (int sub = 0; sub < 2; ++sub) {  // two sub-blocks of 16 per bit pair
          const int first = 128 * half + 32 * k + 16 * sub;
          const uint8_t sc = blk.scales[first / 16];
          const float dl = d * static_cast<float>(sc & 0x0F), ml = dmin * static_cast<float>(sc >> 4);
          const uint8_t* q = blk.qs + 32 * half + 16 * sub;
          for (int l = 0; l < 16; ++l) y[first + l] = dl * static_cast<float>((q[l] >> (2 * k)) & 3) - ml;
        }
  });
}

void dequantize_q3_k(const uint8_t* row, float* out, int64_t n) {
  each_block<BlockQ3_K, kQK_K>(row, out, n, [](const BlockQ3_K& blk, float* y) {
    const float d = f16_to_f32(blk.d);
    float dl[16];
    for (int i = 0; i < 16; ++i) dl[i] = d * static_cast<float>(q3_k_scale(i, blk.scales) - 32);
    for (int half = 0; half < 2; ++half)
      for (int k = 0; k < 4; ++k) {
        const int first = 128 * half + 32 * k, hbit = 4 * half + k;  // hmask bit of these 32 weights
        for (int l = 0; l < 32; ++l) {
          const int low = (blk.qs[32 * half + l] >> (2 * k)) & 3;
          const int offset = (blk.hmask[l] >> hbit) & 1 ? 0 : 4;  // set: q = low, clear: q = low - 4
          y[first + l] = dl[(first + l) / 16] * static_cast<float>(low - offset);
        }
      }
  });
}

namespace {
// Q4_K and Q5_K: 4 chunks of 64 weights, each two sub-blocks of 32 (low nibbles
// then high nibbles of the chunk's 32 bytes); qh (Q5_K) adds bit (sub-block) of qh[l].
void dequantize_q45_k(uint16_t d16, uint16_t dmin16, const uint8_t* scales, const uint8_t* qs, const uint8_t* qh,
                      float* out) {
  const float d = f16_to_f32(d16), dmin = f16_to_f32(dmin16);
  for (int sub = 0; sub < 8; ++sub) {
    int sc, m;
    k_scale_min(sub, scales, sc, m);
    const float dl = d * static_cast<float>(sc), ml = dmin * static_cast<float>(m);
    const uint8_t* chunk = qs + 32 * (sub / 2);
    for (int l = 0; l < 32; ++l) {
      int q = sub % 2 ? chunk[l] >> 4 : chunk[l] & 0x0F;
      if (qh) q |= ((qh[l] >> sub) & 1) << 4;
      out[32 * sub + l] = dl * static_cast<float>(q) - ml;
    }
  }
}
}  // namespace

void dequantize_q4_k(const uint8_t* row, float* out, int64_t n) {
  each_block<BlockQ4_K, kQK_K>(row, out, n, [](const BlockQ4_K& blk, float* y) {
    dequantize_q45_k(blk.d, blk.dmin, blk.scales, blk.qs, nullptr, y);
  });
}

void dequantize_q5_k(const uint8_t* row, float* out, int64_t n) {
  each_block<BlockQ5_K, kQK_K>(row, out, n, [](const BlockQ5_K& blk, float* y) {
    dequantize_q45_k(blk.d, blk.dmin, blk.scales, blk.qs, blk.qh, y);
  });
}

void dequantize_q6_k(const uint8_t* row, float* out, int64_t n) {
  each_block<BlockQ6_K, kQK_K>(row, out, n, [](const BlockQ6_K& blk, float* y) {
    const float d = f16_to_f32(blk.d);
    // Within a half of 128: quarter k = weights 32 k + l; ql byte l (k = 0, 2) or
    // l + 32 (k = 1, 3), low nibble for k < 2; qh byte l, bits 2k..2k+1.
    for (int half = 0; half < 2; ++half)
      for (int k = 0; k < 4; ++k) {
        const uint8_t* ql = blk.ql + 64 * half + 32 * (k % 2);
        const uint8_t* qh = blk.qh + 32 * half;
        const int lo_shift = k < 2 ? 0 : 4, first = 128 * half + 32 * k;
        for (int sub = 0; sub < 2; ++sub) {
          const float dl = d * static_cast<float>(blk.scales[first / 16 + sub]);
          for (int l = 16 * sub; l < 16 * sub + 16; ++l) {
            const int q = ((ql[l] >> lo_shift) & 0x0F) | (((qh[l] >> (2 * k)) & 3) << 4);
            y[first + l] = dl * static_cast<float>(q - 32);
          }
        }
      }
  });
}

}  // namespace pocketllm::codecs
