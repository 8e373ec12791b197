// Deterministic round-to-nearest K-quant quantizers (weights/blocks_k.h).
//
// Each sub-block first gets its own ideal scale (and, for the types with mins,
// an offset: the sub-block's min, or 0 when it is positive, since those types
// store only offsets <= 0). The super-block scale maps the largest of those to
// the top of the scale code range; each sub-block's scale code is rounded
// against the f16-rounded super-block scale, and the weights are rounded to
// nearest against the scale exactly as the dequantizer computes it.
// No search: these make test files and simple mixes, not the best files.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "core/fp16.h"
#include "weights/block_pack.h"
#include "weights/blocks_k.h"
#include "weights/codecs_internal.h"

namespace pocketllm::codecs {

namespace {
// Asymmetric sub-blocks (Q2_K, Q4_K, Q5_K): value = (d * sc) * q - (dmin * m),
// q in [0, qmax], sc and m in [0, smax]. Writes the codes and returns d, dmin.
struct AsymBlock {
  uint16_t d16 = 0, dmin16 = 0;
  int sc[16] = {}, m[16] = {};
};
AsymBlock quantize_asym(const float* x, int n_sub, int sub_len, int qmax, int smax, int* q) {
  float scale[16], offset[16];
  float max_scale = 0, max_offset = 0;
  for (int s = 0; s < n_sub; ++s) {
    const float* xs = x + s * sub_len;
    signed_absmax(xs, sub_len);  // rejects NaN / inf
    const auto [lo, hi] = std::minmax_element(xs, xs + sub_len);
    const float low = std::min(*lo, 0.0f);
    scale[s] = (*hi - low) / static_cast<float>(qmax);
    offset[s] = -low;
    max_scale = std::max(max_scale, scale[s]);
    max_offset = std::max(max_offset, offset[s]);
  }
  AsymBlock b;
  b.d16 = f16_scale(max_scale / static_cast<float>(smax));
  b.dmin16 = f16_scale(max_offset / static_cast<float>(smax));
  const float d = f16_to_f32(b.d16), dmin = f16_to_f32(b.dmin16);
  for (int s = 0; s < n_sub; ++s) {
    b.sc[s] = quantize_value(scale[s], d, 0, smax);
    b.m[s] = quantize_value(offset[s], dmin, 0, smax);
    const float dl = d * static_cast<float>(b.sc[s]), ml = dmin * static_cast<float>(b.m[s]);
    for (int l = 0; l < sub_len; ++l) q[s * sub_len + l] = quantize_value(x[s * sub_len + l] + ml, dl, 0, qmax);
  }
  return b;
}

// Symmetric sub-blocks (Q3_K, Q6_K): value = (d * ls) * q, q in [-qneg, qneg - 1],
// ls in [-sneg, sneg - 1]. The largest-magnitude weight of a sub-block maps to
// -qneg and the largest sub-block scale to -sneg (the codes' longer side).
uint16_t quantize_sym(const float* x, int n_sub, int sub_len, int qneg, int sneg, int* ls, int* q) {
  float scale[16];
  for (int s = 0; s < n_sub; ++s) scale[s] = signed_absmax(x + s * sub_len, sub_len) / static_cast<float>(-qneg);
  const uint16_t d16 = f16_scale(signed_absmax(scale, n_sub) / static_cast<float>(-sneg));
  const float d = f16_to_f32(d16);
  for (int s = 0; s < n_sub; ++s) {
    ls[s] = quantize_value(scale[s], d, -sneg, sneg - 1);
    const float dl = d * static_cast<float>(ls[s]);
    for (int l = 0; l < sub_len; ++l) q[s * sub_len + l] = quantize_value(x[s * sub_len + l], dl, -qneg, qneg - 1);
  }
  return d16;
}

// Q2_K / Q3_K's 2-bit fields: weight i at byte 32 * (i / 128) + i % 32, bits 2 * ((i % 128) / 32).
void pack_2bit(const int* u, uint8_t* qs) {
  std::fill(qs, qs + kQK_K / 4, 0);
  for (int i = 0; i < kQK_K; ++i) qs[32 * (i / 128) + i % 32] |= static_cast<uint8_t>((u[i] & 3) << (2 * ((i % 128) / 32)));
}

// Q4_K / Q5_K's 12 bytes of 6-bit scales and mins (the inverse of k_scale_min).
void pack_scale_min(const int* sc, const int* m, uint8_t* s) {
  for (int j = 0; j < 4; ++j) {
    s[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    s[j + 4] = static_cast<uint8_t>(m[j] | ((m[j + 4] >> 4) << 6));
    s[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0x0F) | ((m[j + 4] & 0x0F) << 4));
  }
}

// Q4_K / Q5_K's nibbles: chunk c's 32 bytes hold weights 64 c + l (low) and 64 c + 32 + l (high).
void pack_q45_nibbles(const int* q, uint8_t* qs) {
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) qs[32 * c + l] = static_cast<uint8_t>((q[64 * c + l] & 0x0F) | ((q[64 * c + 32 + l] & 0x0F) << 4));
}
}  // namespace

