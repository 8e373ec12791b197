// The 8-bit KV cache kernels (KvQ8ScoresFn, KvQ8WsumFn) of every table against
// the scalar reference, and the reference against a float64 computation, on odd
// head sizes and lengths, zeros, +-127 everywhere and padded row strides.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "kernel_test_util.h"
#include "kernels/ref/ref_kernels.h"

using namespace pocketllm;

namespace {

int64_t n_blocks(int64_t hd) { return (hd + kKvQ8Block - 1) / kKvQ8Block; }

// n cache rows of one head, laid out as model/kv_cache.h does: hd int8 then nb f32
// scales, `pad` more bytes per row (other heads' data in a real cache).
struct Rows {
  int64_t hd, n, nb;
  size_t stride, scale_off;
  std::vector<uint8_t> bytes;
  Rows(int64_t hd_, int64_t n_, int64_t pad) : hd(hd_), n(n_), nb(n_blocks(hd_)) {
    scale_off = static_cast<size_t>((hd + 3) / 4 * 4);
    stride = scale_off + static_cast<size_t>(nb) * 4 + static_cast<size_t>(pad) * 4;
    bytes.assign(stride * static_cast<size_t>(std::max<int64_t>(n, 1)), 0xAB);
  }
  int8_t* q(int64_t j) { return reinterpret_cast<int8_t*>(bytes.data() + j * stride); }
  float* d(int64_t j) { return reinterpret_cast<float*>(bytes.data() + j * stride + scale_off); }
  const int8_t* q0() const { return reinterpret_cast<const int8_t*>(bytes.data()); }
  const float* d0() const { return reinterpret_cast<const float*>(bytes.data() + scale_off); }
};

// kind 0: random ints and scales; 1: all +-127 (the largest products); 2: zeros
// in some rows and blocks (ints or scales).
void fill(Rows& r, uint32_t seed, int kind) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> qi(-127, 127), sign(0, 1);
  std::uniform_real_distribution<float> sc(1e-3f, 0.1f);
  for (int64_t j = 0; j < r.n; ++j) {
    for (int64_t i = 0; i < r.hd; ++i)
      r.q(j)[i] = static_cast<int8_t>(kind == 1 ? (sign(rng) ? 127 : -127) : (kind == 2 && j % 3 == 1) ? 0 : qi(rng));
    for (int64_t b = 0; b < r.nb; ++b) r.d(j)[b] = (kind == 2 && (j + b) % 4 == 2) ? 0.0f : sc(rng);
  }
}

void fill_query(std::vector<int8_t>& q, std::vector<float>& qd, int64_t m, int64_t hd, uint32_t seed, int kind) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> qi(-127, 127), sign(0, 1);
  std::uniform_real_distribution<float> sc(1e-3f, 0.1f);
  q.resize(static_cast<size_t>(m * hd));
  qd.resize(static_cast<size_t>(m * n_blocks(hd)));
  for (auto& x : q) x = static_cast<int8_t>(kind == 1 ? (sign(rng) ? 127 : -127) : qi(rng));
  if (kind == 2 && !q.empty()) std::fill(q.begin(), q.begin() + std::min<int64_t>(hd, static_cast<int64_t>(q.size())), 0);
  for (auto& x : qd) x = sc(rng);
}

const int64_t kHeadDims[] = {1, 7, 8, 16, 31, 32, 33, 48, 64, 80, 100, 128, 256};
const int64_t kLengths[] = {0, 1, 3, 17, 130, 300};

}  // namespace

