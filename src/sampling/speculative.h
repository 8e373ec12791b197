// Speculative sampling (Leviathan et al. 2023, Chen et al. 2023): a drafted
// token x, drawn from the draft's distribution q, is kept with probability
// min(1, p(x)/q(x)), where p is the target's distribution at that position;
// when it is rejected, the token is drawn from max(0, p - q), normalised. The
// tokens kept are then distributed exactly as draws from p: drafting changes
// the speed, never what is sampled. A deterministic draft (prompt lookup, a
// greedy draft model) has q one-hot at x: keep x with probability p(x), else
// draw from p without x. Greedy targets (p one-hot) keep x iff it is the argmax.
#pragma once
#include <cstdint>
#include <vector>

#include "sampling/sampler.h"

namespace pocketllm {

struct DraftVerdict {
  bool accepted = false;
  int32_t token = -1;  // x when accepted, else the token drawn in its place
};

// p: the target's distribution (Sampler::distribution); q: the draft's, or
// nullptr for a deterministic draft. Draws with s's RNG; `scratch` is reused.
DraftVerdict verify_draft_token(const std::vector<float>& p, const float* q, int32_t x, Sampler& s,
                                std::vector<float>& scratch);

}  // namespace pocketllm
