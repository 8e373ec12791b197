#include "runtime/generation.h"

#include <algorithm>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <utility>

#include "core/error.h"
#include "core/timer.h"
#include "grammar/matcher.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm {

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

const char* finish_reason_name(Finish f) { return f == Finish::Length || f == Finish::Context ? "length" : "stop"; }

Generation::Generation(const Model& m, Sampler sampler, GenerationLimits limits)
    : m_(&m), sampler_(std::move(sampler)), lim_(std::move(limits)), stops_(lim_.stop) {
  if (m.tokenizer) dec_ = std::make_unique<StreamDecoder>(*m.tokenizer, true);
  if (!lim_.is_eog && m.tokenizer) lim_.is_eog = [tok = m.tokenizer](int32_t id) { return tok->is_eog(id); };
  if (lim_.logprobs >= 0) sampler_.set_logprobs(lim_.logprobs);
}

Generation::~Generation() = default;
Generation::Generation(Generation&&) noexcept = default;

std::string Generation::start(std::span<const int32_t> prompt, bool echo_prompt) {
  std::string text;
  for (int32_t id : prompt) {
    sampler_.accept(id);
    if (echo_prompt && dec_) text += dec_->push(id);
  }
  if (lim_.max_tokens == 0) finish_ = Finish::Length;
  return text;
}

std::string Generation::end(Finish f, std::string shown) {
  finish_ = f;
  if (f != Finish::StopString && dec_) {  // `shown` is counted in shown_bytes_ already
    const std::string tail = dec_->flush();
    decoded_bytes_ += static_cast<int64_t>(tail.size());
    const size_t before = shown.size();
    shown += stops_.push(tail);
    shown += stops_.flush();
    shown_bytes_ += static_cast<int64_t>(shown.size() - before);
  }
  return shown;
}

std::vector<TokenLogprob> Generation::take_logprobs() {
  // A token is released once its text starts inside the shown text; when the
  // generation is over, every token but those past a stop string's cut.
  size_t n = 0;
  while (n < logprobs_.size() &&
         (logprobs_[n].offset < shown_bytes_ || (done() && finish_ != Finish::StopString)))
    ++n;
  std::vector<TokenLogprob> out(std::make_move_iterator(logprobs_.begin()),
                                std::make_move_iterator(logprobs_.begin() + static_cast<std::ptrdiff_t>(n)));
  logprobs_.erase(logprobs_.begin(), logprobs_.begin() + static_cast<std::ptrdiff_t>(n));
  if (done()) logprobs_.clear();
  return out;
}

// Whether the top-k shortcut of step() gives exactly the full mask's draw: sampling
// with top-k on and no penalties (they reorder logits before top-k).
// POCKETLLM_GRAMMAR_FULL_MASK=1 turns it off (tests compare the two).
bool Generation::top_k_shortcut() const {
  static const bool off = [] {
    const char* e = std::getenv("POCKETLLM_GRAMMAR_FULL_MASK");
    return e && std::string(e) == "1";
  }();
  const SamplingParams& p = sampler_.params();
  const bool penalties = p.repeat_penalty != 1.0f || p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f;
  return !off && p.temp > 0.0f && p.top_k > 0 && p.top_k < sampler_.n_vocab() && !penalties;
}

