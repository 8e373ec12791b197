// Scores: per key, each full 32-dim block is one vpmaddubsw + vpmaddwd per query
// head (|k| x q*sign(k): |pair| <= 2*128*127, no saturation since q is within
// +-127), the int32 lanes scaled by qd*kd into a float accumulator; a short last
// block (head_dim not a multiple of 32) is summed in scalar code. Up to 4 heads
// share each key load; their 4 accumulators are reduced together with hadd.
// Weighted sum: values dequantized on read (int8 -> f32 times the block scale),
// 16 dims x up to 4 heads of accumulators in registers, over tiles of positions
// small enough to stay in L1 while each 16-dim slice of them is read.
#include "kernels/x86_avx2/kv_q8_avx2.h"

#include <immintrin.h>

#include <algorithm>

#include "kernels/table.h"

namespace pocketllm {
namespace {

inline const float* row_scales(const float* d, size_t stride, int64_t j) {
  return reinterpret_cast<const float*>(reinterpret_cast<const uint8_t*>(d) + static_cast<size_t>(j) * stride);
}

// The lane sums of a0..a3 as one vector [sum a0, sum a1, sum a2, sum a3].
inline __m128 hsum4(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
  const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

template <int M>
void scores_m(const int8_t* q, const float* qd, int64_t hd, const int8_t* k, const float* kd, size_t stride, int64_t n,
              float* out, int64_t ldo) {
  const int64_t nb = (hd + kKvQ8Block - 1) / kKvQ8Block, full = hd / kKvQ8Block;
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t j = 0; j < n; ++j) {
    const int8_t* kj = k + static_cast<size_t>(j) * stride;
    const float* dj = row_scales(kd, stride, j);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t b = 0; b < full; ++b) {
      const __m256i kv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kj + b * kKvQ8Block));
      const __m256i ka = _mm256_abs_epi8(kv);
      for (int i = 0; i < M; ++i) {
        const __m256i qv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + i * hd + b * kKvQ8Block));
        const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(ka, _mm256_sign_epi8(qv, kv)), ones);
        acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(qd[i * nb + b] * dj[b]), acc[i]);
      }
    }
    alignas(16) float r[4];
    _mm_store_ps(r, hsum4(acc[0], acc[1], acc[2], acc[3]));
    for (int i = 0; i < M; ++i) {
      if (full < nb) {  // the short last block
        int32_t s = 0;
        for (int64_t d = full * kKvQ8Block; d < hd; ++d) s += int32_t{q[i * hd + d]} * int32_t{kj[d]};
        r[i] += qd[i * nb + full] * dj[full] * static_cast<float>(s);
      }
      out[i * ldo + j] = r[i];
    }
  }
}

constexpr int64_t kWsumTile = 128;  // positions per tile: 128 rows x (16 B + scale) stay in L1

template <int M>
void wsum_m(const float* w, int64_t ldw, const int8_t* v, const float* vd, size_t stride, int64_t n, int64_t hd,
            float* out, int64_t ldo) {
  const int64_t c16 = hd / 16 * 16;
  for (int i = 0; i < M; ++i) std::fill(out + i * ldo, out + i * ldo + hd, 0.0f);
  for (int64_t j0 = 0; j0 < n; j0 += kWsumTile) {
    const int64_t j1 = std::min(n, j0 + kWsumTile);
    for (int64_t d0 = 0; d0 < c16; d0 += 16) {  // 16 | 32: a slice lies in one scale block
      const int64_t b = d0 / kKvQ8Block;
      __m256 lo[M], hi[M];
      for (int i = 0; i < M; ++i) {
        lo[i] = _mm256_loadu_ps(out + i * ldo + d0);
        hi[i] = _mm256_loadu_ps(out + i * ldo + d0 + 8);
      }
      for (int64_t j = j0; j < j1; ++j) {
        const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(v + static_cast<size_t>(j) * stride + d0));
        const __m256 s = _mm256_set1_ps(row_scales(vd, stride, j)[b]);
        const __m256 xl = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(x)), s);
        const __m256 xh = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(x, 8))), s);
        for (int i = 0; i < M; ++i) {
          const __m256 wv = _mm256_set1_ps(w[i * ldw + j]);
          lo[i] = _mm256_fmadd_ps(wv, xl, lo[i]);
          hi[i] = _mm256_fmadd_ps(wv, xh, hi[i]);
        }
      }
      for (int i = 0; i < M; ++i) {
        _mm256_storeu_ps(out + i * ldo + d0, lo[i]);
        _mm256_storeu_ps(out + i * ldo + d0 + 8, hi[i]);
      }
    }
    for (int64_t j = j0; j < j1 && c16 < hd; ++j) {  // dims past the last 16-dim slice
      const int8_t* vj = v + static_cast<size_t>(j) * stride;
      const float* dj = row_scales(vd, stride, j);
      for (int i = 0; i < M; ++i)
        for (int64_t d = c16; d < hd; ++d) out[i * ldo + d] += w[i * ldw + j] * dj[d / kKvQ8Block] * static_cast<float>(vj[d]);
    }
  }
}

}  // namespace

void kv_q8_scores_avx2(const int8_t* q, const float* qd, int64_t m, int64_t hd, const int8_t* k, const float* kd,
                       size_t stride, int64_t n, float* out, int64_t ldo) {
  const int64_t nb = (hd + kKvQ8Block - 1) / kKvQ8Block;
  for (int64_t i = 0; i < m; i += 4) {
    const int8_t* qi = q + i * hd;
    const float* di = qd + i * nb;
    float* oi = out + i * ldo;
    switch (std::min<int64_t>(4, m - i)) {
      case 1: scores_m<1>(qi, di, hd, k, kd, stride, n, oi, ldo); break;
      case 2: scores_m<2>(qi, di, hd, k, kd, stride, n, oi, ldo); break;
      case 3: scores_m<3>(qi, di, hd, k, kd, stride, n, oi, ldo); break;
      default: scores_m<4>(qi, di, hd, k, kd, stride, n, oi, ldo); break;
    }
  }
}

void kv_q8_wsum_avx2(const float* w, int64_t ldw, int64_t m, const int8_t* v, const float* vd, size_t stride,
                     int64_t n, int64_t hd, float* out, int64_t ldo) {
  for (int64_t i = 0; i < m; i += 4) {
    const float* wi = w + i * ldw;
    float* oi = out + i * ldo;
    switch (std::min<int64_t>(4, m - i)) {
      case 1: wsum_m<1>(wi, ldw, v, vd, stride, n, hd, oi, ldo); break;
      case 2: wsum_m<2>(wi, ldw, v, vd, stride, n, hd, oi, ldo); break;
      case 3: wsum_m<3>(wi, ldw, v, vd, stride, n, hd, oi, ldo); break;
      default: wsum_m<4>(wi, ldw, v, vd, stride, n, hd, oi, ldo); break;
    }
  }
}

}  // namespace pocketllm