void quantize_q2_k(const float* x, uint8_t* row, int64_t n) {
  each_block<BlockQ2_K, kQK_K>(x, row, n, [](const float* xb, BlockQ2_K& blk) {
    int q[kQK_K];
    const AsymBlock a = quantize_asym(xb, 16, 16, 3, 15, q);
    blk.d = a.d16;
    blk.dmin = a.dmin16;
    for (int s = 0; s < 16; ++s) blk.scales[s] = static_cast<uint8_t>(a.sc[s] | (a.m[s] << 4));
    pack_2bit(q, blk.qs);
  });
}

void quantize_q3_k(const float* x, uint8_t* row, int64_t n) {
  each_block<BlockQ3_K, kQK_K>(x, row, n, [](const float* xb, BlockQ3_K& blk) {
    int q[kQK_K], ls[16];
    blk.d = quantize_sym(xb, 16, 16, 4, 32, ls, q);
    for (int i = 0; i < 16; ++i) {  // 6-bit codes ls + 32 (the inverse of q3_k_scale)
      const int c = ls[i] + 32;
      blk.scales[i % 8] |= static_cast<uint8_t>((c & 0x0F) << (i < 8 ? 0 : 4));
      blk.scales[8 + i % 4] |= static_cast<uint8_t>((c >> 4) << (2 * (i / 4)));
    }
    for (int i = 0; i < kQK_K; ++i) {
      q[i] += 4;  // [0, 7]: 2 low bits in qs, the third in hmask
      blk.hmask[i % 32] |= static_cast<uint8_t>((q[i] >> 2) << (i / 32));
    }
    pack_2bit(q, blk.qs);
  });
}

namespace {
// A zeroed Q4_K or Q5_K block from chosen codes (Q5_K: the fifth bits in qh, bit k of
// qh[l] for weight 32 k + l).
template <class Block>
void fill_q45_k(Block& blk, uint16_t d, uint16_t dmin, const int* sc, const int* m, const int* q) {
  blk.d = d;
  blk.dmin = dmin;
  pack_scale_min(sc, m, blk.scales);
  if constexpr (std::is_same_v<Block, BlockQ5_K>)
    for (int i = 0; i < kQK_K; ++i) blk.qh[i % 32] |= static_cast<uint8_t>((q[i] >> 4) << (i / 32));
  pack_q45_nibbles(q, blk.qs);
}

template <class Block, int kQmax>
void quantize_q45_k(const float* x, uint8_t* row, int64_t n) {
  each_block<Block, kQK_K>(x, row, n, [](const float* xb, Block& blk) {
    int q[kQK_K];
    const AsymBlock a = quantize_asym(xb, 8, 32, kQmax, 63, q);
    fill_q45_k(blk, a.d16, a.dmin16, a.sc, a.m, q);
  });
}
}  // namespace

void quantize_q4_k(const float* x, uint8_t* row, int64_t n) { quantize_q45_k<BlockQ4_K, 15>(x, row, n); }
void quantize_q5_k(const float* x, uint8_t* row, int64_t n) { quantize_q45_k<BlockQ5_K, 31>(x, row, n); }

void quantize_q6_k(const float* x, uint8_t* row, int64_t n) {
  each_block<BlockQ6_K, kQK_K>(x, row, n, [](const float* xb, BlockQ6_K& blk) {
    int q[kQK_K], ls[16];
    blk.d = quantize_sym(xb, 16, 16, 32, 128, ls, q);
    for (int s = 0; s < 16; ++s) blk.scales[s] = static_cast<int8_t>(ls[s]);
    for (int i = 0; i < kQK_K; ++i) {  // the inverse of dequantize_q6_k's indexing
      const int u = q[i] + 32, half = i / 128, k = (i % 128) / 32, l = i % 32;
      blk.ql[64 * half + l + 32 * (k % 2)] |= static_cast<uint8_t>((u & 0x0F) << (k < 2 ? 0 : 4));
      blk.qh[32 * half + l] |= static_cast<uint8_t>((u >> 4) << (2 * k));
    }
  });
}

}  // namespace pocketllm::codecs

namespace pocketllm {

void pack_q45_k_block(bool five_bits, uint16_t d, uint16_t dmin, const int* sc, const int* m, const int* q,
                      uint8_t* block) {
  if (five_bits) {
    BlockQ5_K blk{};
    codecs::fill_q45_k(blk, d, dmin, sc, m, q);
    codecs::store_block(blk, block);
  } else {
    BlockQ4_K blk{};
    codecs::fill_q45_k(blk, d, dmin, sc, m, q);
    codecs::store_block(blk, block);
  }
}

}  // namespace pocketllm
