// `pocketllm bench --draft/--lookup`: speculative decoding against plain
// decoding on real prompts (random ids, as tg uses, give a draft nothing to
// guess). Each repetition decodes every prompt greedily both ways, alternating,
// so load drifts hit both alike; greedy makes the two outputs identical, so
// the speeds compare the same tokens.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/context.h"
#include "runtime/speculator.h"

namespace pocketllm::bench {

struct SpecBenchParams {
  std::vector<std::vector<int32_t>> prompts;  // token ids, each run from an empty context
  int n_gen = 128;                            // tokens generated per prompt (the model's end token ignored)
  int reps = 3;
  ContextParams ctx;  // the context to make: n_ctx must hold the longest prompt + n_gen + draft_max
};

struct SpecBenchResult {
  std::vector<double> plain_tps, spec_tps;  // decode t/s per repetition (all prompts together)
  SpeculationStats stats;                   // over every repetition
  int64_t tokens = 0;                       // decoded tokens per repetition
  double plain_median() const;
  double spec_median() const;
  double tokens_per_pass() const;
};

// spec is reused across prompts and repetitions (its adaptive draft length carries over).
// ctx: made from p.ctx by the caller (a draft model shares its thread pool).
SpecBenchResult run_spec_bench(const SpecBenchParams& p, Context& ctx, Speculator& spec);

// The markdown table: plain and speculative rows, acceptance, tokens per pass, t/s, speedup.
std::string format_spec_markdown(const SpecBenchResult& r, const std::string& mode, int n_prompts, int n_gen);

// The verification cost curve: time of one forward pass of k+1 rows (the last
// token and k drafts) at context position n_past, for k = 0..k_max; every
// repetition runs each k once in turn and rolls the rows back. Medians in ms.
std::vector<double> verify_cost_curve(const Model& m, const ContextParams& cp, int k_max, int reps, int n_past);
std::string format_verify_markdown(const std::vector<double>& ms, int n_past);

}  // namespace pocketllm::bench
