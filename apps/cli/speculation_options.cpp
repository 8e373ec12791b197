#include "cli/speculation_options.h"

#include <fmt/format.h>

#include "core/error.h"
#include "runtime/lookup_draft.h"
#include "runtime/model_draft.h"

namespace pocketllm::cli {

void add_speculation_options(CLI::App& app, SpeculationOptions& o) {
  auto* lookup = app.add_option("--lookup", o.lookup,
                                "Speculative decoding with prompt lookup: drafts follow earlier matches of the last "
                                "N tokens (N = longest n-gram tried, e.g. 3); greedy output is unchanged")
                     ->check(CLI::Range(1, 64));
  app.add_option("--draft,--model-draft", o.draft_model,
                 "Speculative decoding with a draft model of the same vocabulary (smaller or more quantized); "
                 "greedy output is unchanged")
      ->excludes(lookup);
  app.add_option("--draft-max", o.draft_max, "Most tokens drafted per target pass")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--draft-min", o.draft_min,
                 "Fewest drafted tokens worth a check, and the floor of the adaptive draft length")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
}

std::unique_ptr<Speculator> make_speculator(const SpeculationOptions& o, const ModelOptions& target_opts,
                                            const Model& target, const SamplingParams& sp, Context& ctx) {
  if (!o.enabled()) return nullptr;
  SpeculatorParams p;
  p.draft_max = o.draft_max;
  p.draft_min = o.draft_min;
  if (o.lookup > 0) return std::make_unique<Speculator>(std::make_unique<LookupDraft>(o.lookup), p);
  EngineParams ep;
  ep.n_batch = 64;  // the catch-up of a round is a few tokens; a chat turn's prompt takes a few batches
  ep.shared_pool = &ctx.pool();
  return std::make_unique<Speculator>(
      std::make_unique<ModelDraft>(load_draft_model(o, target_opts, target), target, ctx.n_ctx(), sp, ep), p);
}

std::shared_ptr<Model> load_draft_model(const SpeculationOptions& o, const ModelOptions& target_opts,
                                        const Model& target) {
  ModelOptions mo = target_opts;
  mo.model = o.draft_model;
  mo.hf_repo.clear();
  mo.hf_files.clear();
  mo.tokenizer.clear();  // the draft's own vocabulary is what must match
  std::shared_ptr<Model> draft = load_model_or_fail(mo, false);
  if (!draft->tokenizer) {
    // A llama2.c checkpoint has no vocabulary of its own: it takes the target's when its logits are as wide.
    if (draft->cfg.n_vocab != target.cfg.n_vocab)
      fail("the draft model {} has {} logits, the model {}, and no tokenizer: a draft needs the same vocabulary",
           o.draft_model, draft->cfg.n_vocab, target.cfg.n_vocab);
    draft->tokenizer = target.tokenizer;
  }
  check_draft_vocab(target, *draft);
  return draft;
}

std::string speculation_summary(const SpeculationStats& s, int64_t n_gen) {
  return fmt::format("draft: {}/{} accepted ({:.1f}%), {:.2f} tokens per pass", s.accepted, s.drafted,
                     100.0 * s.acceptance(), s.passes > 0 ? static_cast<double>(n_gen - 1) / s.passes : 0.0);
}

}  // namespace pocketllm::cli
