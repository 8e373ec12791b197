// The prefill/decode loop of one sequence: the prompt (after the prefix the
// context already holds) is evaluated in batches, the first new token is drawn
// from the logits after the LAST prompt token, then one token per step until
// the Generation ends (runtime/generation.h decides how and why).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/context.h"
#include "runtime/generation.h"
#include "runtime/speculator.h"

namespace pocketllm {

struct GenerateStats {
  int64_t n_prompt = 0;   // tokens prefilled (excluding the reused prefix)
  int64_t n_gen = 0;      // tokens drawn (an end-of-generation token included)
  double prefill_ms = 0, decode_ms = 0;
  Finish finish = Finish::None;
  SpeculationStats spec;  // with a speculator: its passes, drafted and accepted tokens
  double prefill_tps() const { return prefill_ms > 0 ? n_prompt * 1000.0 / prefill_ms : 0; }
  // Decode speed counts the forward passes of generated tokens only (the first
  // token comes from the prefill's logits).
  double decode_tps() const { return decode_ms > 0 && n_gen > 1 ? (n_gen - 1) * 1000.0 / decode_ms : 0; }
};

// Runs `prompt` from position n_cached (ctx must hold exactly prompt[0, n_cached))
// and then `g` (already started: Generation::start) until it ends. on_text is called after every token drawn with the
// answer text that can be shown now (often empty); returning false stops the
// generation (Finish::Cancelled). With a speculator, each decode pass checks its
// drafts (runtime/speculator.h): greedy output is the same, only faster.
GenerateStats generate(Context& ctx, Generation& g, const std::vector<int32_t>& prompt, int64_t n_cached = 0,
                       const std::function<bool(const std::string&)>& on_text = {}, Speculator* spec = nullptr);

}  // namespace pocketllm