TEST(KvQ8Kernels, QuantizeRoundTripsWithinHalfAStep) {
  for (int64_t n : kHeadDims) {
    auto x = kt::random_floats(static_cast<size_t>(n), 3, 2.0f);
    if (n > 4) {
      x[1] = 0.0f;
      x[2] = 1e30f;   // an outlier: its block's scale grows, other blocks keep theirs
      x[3] = -1e-30f;
    }
    std::vector<int8_t> q(static_cast<size_t>(n));
    std::vector<float> d(static_cast<size_t>(n_blocks(n))), back(static_cast<size_t>(n));
    quantize_kv_q8(x.data(), n, q.data(), d.data());
    dequantize_kv_q8(q.data(), d.data(), n, back.data());
    for (int64_t i = 0; i < n; ++i) {
      const float step = d[static_cast<size_t>(i / kKvQ8Block)];
      ASSERT_LE(std::fabs(back[i] - x[i]), 0.5f * step * (1 + 1e-5f)) << "n=" << n << " i=" << i;
      ASSERT_GE(q[i], -127);
    }
    for (int64_t b = 0; b < n_blocks(n); ++b) {  // the block's largest magnitude maps to +-127
      int mx = 0;
      for (int64_t i = b * kKvQ8Block; i < std::min(n, (b + 1) * kKvQ8Block); ++i) mx = std::max(mx, std::abs(int{q[i]}));
      EXPECT_EQ(mx, 127) << "n=" << n << " block " << b;
    }
  }
  // All zeros: scale 0, ints 0 (no division by zero); a NaN becomes 0.
  std::vector<float> z(40, 0.0f);
  z[5] = std::numeric_limits<float>::quiet_NaN();
  std::vector<int8_t> q(40, 99);
  std::vector<float> d(2, 99.0f);
  quantize_kv_q8(z.data(), 40, q.data(), d.data());
  EXPECT_EQ(d[0], 0.0f);
  EXPECT_EQ(d[1], 0.0f);
  for (int8_t v : q) EXPECT_EQ(v, 0);
}

// The reference itself against float64 arithmetic.
TEST(KvQ8Kernels, RefMatchesFloat64) {
  const int64_t m = 3, hd = 45, n = 9, nb = n_blocks(hd);
  Rows k(hd, n, 1);
  fill(k, 5, 0);
  std::vector<int8_t> q;
  std::vector<float> qd;
  fill_query(q, qd, m, hd, 6, 0);
  std::vector<float> s(static_cast<size_t>(m * n));
  ref_kv_q8_scores(q.data(), qd.data(), m, hd, k.q0(), k.d0(), k.stride, n, s.data(), n);
  const auto w = kt::random_floats(static_cast<size_t>(m * n), 7);
  std::vector<float> o(static_cast<size_t>(m * hd));
  ref_kv_q8_wsum(w.data(), n, m, k.q0(), k.d0(), k.stride, n, hd, o.data(), hd);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double want = 0;
      for (int64_t t = 0; t < hd; ++t)
        want += double(qd[i * nb + t / 32]) * k.d(j)[t / 32] * q[i * hd + t] * k.q(j)[t];
      ASSERT_NEAR(s[i * n + j], want, 1e-5 * std::fabs(want) + 1e-6);
    }
    for (int64_t t = 0; t < hd; ++t) {
      double want = 0;
      for (int64_t j = 0; j < n; ++j) want += double(w[i * n + j]) * k.d(j)[t / 32] * k.q(j)[t];
      ASSERT_NEAR(o[i * hd + t], want, 1e-5 * std::fabs(want) + 1e-6);
    }
  }
}

