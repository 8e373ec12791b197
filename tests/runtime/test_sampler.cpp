// Sampler: every filter path draws from the distribution it promises.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "sampling/sampler.h"

namespace pocketllm {
namespace {

SamplingParams only_temp(float temp, int64_t seed) {
  SamplingParams p;
  p.temp = temp;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = seed;
  return p;
}

std::vector<double> frequencies(Sampler& s, const std::vector<float>& logits, int draws) {
  std::vector<double> f(logits.size(), 0.0);
  for (int i = 0; i < draws; ++i) f[static_cast<size_t>(s.sample(logits.data()))] += 1.0 / draws;
  return f;
}

std::vector<double> softmax(const std::vector<float>& logits, float temp, float min_p = 0.0f) {
  float mx = logits[0];
  for (float l : logits) mx = std::max(mx, l);
  std::vector<double> p(logits.size());
  double sum = 0;
  for (size_t i = 0; i < logits.size(); ++i) sum += (p[i] = std::exp((logits[i] - mx) / temp));
  for (auto& x : p) x /= sum;
  if (min_p > 0) {  // min-p cut at temperature 1, then the survivors renormalised at temp
    double sum_kept = 0;
    for (size_t i = 0; i < p.size(); ++i) {
      const bool keep = std::exp(logits[i] - mx) >= min_p;
      p[i] = keep ? std::exp((logits[i] - mx) / temp) : 0.0;
      sum_kept += p[i];
    }
    for (auto& x : p) x /= sum_kept;
  }
  return p;
}

const std::vector<float> kLogits = {1.0f, 2.5f, -0.5f, 2.0f, 0.0f, -3.0f, 1.5f};

TEST(Sampler, TemperatureOnlyDrawsTheSoftmax) {
  for (float temp : {0.7f, 1.0f, 1.6f}) {
    Sampler s(only_temp(temp, 11), static_cast<int32_t>(kLogits.size()));
    const auto f = frequencies(s, kLogits, 40000);
    const auto want = softmax(kLogits, temp);
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(f[i], want[i], 0.012) << "token " << i << " temp " << temp;
  }
}

TEST(Sampler, MinPOnlyKeepsExactlyTheTokensAboveTheCut) {
  SamplingParams p = only_temp(1.3f, 5);
  p.min_p = 0.3f;  // keeps logits >= 2.5 + ln 0.3 = 1.296: ids 1, 3, 6
  Sampler s(p, static_cast<int32_t>(kLogits.size()));
  const auto f = frequencies(s, kLogits, 40000);
  const auto want = softmax(kLogits, 1.3f, 0.3f);
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(f[i], want[i], 0.012) << "token " << i;
  EXPECT_EQ(f[0] + f[2] + f[4] + f[5], 0.0);
  p.min_p = 1.5f;  // above 1: only the top token survives
  Sampler top(p, static_cast<int32_t>(kLogits.size()));
  for (int i = 0; i < 50; ++i) EXPECT_EQ(top.sample(kLogits.data()), 1);
}

TEST(Sampler, SameSeedSameSequenceAndMaskedTokensNeverDrawn) {
  const int32_t n = 32000;
  std::vector<float> logits(n);
  for (int32_t i = 0; i < n; ++i) logits[static_cast<size_t>(i)] = (i % 3 == 0) ? -std::numeric_limits<float>::infinity() : std::sin(0.37f * i);
  Sampler a(only_temp(1.0f, 42), n), b(only_temp(1.0f, 42), n);
  for (int i = 0; i < 200; ++i) {
    const int32_t x = a.sample(logits.data());
    EXPECT_EQ(x, b.sample(logits.data()));
    ASSERT_GE(x, 0);
    ASSERT_LT(x, n);
    EXPECT_NE(x % 3, 0) << "drew a token with logit -inf";
  }
}

TEST(Sampler, TopKOneAndZeroTemperatureAreArgmax) {
  SamplingParams p = only_temp(1.0f, 3);
  p.top_k = 1;
  Sampler k1(p, static_cast<int32_t>(kLogits.size()));
  Sampler greedy(only_temp(0.0f, 3), static_cast<int32_t>(kLogits.size()));
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(k1.sample(kLogits.data()), 1);
    EXPECT_EQ(greedy.sample(kLogits.data()), 1);
  }
}

// Log-probabilities are those of the distribution drawn from, worked out by hand.
TEST(SamplerLogprobs, GreedyTemperatureFiltersAndMask) {
  const float ninf = -std::numeric_limits<float>::infinity();
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, ninf, 0.5f};
  // Greedy: softmax at temperature 1 of everything with mass; the argmax is first.
  Sampler g(only_temp(0.0f, 1), 5);
  g.set_logprobs(10);
  EXPECT_EQ(g.sample(logits.data()), 1);
  const double z = std::exp(1.0) + std::exp(3.0) + std::exp(2.0) + std::exp(0.5);
  EXPECT_NEAR(g.last_logprob(), 3.0 - std::log(z), 1e-6);
  ASSERT_EQ(g.last_top().size(), 4u);  // the masked id is not listed
  const int32_t order[] = {1, 2, 0, 4};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(g.last_top()[i].id, order[i]);
    EXPECT_NEAR(g.last_top()[i].logprob, logits[static_cast<size_t>(order[i])] - std::log(z), 1e-6);
  }
  // top-k 2 at temperature 0.5: only ids 1 and 2, renormalised.
  SamplingParams p = only_temp(0.5f, 3);
  p.top_k = 2;
  Sampler s(p, 5);
  s.set_logprobs(3);
  const int32_t id = s.sample(logits.data());
  ASSERT_TRUE(id == 1 || id == 2);
  const double z2 = std::exp(3.0 / 0.5) + std::exp(2.0 / 0.5);
  EXPECT_NEAR(s.last_logprob(), logits[static_cast<size_t>(id)] / 0.5 - std::log(z2), 1e-6);
  ASSERT_EQ(s.last_top().size(), 2u);
  EXPECT_NEAR(s.last_top()[0].logprob, 6.0 - std::log(z2), 1e-6);
  EXPECT_NEAR(s.last_top()[1].logprob, 4.0 - std::log(z2), 1e-6);
  // Off by default; 0 gives the drawn token's value only.
  Sampler off(only_temp(0.0f, 1), 5);
  off.sample(logits.data());
  EXPECT_TRUE(off.last_top().empty());
  s.set_logprobs(0);
  s.sample(logits.data());
  EXPECT_TRUE(s.last_top().empty());
  EXPECT_LT(s.last_logprob(), 0.0f);
}

}  // namespace
}  // namespace pocketllm
