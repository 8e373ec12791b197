#include "runtime/generate.h"

#include "core/error.h"
#include "core/timer.h"

namespace pocketllm {

GenerateStats generate(Context& ctx, Sampler& sampler, const std::vector<int32_t>& prompt, const GenerateOptions& opt) {
  GenerateStats st;
  if (prompt.empty()) fail("the prompt has no tokens");
  const int64_t n_vocab = ctx.model().cfg.n_vocab;
  Timer t;
  const float* logits = ctx.eval(prompt.data(), static_cast<int64_t>(prompt.size()));
  for (int32_t id : prompt) sampler.accept(id);
  st.n_prompt = static_cast<int64_t>(prompt.size());
  st.prefill_ms = t.ms();
  t.reset();
  (void)n_vocab;
  for (;;) {
    if (opt.n_predict >= 0 && st.n_gen >= opt.n_predict) {
      st.stop = GenerateStats::Stop::Length;
      break;
    }
    const int32_t id = sampler.sample(logits);
    sampler.accept(id);
    ++st.n_gen;
    if (opt.is_eog && opt.is_eog(id)) {
      st.stop = GenerateStats::Stop::Eog;
      break;
    }
    if (opt.on_token && !opt.on_token(id)) {
      st.stop = GenerateStats::Stop::Callback;
      break;
    }
    if (opt.n_predict >= 0 && st.n_gen >= opt.n_predict) {
      st.stop = GenerateStats::Stop::Length;
      break;
    }
    if (ctx.n_past() >= ctx.n_ctx()) {
      st.stop = GenerateStats::Stop::Context;
      break;
    }
    logits = ctx.eval(&id, 1);
  }
  st.decode_ms = t.ms();
  return st;
}

}  // namespace pocketllm
