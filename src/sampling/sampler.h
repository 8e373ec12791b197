// Turns logits into the next token: penalties -> top-k -> top-p -> min-p ->
// temperature -> draw, as llama.cpp orders them. temp <= 0 is greedy (argmax,
// first index wins ties). Same seed, same sequence.
#pragma once
#include <cstdint>
#include <deque>
#include <random>
#include <vector>

namespace pocketllm {

struct SamplingParams {
  float temp = 0.8f;
  int32_t top_k = 40;         // <= 0: off
  float top_p = 0.95f;        // >= 1: off
  float min_p = 0.05f;        // <= 0: off
  float repeat_penalty = 1.0f;   // llama.cpp's multiplicative penalty; 1: off
  int32_t repeat_last_n = 64;    // window of past tokens the penalties look at
  float frequency_penalty = 0.0f;  // OpenAI's additive penalties
  float presence_penalty = 0.0f;
  int64_t seed = -1;             // < 0: random
};

// A token and its log-probability under the distribution a draw came from.
struct TokenProb {
  int32_t id;
  float logprob;
};

class Sampler {
 public:
  // n_vocab: the ids it may draw, [0, n_vocab). A logits row may be longer (a model's
  // embedding padded past its tokenizer, Model::n_sampleable()): the rest is never drawn.
  Sampler(const SamplingParams& p, int32_t n_vocab);
  // Picks a token from logits[0, n_vocab) (logits are not modified).
  int32_t sample(const float* logits);
  // The distribution sample() draws from, over [0, n_vocab): penalties and
  // filters applied, zeros for filtered ids; greedy: one-hot at the argmax.
  // Speculative sampling compares it with a draft's (sampling/speculative.h).
  void distribution(const float* logits, std::vector<float>& p);
  // One draw from weights w (any non-negative sum > 0) with this sampler's RNG.
  int32_t draw_from(const std::vector<float>& w);
  double uniform();  // [0, 1) from this sampler's RNG
  // Records a token of the context (prompt or generated) for the penalties.
  void accept(int32_t id);
  void reset();  // forgets history (the RNG keeps its state)
  const SamplingParams& params() const { return p_; }
  int32_t n_vocab() const { return n_vocab_; }
  void set_params(const SamplingParams& p);
  // top_n >= 0: each sample() records the log-probabilities of the distribution it
  // drew from (penalties, filters and temperature applied, renormalised; greedy:
  // softmax of the penalised logits at temperature 1, whose top is its choice):
  // the drawn token's and the top_n most likely (fewer when fewer have any mass).
  // < 0: off (the default; it costs a pass over the vocabulary).
  void set_logprobs(int32_t top_n) { logprobs_n_ = top_n; }
  float last_logprob() const { return last_logprob_; }
  const std::vector<TokenProb>& last_top() const { return last_top_; }

 private:
  SamplingParams p_;
  int32_t n_vocab_;
  std::mt19937_64 rng_;
  std::deque<int32_t> history_;
  struct Cand {
    int32_t id;
    float logit;
    float p;
  };
  std::vector<Cand> cands_;
  int32_t logprobs_n_ = -1;
  float last_logprob_ = 0;
  std::vector<TokenProb> last_top_;
  void record_logprobs(float temp, int32_t chosen);
  float max_logit() const;
  double weigh(const float* logits);
  double weigh_unsorted();
  int32_t draw(double sum);
};

// Index of the largest value (first on ties).
int32_t argmax(const float* x, int64_t n);

}  // namespace pocketllm
