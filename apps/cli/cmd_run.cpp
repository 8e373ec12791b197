// pocketllm run: complete a prompt. stdout carries only text (the prompt as the
// tokenizer decodes it, then the generation, nothing added); stats go to stderr.
#include <unistd.h>

#include <cstdio>

#include "cli/command.h"
#include "cli/common_options.h"
#include "cli/speculation_options.h"
#include "core/error.h"
#include "core/timer.h"
#include "runtime/chat_format.h"
#include "runtime/generate.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm::cli {
namespace {

struct RunOptions {
  ModelOptions model;
  SamplingParams sampling;
  SpeculationOptions spec;
  GrammarOptions grammar;
  std::string prompt, prompt_file;
  int64_t n_predict = -1;
  bool chat = false;
  std::string system, template_file, template_name;
};

int run(const RunOptions& o) {
  Timer load_timer;
  auto grammar = load_grammar(o.grammar);  // a bad grammar fails before the model loads
  auto model = load_model_or_fail(o.model, true);
  const Tokenizer& tok = *model->tokenizer;
  std::string prompt = o.prompt_file.empty() ? o.prompt : read_text_file(o.prompt_file);
  std::vector<int32_t> ids;
  if (o.chat) {
    // One user turn (after the system prompt, if any) in the model's own template.
    const ChatTemplateChoice tmpl = resolve_chat_template(*model, o.template_file, o.template_name);
    if (!tmpl.notice.empty()) std::fprintf(stderr, "note: %s\n", tmpl.notice.c_str());
    ChatFormatter fmt(tok, tmpl.text);
    std::vector<ChatMessage> msgs;
    if (!o.system.empty()) msgs.push_back({"system", o.system});
    msgs.push_back({"user", prompt});
    ids = fmt.tokenize(fmt.render(msgs, true));
  } else {
    ids = tok.encode(prompt, true, true);
  }
  if (ids.empty()) {
    // Nothing to condition on: start from BOS when the vocab has one.
    if (tok.bos() < 0) fail("the prompt is empty and the vocabulary has no BOS token to start from");
    ids.push_back(tok.bos());
  }
  Context ctx(*model, context_params(o.model, *model));
  if (static_cast<int64_t>(ids.size()) > ctx.n_ctx())
    fail("the prompt has {} tokens, more than the context size {} (-c)", ids.size(), ctx.n_ctx());
  auto spec = make_speculator(o.spec, o.model, *model, o.sampling, ctx);
  const double load_ms = load_timer.ms();

  GenerationLimits lim;
  lim.max_tokens = o.n_predict;
  lim.grammar = make_grammar_matcher(grammar, model->tokenizer);
  Generation g(*model, Sampler(o.sampling, model->n_sampleable()), std::move(lim));
  // Completion mode echoes the prompt as the tokenizer decodes it (as llama2.c does).
  std::string text = g.start(ids, !o.chat);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  GenerateStats st = generate(ctx, g, ids, 0, [&text](const std::string& s) {
    text += s;
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
    return true;
  }, spec.get());
  std::fflush(stdout);
  // On a terminal the stats line starts a line of its own (stdout itself gets no byte the model did not write).
  if (isatty(STDERR_FILENO) && !text.empty() && text.back() != '\n') std::fputs("\n", stderr);
  std::fprintf(stderr, "load: %.0f ms | prefill: %lld tok, %.1f tok/s | decode: %lld tok, %.1f tok/s\n", load_ms,
               static_cast<long long>(st.n_prompt), st.prefill_tps(), static_cast<long long>(st.n_gen), st.decode_tps());
  if (spec) std::fprintf(stderr, "%s\n", speculation_summary(st.spec, st.n_gen).c_str());
  if (grammar && st.n_gen > 0)
    std::fprintf(stderr, "grammar: %.3f ms/token, %.1f%% of decode time\n", g.grammar_ms() / static_cast<double>(st.n_gen),
                 st.decode_ms > 0 ? 100.0 * g.grammar_ms() / st.decode_ms : 0.0);
  return 0;
}

RegisterCommand register_run({"run", "Generate text from a prompt", 10, [](CLI::App& sub) {
                       auto o = std::make_shared<RunOptions>();
                       add_model_options(sub, o->model);
                       add_sampling_options(sub, o->sampling);
                       add_speculation_options(sub, o->spec);
                       add_grammar_options(sub, o->grammar);
                       auto* p = sub.add_option("-p,--prompt", o->prompt, "Prompt text");
                       sub.add_option("-f,--file", o->prompt_file, "Read the prompt from a file")->excludes(p);
                       sub.add_option("-n,--n-predict", o->n_predict,
                                      "Tokens to generate (-1 = until end of generation or context)")
                           ->capture_default_str();
                       auto* chat = sub.add_flag("--chat", o->chat,
                                                 "Wrap the prompt as one user turn in the model's chat template");
                       sub.add_option("--system-prompt", o->system, "System prompt (also -sys; needs --chat)")->needs(chat);
                       sub.add_option("--chat-template-file", o->template_file, "Jinja chat template file (needs --chat)")
                           ->needs(chat);
                       sub.add_option("--chat-template", o->template_name, chat_template_help() + " (needs --chat)")
                           ->needs(chat);
                       return std::function<int()>([o] {
                         resolve_model_source(o->model);
                         return run(*o);
                       });
                     }});

}  // namespace
}  // namespace pocketllm::cli
