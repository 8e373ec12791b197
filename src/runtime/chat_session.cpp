#include "runtime/chat_session.h"

#include <algorithm>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm {

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

std::string StopStringFilter::push(const std::string& text) {
  if (stopped_) return "";
  pending_ += text;
  for (auto& s : stops_) {
    if (s.empty()) continue;
    auto pos = pending_.find(s);
    if (pos != std::string::npos) {
      stopped_ = true;
      std::string out = pending_.substr(0, pos);
      pending_.clear();
      return out;
    }
  }
  // Keep the longest tail that is a prefix of some stop string.
  size_t keep = 0;
  for (auto& s : stops_)
    for (size_t k = std::min(s.size() - (s.empty() ? 0 : 1), pending_.size()); k > keep; --k)
      if (pending_.compare(pending_.size() - k, k, s, 0, k) == 0) {
        keep = k;
        break;
      }
  std::string out = pending_.substr(0, pending_.size() - keep);
  pending_.erase(0, pending_.size() - keep);
  return out;
}

std::string StopStringFilter::flush() {
  std::string out;
  std::swap(out, pending_);
  return stopped_ ? "" : out;
}

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
  size_t lcp = std::min(common_prefix(ids, cached_), static_cast<size_t>(ctx_.n_past()));
  if (lcp == ids.size()) --lcp;  // at least one token must run to produce logits
  ctx_.truncate(static_cast<int64_t>(lcp));
  r.reused = static_cast<int64_t>(lcp);
  r.prompt_tokens = static_cast<int64_t>(ids.size());
  std::vector<int32_t> rest(ids.begin() + static_cast<std::ptrdiff_t>(lcp), ids.end());

  const Tokenizer& tok = *ctx_.model().tokenizer;
  StreamDecoder dec(tok, true);
  StopStringFilter stops(opt.stop);
  std::vector<int32_t> generated;
  sampler_.reset();
  for (size_t i = 0; i < lcp; ++i) sampler_.accept(ids[i]);
  GenerateOptions go;
  const int64_t room = ctx_.n_ctx() - static_cast<int64_t>(ids.size());
  go.n_predict = opt.n_predict >= 0 ? std::min(opt.n_predict, room) : room;
  go.is_eog = [&](int32_t id) {
    sampler_last_ = id;
    return tok.is_eog(id);
  };
  go.on_token = [&](int32_t id) {
    generated.push_back(id);
    std::string shown = stops.push(dec.push(id));
    r.text += shown;
    if (opt.on_text && !shown.empty()) opt.on_text(shown);
    if (stops.stopped()) return false;
    return !(opt.cancel && opt.cancel->load());
  };
  r.stats = generate(ctx_, sampler_, rest, go);
  if (!stops.stopped()) {
    std::string tail = stops.push(dec.flush());
    tail += stops.flush();
    r.text += tail;
    if (opt.on_text && !tail.empty()) opt.on_text(tail);
  }
  r.finish_reason = (r.stats.stop == GenerateStats::Stop::Length || r.stats.stop == GenerateStats::Stop::Context)
                        ? "length"
                        : "stop";
  // What the KV cache now holds: the prompt and every generated token that was evaluated.
  cached_ = ids;
  if (r.stats.stop == GenerateStats::Stop::Eog || generated.empty()) {
    cached_.insert(cached_.end(), generated.begin(), generated.end());
  } else {
    cached_.insert(cached_.end(), generated.begin(), generated.end() - 1);
  }
  cached_.resize(std::min(cached_.size(), static_cast<size_t>(ctx_.n_past())));
  r.prompt_ids = ids;
  r.generated = generated;
  if (r.stats.stop == GenerateStats::Stop::Eog) r.generated.push_back(sampler_last_);
  msgs_.push_back({"assistant", r.text});
  return r;
}

}  // namespace pocketllm