TEST(KvQ8Kernels, ScoresMatchRefOnEveryTable) {
  for (int kind : {0, 1, 2})
    for (int64_t hd : kHeadDims)
      for (int64_t n : kLengths)
        for (int64_t m : {1, 2, 3, 4, 5, 8}) {
          const int64_t pad = (hd + n + m) % 3, nb = n_blocks(hd), ldo = n + 2;
          Rows k(hd, n, pad);
          fill(k, static_cast<uint32_t>(hd * 131 + n), kind);
          std::vector<int8_t> q;
          std::vector<float> qd;
          fill_query(q, qd, m, hd, static_cast<uint32_t>(m + n), kind);
          std::vector<float> want(static_cast<size_t>(m * ldo), -3.0f);
          ref_kv_q8_scores(q.data(), qd.data(), m, hd, k.q0(), k.d0(), k.stride, n, want.data(), ldo);
          for (const KernelTable* t : kt::tested_kernels()) {
            std::vector<float> got(static_cast<size_t>(m * ldo), -3.0f);  // padding columns must survive
            kv_q8_scores(*t, q.data(), qd.data(), m, hd, k.q0(), k.d0(), k.stride, n, got.data(), ldo);
            for (int64_t i = 0; i < m; ++i)
              for (int64_t j = 0; j < ldo; ++j) {
                double mag = 0;  // sum of |terms|: the float rounding scales with it
                for (int64_t t = 0; t < hd && j < n; ++t)
                  mag += std::fabs(double(qd[i * nb + t / 32]) * k.d(j)[t / 32] * q[i * hd + t] * k.q(j)[t]);
                ASSERT_NEAR(got[i * ldo + j], want[i * ldo + j], 2e-6 * mag + 1e-30)
                    << t->name << " kind " << kind << " hd " << hd << " n " << n << " m " << m << " i " << i << " j " << j;
              }
          }
        }
}

TEST(KvQ8Kernels, WeightedSumMatchesRefOnEveryTable) {
  for (int kind : {0, 1, 2})
    for (int64_t hd : kHeadDims)
      for (int64_t n : kLengths)
        for (int64_t m : {1, 2, 3, 4, 5, 8}) {
          const int64_t pad = (hd + n) % 3, ldw = n + 1, ldo = hd + 3;
          Rows v(hd, n, pad);
          fill(v, static_cast<uint32_t>(hd * 17 + n), kind);
          auto w = kt::random_floats(static_cast<size_t>(m * ldw), static_cast<uint32_t>(m * 7 + n));
          if (kind == 2)
            for (int64_t j = 0; j < n; j += 2) w[j] = 0.0f;  // zero weights in the first head
          std::vector<float> want(static_cast<size_t>(m * ldo), -5.0f);
          ref_kv_q8_wsum(w.data(), ldw, m, v.q0(), v.d0(), v.stride, n, hd, want.data(), ldo);
          for (const KernelTable* t : kt::tested_kernels()) {
            std::vector<float> got(static_cast<size_t>(m * ldo), -5.0f);
            kv_q8_wsum(*t, w.data(), ldw, m, v.q0(), v.d0(), v.stride, n, hd, got.data(), ldo);
            for (int64_t i = 0; i < m; ++i)
              for (int64_t c = 0; c < ldo; ++c) {
                if (c >= hd) {  // past the head: untouched
                  ASSERT_EQ(got[i * ldo + c], -5.0f) << t->name << " wrote past hd " << hd;
                  continue;
                }
                double mag = 0;
                for (int64_t j = 0; j < n; ++j) mag += std::fabs(double(w[i * ldw + j]) * v.d(j)[c / 32] * v.q(j)[c]);
                ASSERT_NEAR(got[i * ldo + c], want[i * ldo + c], 2e-6 * mag + 1e-30)
                    << t->name << " kind " << kind << " hd " << hd << " n " << n << " m " << m << " i " << i << " c " << c;
              }
          }
        }
}

// Every SIMD table this CPU runs has its own q8 kernels wired in, x86 and ARM
// (else attention would silently fall back to the scalar loops).
TEST(KvQ8Kernels, SimdTablesHaveVectorKernels) {
  for (const KernelTable* t : kt::tested_kernels()) {
    if (std::strcmp(t->name, "ref") == 0) continue;
    EXPECT_NE(t->kv_q8_scores, nullptr) << t->name;
    EXPECT_NE(t->kv_q8_wsum, nullptr) << t->name;
    EXPECT_NE(t->kv_q8_scores, &ref_kv_q8_scores) << t->name;
    EXPECT_NE(t->kv_q8_wsum, &ref_kv_q8_wsum) << t->name;
  }
}
