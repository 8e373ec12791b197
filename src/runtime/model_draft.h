// Drafting with a second, cheaper model of the same vocabulary (a smaller
// model, or a more quantized copy of the target). It keeps its own sequence
// in step with the target's context: only tokens it has not run yet are fed
// to it, so each round costs it a token or two of catch-up plus the drafts.
#pragma once
#include <memory>

#include "model/engine.h"
#include "model/model.h"
#include "runtime/draft_source.h"
#include "sampling/sampler.h"

namespace pocketllm {

// Throws Error unless `draft` can propose tokens for `target`: the same
// sampleable ids and, when both have tokenizers, the same piece for every id.
void check_draft_vocab(const Model& target, const Model& draft);

class ModelDraft : public DraftSource {
 public:
  // n_ctx: the target sequence's context size (the draft mirrors its tokens).
  // sp: the target's sampling; the draft samples with the same temperature and
  // filters but no penalties (any q is exact as long as it is the one drawn
  // from, and penalties would need the draft to keep its own history).
  // The draft model is checked against the target (check_draft_vocab) and kept.
  // ep: the draft engine's batch and threads (ep.shared_pool: the target's pool).
  ModelDraft(std::shared_ptr<const Model> draft, const Model& target, int64_t n_ctx, const SamplingParams& sp,
             const EngineParams& ep);
  void propose(std::span<const int32_t> context, int n_max, Draft& out) override;
  void set_sampling(const SamplingParams& sp) override;

 private:
  std::shared_ptr<const Model> model_;
  Engine engine_;
  Sequence seq_;
  Sampler sampler_;
  bool greedy_;
  std::vector<int32_t> held_;    // the tokens seq_ holds, in order
  std::vector<float> dist_;
};

}  // namespace pocketllm
