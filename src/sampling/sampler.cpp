#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

namespace pocketllm {

int32_t argmax(const float* x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return static_cast<int32_t>(best);
}

Sampler::Sampler(const SamplingParams& p, int32_t n_vocab) : p_(p), n_vocab_(n_vocab) {
  rng_.seed(p.seed >= 0 ? static_cast<uint64_t>(p.seed) : std::random_device{}());
}

void Sampler::set_params(const SamplingParams& p) {
  const bool reseed = p.seed != p_.seed;
  p_ = p;
  if (reseed) rng_.seed(p.seed >= 0 ? static_cast<uint64_t>(p.seed) : std::random_device{}());
}

void Sampler::reset() { history_.clear(); }

void Sampler::accept(int32_t id) {
  history_.push_back(id);
  const size_t keep = static_cast<size_t>(std::max(p_.repeat_last_n, 0));
  while (history_.size() > keep) history_.pop_front();
}

int32_t Sampler::sample(const float* logits) {
  const double sum = weigh(logits);
  const int32_t id = p_.temp <= 0.0f ? cands_[0].id : draw(sum);
  if (logprobs_n_ >= 0) record_logprobs(p_.temp <= 0.0f ? 1.0f : p_.temp, id);
  return id;
}

// Log-probabilities over cands_ (the candidates left, with their penalised logits;
// greedy keeps them all when logprobs are on), computed from the logits in double
// rather than from the float weights so small probabilities keep their precision.
// Candidates with no mass (-inf logits: a grammar's mask) are left out.
void Sampler::record_logprobs(float temp, int32_t chosen) {
  const float mx = max_logit();
  double sum = 0;
  for (const auto& c : cands_)
    if (c.logit != -std::numeric_limits<float>::infinity()) sum += std::exp((static_cast<double>(c.logit) - mx) / temp);
  const double lse = std::log(sum);
  auto logprob = [&](const Cand& c) { return static_cast<float>((static_cast<double>(c.logit) - mx) / temp - lse); };
  last_top_.clear();
  last_logprob_ = 0;
  for (const auto& c : cands_)
    if (c.id == chosen) last_logprob_ = logprob(c);
  if (logprobs_n_ == 0) return;
  auto by_logit = [](const Cand& a, const Cand& b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); };
  const size_t n = std::min(cands_.size(), static_cast<size_t>(logprobs_n_));
  std::partial_sort(cands_.begin(), cands_.begin() + static_cast<std::ptrdiff_t>(n), cands_.end(), by_logit);
  for (size_t i = 0; i < n; ++i)
    if (cands_[i].logit != -std::numeric_limits<float>::infinity()) last_top_.push_back({cands_[i].id, logprob(cands_[i])});
}

void Sampler::distribution(const float* logits, std::vector<float>& p) {
  const double sum = weigh(logits);
  p.assign(static_cast<size_t>(n_vocab_), 0.0f);
  for (const auto& c : cands_) p[static_cast<size_t>(c.id)] = static_cast<float>(c.p / sum);
}

double Sampler::uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

int32_t Sampler::draw_from(const std::vector<float>& w) {
  double sum = 0;
  for (float x : w) sum += x;
  const double r = uniform() * sum;
  double cum = 0;
  int32_t last = -1;
  for (size_t i = 0; i < w.size(); ++i) {
    if (w[i] <= 0) continue;
    cum += w[i];
    last = static_cast<int32_t>(i);
    if (r < cum) return last;
  }
  return last;  // rounding left r at the end: the last id with any weight
}

