// Greedy generation for model tests: the ids generated after `prompt`, stopping
// at n tokens or when `is_eog` says so (the stop token is not included).
#pragma once
#include <functional>
#include <vector>

#include "model/context.h"
#include "runtime/generate.h"
#include "runtime/generation.h"
#include "sampling/sampler.h"

namespace testsupport {

inline std::vector<int32_t> greedy_ids(const pocketllm::Model& m, const std::vector<int32_t>& prompt, int64_t n,
                                       pocketllm::ContextParams p = {},
                                       std::function<bool(int32_t)> is_eog = [](int32_t) { return false; }) {
  using namespace pocketllm;
  if (p.n_threads == 0) p.n_threads = 1;
  Context ctx(m, p);
  SamplingParams sp;
  sp.temp = 0;
  GenerationLimits lim;
  lim.max_tokens = n;
  lim.is_eog = std::move(is_eog);
  Generation g(m, Sampler(sp, static_cast<int32_t>(m.cfg.n_vocab)), std::move(lim));
  g.start(prompt);
  generate(ctx, g, prompt);
  std::vector<int32_t> out = g.tokens();
  if (g.finish() == Finish::Eog) out.pop_back();  // the stop token is not included
  return out;
}

}  // namespace testsupport
