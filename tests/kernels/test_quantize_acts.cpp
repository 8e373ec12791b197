// Activation quantization: the vectorizable rounding in quantize_acts must give
// exactly what lrintf (round half to even) gives, ties and clamps included, and
// the token-split form (used across threads) must equal the one-call form.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/int_weights.h"

using namespace pocketllm;

namespace {

// The plain definition: d = max|x| / 127, q = clamp(lrintf(x / d)), zero past cols.
void plain_quantize(const float* x, int64_t ldx, int64_t n_tokens, int64_t cols, int64_t group, int64_t kp,
                    QuantActs& a) {
  a.n_tokens = n_tokens, a.kp = kp, a.group = group, a.n_groups = kp / group;
  a.q.assign(static_cast<size_t>(n_tokens * kp), 0);
  a.d.assign(static_cast<size_t>(n_tokens * a.n_groups), 0.0f);
  a.sum.assign(static_cast<size_t>(n_tokens * a.n_groups), 0);
  for (int64_t t = 0; t < n_tokens; ++t)
    for (int64_t g = 0; g < a.n_groups; ++g) {
      const int64_t c0 = g * group, c1 = std::min(cols, c0 + group);
      float amax = 0;
      for (int64_t c = c0; c < c1; ++c) amax = std::max(amax, std::fabs(x[t * ldx + c]));
      const float d = amax / 127.0f, inv = d > 0 ? 1.0f / d : 0.0f;
      for (int64_t c = c0; c < c1; ++c) {
        const long v = std::clamp<long>(std::lrintf(x[t * ldx + c] * inv), -127, 127);
        a.q[t * kp + c] = static_cast<int8_t>(v);
        a.sum[t * a.n_groups + g] += static_cast<int32_t>(v);
      }
      a.d[t * a.n_groups + g] = d;
    }
}

void expect_same(const QuantActs& a, const QuantActs& b) {
  ASSERT_EQ(a.q, b.q);
  ASSERT_EQ(a.d, b.d);
  ASSERT_EQ(a.sum, b.sum);
}

}  // namespace

TEST(QuantizeActs, MatchesLrintfIncludingTies) {
  const int64_t cols = 100, group = 32, kp = 128, n_tokens = 6, ldx = 103;
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  std::vector<float> x(static_cast<size_t>(n_tokens * ldx));
  for (auto& v : x) v = nd(rng);
  // Token 1: max 127 makes the scale 1, so x.5 values are exact ties (even and odd).
  for (int64_t c = 0; c < cols; ++c) x[ldx + c] = (c % 32 == 0) ? 127.0f : static_cast<float>(c % 9) - 4.5f;
  // Token 2: all zero (scale 0). Token 3: tiny and huge magnitudes.
  for (int64_t c = 0; c < cols; ++c) x[2 * ldx + c] = 0.0f;
  for (int64_t c = 0; c < cols; ++c) x[3 * ldx + c] = (c % 2) ? 1e-30f : -3e30f;
  QuantActs want, got;
  plain_quantize(x.data(), ldx, n_tokens, cols, group, kp, want);
  quantize_acts(x.data(), ldx, n_tokens, cols, group, kp, got);
  expect_same(want, got);
  EXPECT_EQ(got.q[1 * kp + 1], -4);  // -3.5 -> -4 (even)
  EXPECT_EQ(got.q[1 * kp + 2], -2);  // -2.5 -> -2 (even)
}

TEST(QuantizeActs, TokenSplitEqualsOneCall) {
  const int64_t cols = 2048, group = 64, n_tokens = 9;
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  std::vector<float> x(static_cast<size_t>(n_tokens * cols));
  for (auto& v : x) v = nd(rng);
  QuantActs one, split;
  quantize_acts(x.data(), cols, n_tokens, cols, group, cols, one);
  split.q.assign(split.q.size() + 5, 99);  // stale contents must be overwritten
  quantize_acts_shape(n_tokens, group, cols, split);
  quantize_acts_tokens(x.data(), cols, 4, n_tokens, cols, split);
  quantize_acts_tokens(x.data(), cols, 0, 4, cols, split);
  expect_same(one, split);
}

// Non-finite activations (a diverging model) must not reach the float -> int cast
// as NaN (undefined behaviour, caught by UBSan): NaN quantizes to 0, and a group
// with an inf has an infinite scale, so its finite entries quantize to 0 as well.
TEST(QuantizeActs, NonFiniteInputsQuantizeToZero) {
  const int64_t cols = 64, group = 32, kp = 64;
  std::vector<float> x(static_cast<size_t>(cols), 1.0f);
  x[3] = std::nanf("");
  x[5] = -2.0f;
  x[40] = INFINITY;
  x[41] = 7.0f;
  QuantActs a;
  quantize_acts(x.data(), cols, 1, cols, group, kp, a);
  ASSERT_EQ(a.n_groups, 2);
  // Group 0: the NaN is ignored by the max (|-2| sets the scale), and quantizes to 0.
  EXPECT_EQ(a.q[3], 0);
  EXPECT_EQ(a.q[5], -127);
  EXPECT_EQ(a.q[0], 64);  // 1 / (2 / 127) = 63.5 -> 64 (ties to even)
  EXPECT_FLOAT_EQ(a.d[0], 2.0f / 127.0f);
  // Group 1: inf scale, everything 0, sum 0.
  EXPECT_TRUE(std::isinf(a.d[1]));
  for (int64_t c = 32; c < 64; ++c) EXPECT_EQ(a.q[c], 0) << c;
  EXPECT_EQ(a.sum[1], 0);
}
