#include "runtime/speculator.h"

#include <algorithm>

#include "core/error.h"
#include "model/model.h"
#include "sampling/speculative.h"

namespace pocketllm {

Speculator::Speculator(std::unique_ptr<DraftSource> source, const SpeculatorParams& p)
    : src_(std::move(source)), p_(p), k_(p.draft_max) {
  if (p.draft_min < 1) fail("--draft-min must be at least 1, not {}", p.draft_min);
  if (p.draft_max < p.draft_min) fail("--draft-max ({}) is below --draft-min ({})", p.draft_max, p.draft_min);
}

const std::vector<int32_t>& Speculator::draft(const Sequence& seq, const Generation& g,
                                               std::span<const int32_t> prompt, int64_t max_rows) {
  if (g.done()) fail("the generation has ended");
  const auto n_prompt = static_cast<int64_t>(prompt.size());
  base_ = seq.n_past();
  if (base_ != n_prompt + g.n_run())
    fail("speculative step: the sequence holds {} tokens, not the {} of the prompt and the answer", base_,
         n_prompt + g.n_run());
  context_.assign(prompt.begin(), prompt.end());
  context_.insert(context_.end(), g.tokens().begin(), g.tokens().end());
  // The pass runs g.last() and the drafts: all must fit the sequence and the batch.
  const int64_t fit = std::min(seq.n_ctx() - base_ - 1, max_rows - 1);
  const int k = static_cast<int>(std::min<int64_t>(k_, fit));
  draft_.clear();
  if (k >= p_.draft_min) src_->propose(context_, k, draft_);
  if (static_cast<int>(draft_.tokens.size()) < p_.draft_min) draft_.clear();
  return draft_.tokens;
}

std::string Speculator::verify(const float* logits, int64_t stride, Sequence& seq, Generation& g,
                               std::span<const int32_t> prompt) {
  const int n = static_cast<int>(draft_.tokens.size());
  if (base_ < 0 || seq.n_past() != base_ + 1 + n) fail("speculative verify: the pass did not run the drafted rows");
  const size_t q_stride = draft_.q.size() / std::max<size_t>(1, draft_.tokens.size());
  std::string shown;
  int kept = 0, checked = 0;  // drafts kept / judged (a generation that ends stops judging)
  for (int i = 0; i <= n && !g.done(); ++i) {
    const float* row = logits + i * stride;
    // What plain decoding would see as room when it draws this token.
    const int64_t room = seq.n_ctx() - (base_ + i + 1);
    if (i == n) {  // every draft kept: the last row gives one more token
      shown += g.step(row, room);
      break;
    }
    // The target's law at this row: with a grammar, over the tokens that fit
    // (a forbidden draft has p = 0 and is never kept; its replacement fits).
    const float* target = g.constrain(row);
    if (!target) {  // nothing fits: plain decoding's step ends here, or says why it cannot
      shown += g.step(row, room);
      break;
    }
    g.sampler().distribution(target, p_dist_);
    const float* q = draft_.q.empty() ? nullptr : draft_.q.data() + static_cast<size_t>(i) * q_stride;
    const DraftVerdict v = verify_draft_token(p_dist_, q, draft_.tokens[static_cast<size_t>(i)], g.sampler(), scratch_);
    ++checked;
    shown += g.push(v.token, room);
    if (!v.accepted) break;
    ++kept;
  }
  // Rows past the last token kept never happened: plain decoding's state exactly.
  seq.truncate(static_cast<int64_t>(prompt.size()) + g.n_run());
  base_ = -1;

  stats_.passes += 1;
  stats_.drafted += checked;
  stats_.accepted += kept;
  if (n > 0 && kept == n && n == k_) k_ = std::min(p_.draft_max, k_ + 2);
  if (kept < checked) k_ = std::max(p_.draft_min, k_ - 1);
  return shown;
}

std::string Speculator::step(Engine& e, Sequence& seq, Generation& g, std::span<const int32_t> prompt) {
  const std::vector<int32_t>& d = draft(seq, g, prompt, e.n_batch());
  rows_.assign(1, {&seq, g.last(), true});
  for (int32_t t : d) rows_.push_back({&seq, t, true});
  const float* logits = e.forward(rows_);
  return verify(logits, e.model().cfg.n_vocab, seq, g, prompt);
}

}  // namespace pocketllm
