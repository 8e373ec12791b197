// Where speculative decoding gets its guesses: a source proposes the tokens
// likely to follow a context, and the target model checks them all in one
// forward pass (runtime/speculator.h). Two sources: prompt lookup (n-gram
// matches in the context itself: runtime/lookup_draft.h) and a smaller model
// with the same vocabulary (runtime/model_draft.h).
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "sampling/sampler.h"

namespace pocketllm {

struct Draft {
  std::vector<int32_t> tokens;
  // [tokens.size()][n_vocab]: the distribution each token was drawn from, which
  // speculative sampling needs; empty when the draft is deterministic (q one-hot).
  std::vector<float> q;
  void clear() {
    tokens.clear();
    q.clear();
  }
};

class DraftSource {
 public:
  virtual ~DraftSource() = default;
  // Proposes at most n_max tokens to follow `context` (every token of the
  // sequence, prompt included; the target has not run the last one yet).
  virtual void propose(std::span<const int32_t> context, int n_max, Draft& out) = 0;
  // A new generation with these sampling parameters (a server slot serves
  // requests that sample differently); sources that do not sample ignore it.
  virtual void set_sampling(const SamplingParams&) {}
};

}  // namespace pocketllm
