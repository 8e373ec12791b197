// Scalar references of the K-quant IQ4_XS and Q5_0 tile kernels (kernels/ggml_int.h,
// layout weights/kquant_tiles.h): each row of a tile decoded back to its
// integers, then the same int32 sums per super-block as the in-place
// references (ref_ggml_int.cpp), so the results equal theirs bit for bit.
#include <algorithm>

#include "core/fp16.h"
#include "kernels/ggml_int.h"

namespace pocketllm {
namespace {

enum class Kind { kQ45, kQ6, kIQ4XS, kQ50 };

template <class Row, Row (*Get)(const uint8_t*, int), Kind kKind>
void tiles_ref(const PackedKQuant& w, const GgmlActs& a, int64_t tile0, int64_t tile1, float* y, int64_t ldy) {
  for (int64_t tile = tile0; tile < tile1; ++tile)
    for (int i = 0; i < kKqTileRows && tile * kKqTileRows + i < w.rows; ++i)
      for (int64_t t = 0; t < a.n_tokens(); ++t) {
        float acc = 0;
        for (int64_t b = 0; b < w.n_sb; ++b) {
          const Row r = Get(w.tile(tile) + b * w.sb_bytes, i);
          const int8_t* x = a.tok_q(t) + b * (kKind == Kind::kQ50 ? 32 : kQK_K);
          const float da = a.tok_d(t)[b];
          int32_t sumi = 0, summ = 0;
          if constexpr (kKind == Kind::kQ45) {
            const int16_t* s16 = a.tok_sum16(t) + 16 * b;
            for (int j = 0; j < 8; ++j) {
              int32_t s = 0;
              for (int l = 0; l < 32; ++l) s += r.q[32 * j + l] * x[32 * j + l];
              sumi += r.sc[j] * s;
              summ += r.m[j] * (s16[2 * j] + s16[2 * j + 1]);
            }
            acc += f16_to_f32(r.d) * da * static_cast<float>(sumi) - f16_to_f32(r.dmin) * da * static_cast<float>(summ);
          } else if constexpr (kKind == Kind::kQ50) {
            for (int l = 0; l < 32; ++l) sumi += (r.q[l] - 16) * x[l];
            acc += f16_to_f32(r.d) * da * static_cast<float>(sumi);
          } else if constexpr (kKind == Kind::kIQ4XS) {
            for (int j = 0; j < 8; ++j) {
              int32_t s = 0;
              for (int l = 0; l < 32; ++l) s += kIQ4Levels[r.q[32 * j + l]] * x[32 * j + l];
              sumi += (r.ls[j] - 32) * s;
            }
            acc += f16_to_f32(r.d) * da * static_cast<float>(sumi);
          } else {
            for (int j = 0; j < 16; ++j) {
              int32_t s = 0;
              for (int l = 0; l < 16; ++l) s += (r.q[16 * j + l] - 32) * x[16 * j + l];
              sumi += r.sc[j] * s;
            }
            acc += f16_to_f32(r.d) * da * static_cast<float>(sumi);
          }
        }
        y[t * ldy + tile * kKqTileRows + i] = acc;
      }
}
}  // namespace

void ref_kquant_q4_k_tiles(const PackedKQuant& w, const GgmlActs& a, int64_t tile0, int64_t tile1, float* y,
                           int64_t ldy) {
  tiles_ref<Q4KRow, q4k_get, Kind::kQ45>(w, a, tile0, tile1, y, ldy);
}
void ref_kquant_q5_k_tiles(const PackedKQuant& w, const GgmlActs& a, int64_t tile0, int64_t tile1, float* y,
                           int64_t ldy) {
  tiles_ref<Q4KRow, q5k_get, Kind::kQ45>(w, a, tile0, tile1, y, ldy);
}
void ref_kquant_q5_0_tiles(const PackedKQuant& w, const GgmlActs& a, int64_t tile0, int64_t tile1, float* y,
                           int64_t ldy) {
  tiles_ref<Q50Row, q50_get, Kind::kQ50>(w, a, tile0, tile1, y, ldy);
}
void ref_kquant_iq4_xs_tiles(const PackedKQuant& w, const GgmlActs& a, int64_t tile0, int64_t tile1, float* y,
                             int64_t ldy) {
  tiles_ref<IQ4XSRow, iq4xs_get, Kind::kIQ4XS>(w, a, tile0, tile1, y, ldy);
}
void ref_kquant_q6_k_tiles(const PackedKQuant& w, const GgmlActs& a, int64_t tile0, int64_t tile1, float* y,
                           int64_t ldy) {
  tiles_ref<Q6KRow, q6k_get, Kind::kQ6>(w, a, tile0, tile1, y, ldy);
}

}  // namespace pocketllm
