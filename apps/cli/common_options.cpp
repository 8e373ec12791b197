#include "cli/common_options.h"

#include <cstdio>

#include "chat/template.h"
#include "cli/hub_model.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "core/thread_pool.h"
#include "core/timer.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm::cli {

std::string threads_help(const std::string& what) {
  return fmt::format("{} (default: {}, the physical cores this process may use)", what, default_thread_count());
}

std::string chat_template_help() { return "Built-in chat template: " + chat::builtin_chat_template_list(); }

std::string tokenizer_help() {
  return std::string("Tokenizer replacing the model's own (llama2.c checkpoints have none): ") + kTokenizerSources;
}

void add_model_options(CLI::App& app, ModelOptions& o, bool with_context) {
  app.add_option("-m,--model", o.model, "Model: GGUF file, Hugging Face folder, or llama2.c checkpoint")
      ->envname("POCKETLLM_MODEL");
  add_hf_options(app, o.hf_repo, o.hf_files);
  app.add_option("--tokenizer", o.tokenizer, tokenizer_help())->envname("POCKETLLM_TOKENIZER");
  app.add_flag("--no-mmap", o.no_mmap, "Read the model into memory instead of mapping it")->envname("POCKETLLM_NO_MMAP");
  app.add_flag("--no-huge-pages", o.no_huge_pages,
               "Stream the weights from the mapped file instead of copying them into transparent huge pages")
      ->envname("POCKETLLM_NO_HUGE_PAGES");
  app.add_option("-t,--threads", o.threads, threads_help())
      ->check(CLI::Range(0, 1024))
      ->envname("POCKETLLM_THREADS");
  if (with_context) {
    app.add_option("-c,--ctx-size", o.ctx, "Context size in tokens (default: the model's, at most 4096)")
        ->check(CLI::Range(int64_t{0}, int64_t{1} << 20))
        ->envname("POCKETLLM_CTX_SIZE");
    app.add_option("--kv-type", o.kv_type,
                   "KV cache type: f32, f16 or q8 (int8, a scale per 32 dims of a head; default: f32 for float models, "
                   "f16 for quantized)")
        ->check(CLI::IsMember({"f32", "f16", "q8"}))
        ->envname("POCKETLLM_KV_TYPE");
    app.add_option("-b,--batch-size", o.batch, "Tokens per prefill batch")
        ->check(CLI::Range(int64_t{1}, int64_t{4096}))
        ->capture_default_str();
  }
}

void add_sampling_options(CLI::App& app, SamplingParams& s) {
  app.add_option("--temp", s.temp, "Temperature; 0 = greedy")->capture_default_str()->envname("POCKETLLM_TEMP");
  app.add_option("--top-k", s.top_k, "Top-k sampling (0 = off)")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--top-p", s.top_p, "Top-p sampling, 0..1 (1.0 = off)")->check(CLI::Range(0.0f, 1.0f))->capture_default_str();
  app.add_option("--min-p", s.min_p, "Min-p sampling, 0..1 (0.0 = off)")->check(CLI::Range(0.0f, 1.0f))->capture_default_str();
  app.add_option("--repeat-penalty", s.repeat_penalty, "Penalize repeated tokens (1.0 = off)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--repeat-last-n", s.repeat_last_n, "Tokens the repeat penalty looks back")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--frequency-penalty", s.frequency_penalty, "OpenAI frequency penalty (0 = off)")->capture_default_str();
  app.add_option("--presence-penalty", s.presence_penalty, "OpenAI presence penalty (0 = off)")->capture_default_str();
  app.add_option("-s,--seed", s.seed, "RNG seed (-1 = random)")->capture_default_str()->envname("POCKETLLM_SEED");
}

void add_grammar_options(CLI::App& app, GrammarOptions& g) {
  auto* a = app.add_option("--grammar", g.grammar, "Constrain the output to a GBNF grammar (start rule: root)");
  auto* b = app.add_option("--grammar-file", g.grammar_file, "Read the GBNF grammar from a file");
  auto* c = app.add_option("-j,--json-schema", g.schema, "Constrain the output to JSON valid under this JSON schema");
  auto* d = app.add_option("--json-schema-file", g.schema_file, "Read the JSON schema from a file");
  a->excludes(b)->excludes(c)->excludes(d);
  b->excludes(c)->excludes(d);
  c->excludes(d);
}

std::shared_ptr<const grammar::Grammar> load_grammar(const GrammarOptions& g) {
  GrammarSpec spec;
  spec.gbnf = g.grammar_file.empty() ? g.grammar : read_text_file(g.grammar_file);
  spec.json_schema = g.schema_file.empty() ? g.schema : read_text_file(g.schema_file);
  if (!g.grammar_file.empty() && spec.gbnf.empty()) fail("{}: the grammar file is empty", g.grammar_file);
  if (!g.schema_file.empty() && spec.json_schema.empty()) fail("{}: the JSON schema file is empty", g.schema_file);
  return compile_grammar(spec);
}

void resolve_model_source(ModelOptions& o) { resolve_hf_model(o.model, o.hf_repo, o.hf_files); }

std::unique_ptr<Model> load_model_or_fail(const ModelOptions& o, bool need_tokenizer) {
  LoadOptions lo;
  lo.use_mmap = !o.no_mmap;
  lo.huge_pages = !o.no_huge_pages;
  lo.tokenizer_path = o.tokenizer;
  auto m = load_model(o.model, lo);
  if (need_tokenizer && !m->tokenizer)
    fail("{}: the model has no tokenizer; pass --tokenizer FILE (e.g. tokenizer.bin for llama2.c checkpoints)", o.model);
  return m;
}

ContextParams context_params(const ModelOptions& o, const Model& m) {
  if (o.ctx > m.cfg.context_length)
    std::fprintf(stderr, "warning: -c %lld is more than the %lld tokens %s was trained for; expect it to go wrong "
                         "past that\n", static_cast<long long>(o.ctx), static_cast<long long>(m.cfg.context_length),
                 o.model.c_str());
  ContextParams p;
  p.n_ctx = o.ctx;
  p.n_threads = o.threads;
  p.n_batch = o.batch;
  p.kv_type = o.kv_type.empty() ? default_kv_type(m) : parse_kv_type(o.kv_type);
  return p;
}

std::string read_text_file(const std::string& path) {
  auto f = MappedFile::open(path, false);
  return std::string(reinterpret_cast<const char*>(f->data()), f->size());
}

}  // namespace pocketllm::cli
