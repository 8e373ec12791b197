// pllm_session_generate: sampling parameters and limits checked, then the session's
// generate loop with the app's per-token callback.
#include <cmath>

#include "capi/handles.h"

using namespace pocketllm;
using namespace pocketllm::capi;

namespace {

SamplingParams sampling_of(const pllm_sampling_params& p) {
  for (float v : {p.temperature, p.top_p, p.min_p, p.repeat_penalty, p.frequency_penalty, p.presence_penalty})
    if (!std::isfinite(v)) raise(PLLM_ERR_INVALID_ARGUMENT, "a sampling parameter is not a finite number");
  if (p.repeat_penalty <= 0) raise(PLLM_ERR_INVALID_ARGUMENT, "repeat_penalty {} must be > 0 (1: off)", p.repeat_penalty);
  if (p.repeat_last_n < 0) raise(PLLM_ERR_INVALID_ARGUMENT, "repeat_last_n {} must be >= 0", p.repeat_last_n);
  SamplingParams s;
  s.temp = p.temperature;
  s.top_k = p.top_k;
  s.top_p = p.top_p;
  s.min_p = p.min_p;
  s.repeat_penalty = p.repeat_penalty;
  s.repeat_last_n = p.repeat_last_n;
  s.frequency_penalty = p.frequency_penalty;
  s.presence_penalty = p.presence_penalty;
  s.seed = p.seed;
  return s;
}

pllm_finish finish_of(Finish f) {
  switch (f) {
    case Finish::None: return PLLM_FINISH_NONE;
    case Finish::Eog: return PLLM_FINISH_EOG;
    case Finish::StopString: return PLLM_FINISH_STOP_STRING;
    case Finish::Length: return PLLM_FINISH_LENGTH;
    case Finish::Context: return PLLM_FINISH_CONTEXT;
    case Finish::Cancelled: return PLLM_FINISH_CANCELLED;
  }
  return PLLM_FINISH_NONE;
}

}  // namespace

extern "C" {

void pllm_generate_default_params(pllm_generate_params* p) {
  if (!p) return;
  const SamplingParams s;
  *p = pllm_generate_params{};
  p->sampling = pllm_sampling_params{s.temp,           s.top_k,         s.top_p,
                                     s.min_p,          s.repeat_penalty, s.repeat_last_n,
                                     s.frequency_penalty, s.presence_penalty, s.seed};
  p->max_tokens = -1;
}

pllm_status pllm_session_generate(pllm_session* session, const pllm_generate_params* params,
                                  pllm_generate_result* result) {
  return with_session(session, PLLM_ERR_INTERNAL, [&](pllm_session& s) {
    s.cancel.store(false);  // a cancel counts for the call in progress only
    if (result) *result = pllm_generate_result{};
    const pllm_generate_params& p = need(params, "params");
    Session::GenerateOptions o;
    o.sampling = sampling_of(p.sampling);
    o.limits.max_tokens = p.max_tokens;
    if (!p.stop && p.n_stop) raise(PLLM_ERR_INVALID_ARGUMENT, "stop is NULL with a count of {}", p.n_stop);
    for (size_t i = 0; i < p.n_stop; ++i) o.limits.stop.emplace_back(need_text(p.stop[i].data, p.stop[i].len, "a stop string"));
    o.echo_prompt = p.echo_prompt != 0;
    o.on_token = [&p, &s](int32_t token, const std::string& text) {
      if (p.on_token && p.on_token(p.user_data, token, text.c_str(), text.size()) != 0) return false;
      return !(s.state.load() & pllm_session::kFreePending);  // pllm_session_free came meanwhile
    };
    o.cancel = &s.cancel;
    const GenerateStats st = s.session.generate(o);
    if (result)
      *result = pllm_generate_result{finish_of(st.finish), st.n_prompt,    st.n_gen,       st.prefill_ms,
                                     st.decode_ms,         st.prefill_tps(), st.decode_tps()};
  });
}

}  // extern "C"
