// Speculative decoding: a draft source guesses the next k tokens, the target
// runs the last token and the k guesses in ONE forward pass (k+1 rows, all
// with logits), and keeps the guesses its own sampling agrees with
// (sampling/speculative.h); the first disagreement is replaced by the
// target's own token, and the sequence forgets the rejected rows
// (Sequence::truncate). Decode is memory-bound: k+1 rows cost little more
// than one, so every accepted guess is a token for almost nothing.
//
// Exactness: the engine's logits of a row do not depend on the other rows of
// its batch (model/engine.h), so a greedy generation is token-for-token the
// one plain decoding gives; with sampling the tokens follow the same law.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "model/engine.h"
#include "runtime/draft_source.h"
#include "runtime/generation.h"

namespace pocketllm {

struct SpeculatorParams {
  int draft_max = 8;  // most tokens drafted per target pass
  int draft_min = 1;  // fewer drafted tokens than this are not worth a check: decode plainly
};

struct SpeculationStats {
  int64_t passes = 0;    // target forward passes of the decode loop
  int64_t drafted = 0;   // tokens proposed and checked
  int64_t accepted = 0;  // of them, kept
  double acceptance() const { return drafted > 0 ? static_cast<double>(accepted) / drafted : 0.0; }
};

class Speculator {
 public:
  Speculator(std::unique_ptr<DraftSource> source, const SpeculatorParams& p);

  // One target pass while !g.done(): runs g.last() (not yet in `seq`) and the
  // drafted tokens, pushes the tokens kept into g, and leaves seq holding
  // exactly `prompt` + every token of g but the last, as plain decoding would.
  // `prompt`: what seq held before g's first token. Returns the text shown.
  std::string step(Engine& e, Sequence& seq, Generation& g, std::span<const int32_t> prompt);

  // step() in two halves, for a caller that batches several sequences in one
  // pass (the server): draft() proposes the tokens to run after g.last() (at
  // most max_rows - 1 of them); the caller runs g.last() and drafted() as
  // consecutive rows of seq, all with logits; verify() takes those logits.
  const std::vector<int32_t>& draft(const Sequence& seq, const Generation& g, std::span<const int32_t> prompt,
                                    int64_t max_rows);
  std::string verify(const float* logits, int64_t stride, Sequence& seq, Generation& g,
                     std::span<const int32_t> prompt);

  // Draft length for the next pass: +2 after a pass that kept every guess,
  // -1 after one that did not (the heuristic of Hugging Face's assisted
  // generation), within [draft_min, draft_max].
  int draft_len() const { return k_; }
  // The sampling of the generation about to start (a draft model samples alike).
  void set_sampling(const SamplingParams& sp) { src_->set_sampling(sp); }
  const SpeculationStats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }

 private:
  std::unique_ptr<DraftSource> src_;
  SpeculatorParams p_;
  int k_;
  SpeculationStats stats_;
  Draft draft_;
  int64_t base_ = -1;  // seq.n_past() when draft() ran
  std::vector<int32_t> context_;
  std::vector<Engine::Row> rows_;
  std::vector<float> p_dist_, scratch_;
};

}  // namespace pocketllm
