// Prompt-lookup drafting: when the last n tokens of the context appeared
// earlier in it, guess that what followed them then follows now. No second
// model, almost no cost; it pays where the answer repeats its input
// (rewriting, summarising, editing code) and proposes nothing elsewhere.
#pragma once
#include "runtime/draft_source.h"

namespace pocketllm {

// The tokens (at most n_max) that followed the most recent earlier occurrence
// of the context's last n tokens, for n from ngram_max down to 1: longer
// matches first, as they predict better. Empty when nothing matches.
std::vector<int32_t> lookup_continuation(std::span<const int32_t> context, int ngram_max, int n_max);

class LookupDraft : public DraftSource {
 public:
  explicit LookupDraft(int ngram_max);
  void propose(std::span<const int32_t> context, int n_max, Draft& out) override;

 private:
  int ngram_max_;
};

}  // namespace pocketllm
