#include "runtime/session.h"

#include <algorithm>

#include "runtime/session_file.h"

namespace pocketllm {

Session::Session(const Model& m, const ContextParams& p) : ctx_(m, p) {}

void Session::check_ids(std::span<const int32_t> ids) const {
  const int64_t n_vocab = ctx_.model().cfg.n_vocab;
  for (int32_t id : ids)
    if (id < 0 || id >= n_vocab) fail("token id {} is not in the vocabulary (0..{})", id, n_vocab - 1);
}

void Session::append(std::span<const int32_t> ids) {
  check_ids(ids);
  if (tokens_.size() + ids.size() > static_cast<size_t>(n_ctx()))
    throw ContextFullError(fmt::format("{} more tokens do not fit: the session holds {} of a context of {}",
                                       ids.size(), tokens_.size(), n_ctx()));
  tokens_.insert(tokens_.end(), ids.begin(), ids.end());
}

size_t Session::replace(std::span<const int32_t> ids) {
  check_ids(ids);
  if (ids.size() > static_cast<size_t>(n_ctx()))
    throw ContextFullError(fmt::format("{} tokens do not fit in a context of {}", ids.size(), n_ctx()));
  size_t common = 0;
  while (common < tokens_.size() && common < ids.size() && tokens_[common] == ids[common]) ++common;
  const size_t kept = std::min(common, static_cast<size_t>(n_cached()));
  ctx_.truncate(static_cast<int64_t>(kept));
  tokens_.assign(ids.begin(), ids.end());
  return kept;
}

void Session::reset() {
  ctx_.truncate(0);
  tokens_.clear();
}

GenerateStats Session::generate(const GenerateOptions& o) {
  if (tokens_.empty()) throw CallOrderError("the session is empty: append tokens, text or a chat before generating");
  if (tokens_.size() > static_cast<size_t>(n_ctx()))
    throw ContextFullError(fmt::format("the context ({} tokens) is full: reset the session or replace its conversation",
                                       n_ctx()));
  // At least the last token runs: its logits are the first draw's (batch invariance
  // makes re-running a cached token give its cached keys and values again).
  const int64_t cached = std::min<int64_t>(n_cached(), static_cast<int64_t>(tokens_.size()) - 1);
  ctx_.truncate(cached);
  Generation g(ctx_.model(), Sampler(o.sampling, static_cast<int32_t>(ctx_.model().cfg.n_vocab)), o.limits);
  const std::string echo = g.start(tokens_, o.echo_prompt);
  if (o.echo_prompt && o.on_token && !o.on_token(-1, echo)) g.cancel();
  auto keep = [&] {  // the drawn tokens join the session, also when a pass fails midway
    tokens_.insert(tokens_.end(), g.tokens().begin(), g.tokens().end());
  };
  GenerateStats st;
  try {
    st = pocketllm::generate(ctx_, g, tokens_, cached, [&](const std::string& text) {
      const bool go = !o.on_token || o.on_token(g.tokens().back(), text);
      return go && !(o.cancel && o.cancel->load());
    });
  } catch (...) {
    keep();
    throw;
  }
  keep();
  return st;
}

const ModelFingerprint& Session::fingerprint() {
  if (!fp_) fp_ = pocketllm::fingerprint(ctx_.model());
  return *fp_;
}

void Session::save(const std::string& path) { save_session_file(path, fingerprint(), ctx_.sequence(), tokens_); }

void Session::load(const std::string& path) { load_session_file(path, fingerprint(), ctx_.sequence(), tokens_); }

}  // namespace pocketllm
