#include "runtime/model_draft.h"

#include <algorithm>

#include "core/error.h"
#include "model/model.h"
#include "runtime/generation.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm {

void check_draft_vocab(const Model& target, const Model& draft) {
  const int32_t nt = target.n_sampleable(), nd = draft.n_sampleable();
  if (nt != nd)
    fail("the draft model's vocabulary has {} tokens, the model's {}: a draft needs the same vocabulary", nd, nt);
  if (draft.cfg.n_vocab < nt)
    fail("the draft model has {} logits, fewer than the model's {} tokens: a draft needs the same vocabulary",
         draft.cfg.n_vocab, nt);
  if (!target.tokenizer || !draft.tokenizer) return;
  for (int32_t id = 0; id < nt; ++id)
    if (target.tokenizer->piece(id) != draft.tokenizer->piece(id))
      fail("the draft model's token {} is '{}', the model's '{}': a draft needs the same vocabulary", id,
           draft.tokenizer->piece(id), target.tokenizer->piece(id));
}

namespace {
SamplingParams without_penalties(SamplingParams sp) {
  sp.repeat_penalty = 1.0f;
  sp.frequency_penalty = 0.0f;
  sp.presence_penalty = 0.0f;
  // Its own RNG stream: the draft's draws must not shift the target's.
  if (sp.seed >= 0) sp.seed += 0x5eed;
  return sp;
}
}  // namespace

ModelDraft::ModelDraft(std::shared_ptr<const Model> draft, const Model& target, int64_t n_ctx,
                       const SamplingParams& sp, const EngineParams& ep)
    : model_((check_draft_vocab(target, *draft), std::move(draft))),
      engine_(*model_, ep),
      seq_(engine_.new_sequence(n_ctx)),
      sampler_(without_penalties(sp), target.n_sampleable()),
      greedy_(sp.temp <= 0.0f) {}

void ModelDraft::set_sampling(const SamplingParams& sp) {
  sampler_.set_params(without_penalties(sp));
  greedy_ = sp.temp <= 0.0f;
}

void ModelDraft::propose(std::span<const int32_t> context, int n_max, Draft& out) {
  out.clear();
  if (context.empty()) return;
  // Catch up: keep what the draft already ran of this context, run the rest
  // (at least the last token, whose logits give the first draft).
  held_.resize(std::min(held_.size(), static_cast<size_t>(seq_.n_past())));
  size_t keep = reusable_prefix(held_, std::vector<int32_t>(context.begin(), context.end()));
  seq_.truncate(static_cast<int64_t>(keep));
  held_.assign(context.begin(), context.begin() + static_cast<std::ptrdiff_t>(keep));
  // Drafts need positions of their own: never more than the sequence has left.
  n_max = static_cast<int>(std::min<int64_t>(n_max, seq_.n_ctx() - static_cast<int64_t>(context.size())));
  if (n_max <= 0) return;
  const float* logits = engine_.eval(seq_, context.data() + keep, static_cast<int64_t>(context.size() - keep));
  held_.assign(context.begin(), context.end());
  for (int i = 0; i < n_max; ++i) {
    int32_t x;
    if (greedy_) {
      x = sampler_.sample(logits);
    } else {
      sampler_.distribution(logits, dist_);
      x = sampler_.draw_from(dist_);
      out.q.insert(out.q.end(), dist_.begin(), dist_.end());
    }
    out.tokens.push_back(x);
    if (i + 1 == n_max) break;  // the last draft is never run by the draft model
    logits = engine_.eval(seq_, &x, 1);
    held_.push_back(x);
  }
}

}  // namespace pocketllm
