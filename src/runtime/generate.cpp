#include "runtime/generate.h"

#include "core/error.h"
#include "core/timer.h"

namespace pocketllm {

GenerateStats generate(Context& ctx, Generation& g, const std::vector<int32_t>& prompt, int64_t n_cached,
                       const std::function<bool(const std::string&)>& on_text, Speculator* spec) {
  GenerateStats st;
  const auto n = static_cast<int64_t>(prompt.size());
  if (n_cached < 0 || n_cached >= n) fail("the prompt has no tokens to run (of {}, {} cached)", n, n_cached);
  if (ctx.n_past() != n_cached) fail("the context holds {} tokens, not the {} cached ones", ctx.n_past(), n_cached);
  Timer t;
  const float* logits = ctx.eval(prompt.data() + n_cached, n - n_cached);
  st.n_prompt = n - n_cached;
  st.prefill_ms = t.ms();
  t.reset();
  const SpeculationStats before = spec ? spec->stats() : SpeculationStats{};
  // Done before the first draw (max_tokens 0): nothing was drawn, so nothing is shown
  // (a callback would have no token to name).
  const bool draws = !g.done();
  std::string text = draws ? g.step(logits, ctx.n_ctx() - ctx.n_past()) : "";
  while (draws) {
    if (on_text && !on_text(text)) g.cancel();
    if (g.done()) break;
    if (spec) {
      text = spec->step(ctx.engine(), ctx.sequence(), g, prompt);
    } else {
      const int32_t id = g.last();
      logits = ctx.eval(&id, 1);
      text = g.step(logits, ctx.n_ctx() - ctx.n_past());
    }
  }
  if (spec) {
    st.spec = spec->stats();
    st.spec.passes -= before.passes;
    st.spec.drafted -= before.drafted;
    st.spec.accepted -= before.accepted;
  }
  st.n_gen = static_cast<int64_t>(g.tokens().size());
  st.decode_ms = t.ms();
  st.finish = g.finish();
  return st;
}

}  // namespace pocketllm
