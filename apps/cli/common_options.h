// Flags shared by several commands, spelled as llama.cpp spells them, each with a
// POCKETLLM_* environment variable.
#pragma once
#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "model/context.h"
#include "model/model.h"
#include "runtime/grammar_constraint.h"
#include "sampling/sampler.h"

namespace pocketllm::cli {

struct ModelOptions {
  std::string model;
  std::string hf_repo;                // -hf OWNER/REPO[:QUANT] instead of -m
  std::vector<std::string> hf_files;  // --hf-file
  std::string tokenizer;
  bool no_mmap = false;
  bool no_huge_pages = false;
  int threads = 0;
  int64_t ctx = 0;
  std::string kv_type;  // "" = default for the model
  int64_t batch = 512;
};

// One wording for what several commands' --help say.
// -t: "WHAT (default: N, the physical cores this process may use)"
std::string threads_help(const std::string& what = "Threads");
std::string chat_template_help();   // --chat-template: the built-in names
std::string tokenizer_help();       // --tokenizer: the formats it takes

void add_model_options(CLI::App& app, ModelOptions& o, bool with_context = true);
void add_sampling_options(CLI::App& app, SamplingParams& s);

// --grammar, --grammar-file, --json-schema, --json-schema-file (one at most).
struct GrammarOptions {
  std::string grammar, grammar_file, schema, schema_file;
};
void add_grammar_options(CLI::App& app, GrammarOptions& g);
// The compiled grammar (null without one); a bad grammar or schema fails with its message.
std::shared_ptr<const grammar::Grammar> load_grammar(const GrammarOptions& g);

// Sets o.model to the local path of -hf's model (pulled or cached); checks that a model was given.
void resolve_model_source(ModelOptions& o);
std::unique_ptr<Model> load_model_or_fail(const ModelOptions& o, bool need_tokenizer);
ContextParams context_params(const ModelOptions& o, const Model& m);
std::string read_text_file(const std::string& path);

}  // namespace pocketllm::cli
