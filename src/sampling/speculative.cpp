#include "sampling/speculative.h"

#include <algorithm>

#include "core/error.h"

namespace pocketllm {

DraftVerdict verify_draft_token(const std::vector<float>& p, const float* q, int32_t x, Sampler& s,
                                std::vector<float>& scratch) {
  if (x < 0 || static_cast<size_t>(x) >= p.size()) fail("drafted token {} is outside the vocabulary", x);
  const auto xi = static_cast<size_t>(x);
  const double qx = q ? q[xi] : 1.0;
  // p(x) >= q(x) keeps x for sure: no draw, so a greedy target never touches the RNG here.
  if (p[xi] >= qx || s.uniform() * qx < p[xi]) return {true, x};
  scratch.resize(p.size());
  double mass = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const float qi = q ? q[i] : (i == xi ? 1.0f : 0.0f);
    scratch[i] = std::max(0.0f, p[i] - qi);
    mass += scratch[i];
  }
  // p == q up to rounding leaves no residual mass: then p itself is the right law.
  return {false, s.draw_from(mass > 0 ? scratch : p)};
}

}  // namespace pocketllm
