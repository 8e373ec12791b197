// --draft / --lookup / --draft-max / --draft-min: speculative decoding for the
// commands that generate (run, chat, bench, serve), in one place.
#pragma once
#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "cli/common_options.h"
#include "runtime/speculator.h"

namespace pocketllm::cli {

struct SpeculationOptions {
  std::string draft_model;  // --draft MODEL
  int lookup = 0;           // --lookup N: n-gram size (0: off)
  int draft_max = 8;
  int draft_min = 1;
  bool enabled() const { return !draft_model.empty() || lookup > 0; }
};

void add_speculation_options(CLI::App& app, SpeculationOptions& o);

// Null when neither --draft nor --lookup was given. The draft model is loaded
// as the target was (same mapping) with its own tokenizer, which must match
// the target's (one without a tokenizer takes the target's if its logits are
// as wide); it mirrors ctx's sequence and runs on ctx's thread pool.
// The draft model runs on the target's thread pool.
std::unique_ptr<Speculator> make_speculator(const SpeculationOptions& o, const ModelOptions& target_opts,
                                            const Model& target, const SamplingParams& sp, Context& ctx);

// The --draft model, loaded as make_speculator() does and checked against the target.
std::shared_ptr<Model> load_draft_model(const SpeculationOptions& o, const ModelOptions& target_opts,
                                        const Model& target);

// "draft: 40/52 accepted (76.9%), 2.31 tokens per pass" for the stats line.
std::string speculation_summary(const SpeculationStats& s, int64_t n_gen);

}  // namespace pocketllm::cli
