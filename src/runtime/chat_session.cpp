#include "runtime/chat_session.h"

#include <algorithm>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm {

ChatSession::ChatSession(Context& ctx, const ChatFormatter& fmt, const SamplingParams& sp)
    : ctx_(ctx), fmt_(fmt), sampler_(sp, ctx.model().n_sampleable()) {}

void ChatSession::set_system(const std::string& system) { system_ = system; }

void ChatSession::clear() { msgs_.clear(); }

std::vector<int32_t> ChatSession::render_ids(int& dropped, const std::function<void(const std::string&)>& notice,
                                             int64_t reserve) {
  for (;;) {
    std::vector<ChatMessage> all;
    if (!system_.empty()) all.push_back({"system", system_});
    all.insert(all.end(), msgs_.begin(), msgs_.end());
    std::vector<int32_t> ids = fmt_.tokenize(fmt_.render(all, true));
    if (static_cast<int64_t>(ids.size()) + reserve <= ctx_.n_ctx()) return ids;
    // Context full: drop the oldest exchange (the system prompt stays).
    if (msgs_.size() <= 1)
      fail("the message needs {} tokens, more than the context size {} allows", ids.size(), ctx_.n_ctx());
    const size_t n = (msgs_.size() >= 2 && msgs_[1].role == "assistant") ? 2 : 1;
    msgs_.erase(msgs_.begin(), msgs_.begin() + static_cast<std::ptrdiff_t>(n));
    ++dropped;
    if (notice) notice("context full: dropped the oldest turn to make room");
  }
}

TurnResult ChatSession::respond(const std::string& user, const TurnOptions& opt) {
  TurnResult r;
  msgs_.push_back({"user", user});
  // Keep room for at least a short answer (or the requested length, up to a quarter of the context).
  const int64_t reserve = std::min<int64_t>(opt.n_predict > 0 ? opt.n_predict : 64, ctx_.n_ctx() / 4);
  std::vector<int32_t> ids;
  try {
    ids = render_ids(r.dropped_turns, opt.on_notice, reserve);
  } catch (...) {
    msgs_.pop_back();
    throw;
  }
  cached_.resize(std::min(cached_.size(), static_cast<size_t>(ctx_.n_past())));
  const size_t lcp = reusable_prefix(cached_, ids);
  ctx_.truncate(static_cast<int64_t>(lcp));
  cached_.resize(lcp);  // what stays valid should the turn fail
  r.reused = static_cast<int64_t>(lcp);
  r.prompt_tokens = static_cast<int64_t>(ids.size());

  sampler_.reset();
  GenerationLimits lim;
  const int64_t room = ctx_.n_ctx() - static_cast<int64_t>(ids.size());
  lim.max_tokens = opt.n_predict >= 0 ? std::min(opt.n_predict, room) : room;
  lim.stop = opt.stop;
  lim.grammar = make_grammar_matcher(opt.grammar, ctx_.model().tokenizer);
  Generation g(ctx_.model(), std::move(sampler_), std::move(lim));
  g.start(ids);
  try {
    r.stats = generate(ctx_, g, ids, static_cast<int64_t>(lcp), [&](const std::string& shown) {
      r.text += shown;
      if (opt.on_text && !shown.empty()) opt.on_text(shown);
      return !(opt.cancel && opt.cancel->load());
    }, spec_);
  } catch (...) {
    sampler_ = std::move(g.sampler());  // the RNG goes on from where it was
    throw;
  }
  sampler_ = std::move(g.sampler());
  r.finish_reason = finish_reason_name(g.finish());
  // What the KV cache now holds: the prompt and every drawn token that was run.
  cached_ = ids;
  cached_.insert(cached_.end(), g.tokens().begin(), g.tokens().begin() + g.n_run());
  cached_.resize(std::min(cached_.size(), static_cast<size_t>(ctx_.n_past())));
  r.prompt_ids = ids;
  r.generated = g.tokens();
  msgs_.push_back({"assistant", r.text});
  return r;
}

}  // namespace pocketllm