std::string Generation::step(const float* logits, int64_t room) {
  if (done()) fail("the generation has ended");
  drawn_here_ = true;
  if (!lim_.grammar) return push(sampler_.sample(logits), room);
  grammar::Matcher& gm = *lim_.grammar;
  // Greedy: the argmax of the masked logits is the argmax itself whenever that
  // fits, so the mask is only needed when it does not (or when the masked
  // distribution's log-probabilities are wanted).
  if (sampler_.params().temp <= 0.0f && lim_.logprobs < 0) {
    const int32_t id = sampler_.sample(logits);
    Timer t;
    const bool fits = gm.allows(id);
    grammar_ms_ += t.ms();
    if (fits) return push(id, room);
  }
  Timer t;
  if (top_k_shortcut()) {
    // Top-k of the masked logits is the k best tokens that fit: checking tokens in
    // logit order finds them without the whole vocabulary's mask. The sampler
    // then sees the same k candidates as with the full mask, so it draws the same.
    const int32_t n = sampler_.n_vocab();
    const auto k = static_cast<size_t>(sampler_.params().top_k);
    const size_t m = std::min(static_cast<size_t>(n), 8 * k + 256);
    order_.resize(static_cast<size_t>(n));
    for (int32_t i = 0; i < n; ++i) order_[static_cast<size_t>(i)] = i;
    auto better = [logits](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
    if (m < order_.size()) std::nth_element(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(m), order_.end(), better);
    std::sort(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(m), better);
    fit_.clear();
    for (size_t i = 0; i < m && fit_.size() < k; ++i)
      if (gm.allows(order_[i])) fit_.push_back(order_[i]);
    if (!fit_.empty() && (fit_.size() == k || m == order_.size())) {
      masked_.assign(static_cast<size_t>(n), -std::numeric_limits<float>::infinity());
      for (int32_t id : fit_) masked_[static_cast<size_t>(id)] = logits[id];
      grammar_ms_ += t.ms();
      return push(sampler_.sample(masked_.data()), room);
    }
  }
  grammar_ms_ += t.ms();
  const float* masked = constrain(logits);
  if (!masked) {
    // Complete, and the vocabulary has no end-of-generation token to say so.
    if (gm.can_end()) return end(Finish::Eog, "");
    fail("grammar: no token of the vocabulary can continue the text (the grammar needs characters it cannot spell)");
  }
  return push(sampler_.sample(masked), room);
}

const float* Generation::constrain(const float* logits) {
  if (!lim_.grammar) return logits;
  Timer t;
  const std::vector<uint64_t>& mask = lim_.grammar->mask();
  const int32_t n = sampler_.n_vocab();
  masked_.assign(logits, logits + n);
  bool any = false;
  for (int32_t i = 0; i < n; ++i) {
    const size_t w = static_cast<size_t>(i) >> 6;
    if (w < mask.size() && (mask[w] >> (i & 63) & 1)) {
      any = true;
    } else {
      masked_[static_cast<size_t>(i)] = -std::numeric_limits<float>::infinity();
    }
  }
  grammar_ms_ += t.ms();
  return any ? masked_.data() : nullptr;
}

std::string Generation::push(int32_t id, int64_t room) {
  if (done()) fail("the generation has ended");
  if (lim_.grammar) {
    Timer t;
    const bool fits = lim_.grammar->accept_token(id);
    grammar_ms_ += t.ms();
    if (!fits) fail("grammar: token {} does not fit the grammar here", id);
  }
  const bool drawn_here = std::exchange(drawn_here_, false);
  sampler_.accept(id);
  const int32_t prev = tokens_.empty() ? -1 : tokens_.back();
  tokens_.push_back(id);
  if (lim_.is_eog && lim_.is_eog(id)) return end(Finish::Eog, "");
  n_answer_ += 1;
  const std::string decoded = dec_ ? dec_->push(id) : "";
  if (lim_.logprobs >= 0) {
    TokenLogprob t;
    t.id = id;
    if (drawn_here) {  // speculative decoding's drafted tokens have none
      t.logprob = sampler_.last_logprob();
      t.top = sampler_.last_top();
    }
    if (m_->tokenizer) t.bytes = m_->tokenizer->decode_piece(prev < 0 ? -1 : prev, id);
    t.offset = decoded_bytes_;
    logprobs_.push_back(std::move(t));
  }
  decoded_bytes_ += static_cast<int64_t>(decoded.size());
  std::string shown = stops_.push(decoded);
  shown_bytes_ += static_cast<int64_t>(shown.size());
  if (stops_.stopped()) return end(Finish::StopString, std::move(shown));
  if (lim_.max_tokens >= 0 && n_answer_ >= lim_.max_tokens) return end(Finish::Length, std::move(shown));
  if (room <= 0) return end(Finish::Context, std::move(shown));
  return shown;
}

void Generation::cancel() {
  if (!done()) finish_ = Finish::Cancelled;
}

size_t reusable_prefix(const std::vector<int32_t>& cached, const std::vector<int32_t>& prompt) {
  size_t n = 0;
  while (n < cached.size() && n < prompt.size() && cached[n] == prompt[n]) ++n;
  if (n == prompt.size() && n > 0) --n;
  return n;
}

}  // namespace pocketllm