// Leaves in cands_ the candidates sample() draws from with their weights .p and
// returns the weights' sum; greedy leaves only the argmax, weight 1.
double Sampler::weigh(const float* logits) {
  cands_.resize(static_cast<size_t>(n_vocab_));
  for (int32_t i = 0; i < n_vocab_; ++i) cands_[i] = {i, logits[i], 0.0f};

  // Penalties over the recent window.
  const bool penalize = p_.repeat_penalty != 1.0f || p_.frequency_penalty != 0.0f || p_.presence_penalty != 0.0f;
  if (penalize && !history_.empty()) {
    std::unordered_map<int32_t, int> counts;
    for (int32_t t : history_) counts[t]++;
    for (auto [id, n] : counts) {
      if (id < 0 || id >= n_vocab_) continue;
      float& l = cands_[id].logit;
      if (p_.repeat_penalty != 1.0f && p_.repeat_penalty > 0.0f) l = l > 0 ? l / p_.repeat_penalty : l * p_.repeat_penalty;
      l -= static_cast<float>(n) * p_.frequency_penalty + p_.presence_penalty;
    }
  }
  if (p_.temp <= 0.0f) {
    int32_t best = 0;
    for (int32_t i = 1; i < n_vocab_; ++i)
      if (cands_[i].logit > cands_[best].logit) best = i;
    if (logprobs_n_ >= 0) {  // record_logprobs() needs every candidate; sample() takes cands_[0]
      std::swap(cands_[0], cands_[best]);
      cands_[0].p = 1.0f;
      return 1.0;
    }
    cands_[0] = {best, cands_[best].logit, 1.0f};
    cands_.resize(1);
    return 1.0;
  }

  // Sorting the whole vocabulary costs more than a decode step's sampling should
  // (it was 18% of batched serve time), so skip it when no filter needs order.
  const bool top_k_on = p_.top_k > 0 && static_cast<size_t>(p_.top_k) < cands_.size();
  const bool top_p_on = p_.top_p < 1.0f;
  if (!top_k_on && !top_p_on) {
    if (p_.min_p > 0.0f) {
      // min-p at temperature 1 keeps p >= min_p * p_top, i.e. logit >= max + log(min_p):
      // filter first, then only the survivors need sorting (same list as before).
      const float mx = max_logit();
      const float cut = std::min(mx, mx + std::log(p_.min_p));  // min_p > 1 still keeps the top
      std::erase_if(cands_, [cut](const Cand& c) { return c.logit < cut; });
    } else {
      return weigh_unsorted();
    }
  }

  // top-k: keep the k largest, sorted descending.
  size_t k = cands_.size();
  if (p_.top_k > 0) k = std::min(k, static_cast<size_t>(p_.top_k));
  auto by_logit = [](const Cand& a, const Cand& b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); };
  std::partial_sort(cands_.begin(), cands_.begin() + static_cast<std::ptrdiff_t>(k), cands_.end(), by_logit);
  cands_.resize(k);

  auto softmax = [&](float temp) {
    const float mx = cands_[0].logit;
    double sum = 0;
    for (auto& c : cands_) sum += (c.p = std::exp((c.logit - mx) / temp));
    for (auto& c : cands_) c.p = static_cast<float>(c.p / sum);
  };
  // top-p: smallest prefix whose probability mass reaches p.
  if (p_.top_p < 1.0f) {
    softmax(1.0f);
    double cum = 0;
    size_t keep = cands_.size();
    for (size_t i = 0; i < cands_.size(); ++i) {
      cum += cands_[i].p;
      if (cum >= p_.top_p) {
        keep = i + 1;
        break;
      }
    }
    cands_.resize(keep);
  }
  // min-p: drop tokens below min_p times the top probability.
  if (p_.min_p > 0.0f) {
    softmax(1.0f);
    const float cut = cands_[0].p * p_.min_p;
    size_t keep = 1;
    while (keep < cands_.size() && cands_[keep].p >= cut) ++keep;
    cands_.resize(keep);
  }
  softmax(p_.temp);
  return 1.0;
}

float Sampler::max_logit() const {
  float mx = cands_[0].logit;
  for (const auto& c : cands_) mx = std::max(mx, c.logit);
  return mx;
}

// Temperature only: weights softmax(logit / temp) over the vocabulary in id order, unnormalised.
double Sampler::weigh_unsorted() {
  const float mx = max_logit();
  double sum = 0;
  for (auto& c : cands_) sum += (c.p = std::exp((c.logit - mx) / p_.temp));
  return sum;
}

// One draw from the weights cands_[].p, which add up to `sum`.
int32_t Sampler::draw(double sum) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double r = u(rng_) * sum;
  double cum = 0;
  for (const auto& c : cands_) {
    cum += c.p;
    if (r < cum) return c.id;
  }
  // Rounding left r at the end: the last token with any mass (never a masked one).
  for (auto it = cands_.rbegin(); it != cands_.rend(); ++it)
    if (it->p > 0) return it->id;
  return cands_.back().id;
}

}  // namespace pocketllm
