// pocketllm chat: an interactive conversation with the model's own template,
// KV-cache reuse across turns, streaming, and Ollama-style commands.
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unistd.h>

#include "cli/command.h"
#include "cli/common_options.h"
#include "cli/line_reader.h"
#include "cli/speculation_options.h"
#include "core/error.h"
#include "runtime/chat_session.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm::cli {
namespace {

std::atomic<bool> g_cancel{false};
std::atomic<bool> g_generating{false};

void on_sigint(int) {
  if (g_generating.load()) {
    g_cancel.store(true);
    return;
  }
  // Ctrl-C at the prompt quits; end the prompt's line so the shell's starts on its own.
  if (isatty(STDOUT_FILENO)) (void)!write(STDOUT_FILENO, "\n", 1);
  std::_Exit(130);
}

struct ChatOptions {
  ModelOptions model;
  SamplingParams sampling;
  SpeculationOptions spec;
  GrammarOptions grammar;
  std::string system, template_file, template_name;
  int64_t n_predict = -1;
};

const char* kHelp =
    "Commands:\n"
    "  /help, /?                 this help\n"
    "  /clear                    start a new conversation\n"
    "  /system TEXT              set the system prompt (also /set system TEXT)\n"
    "  /set temp|top_p|top_k|min_p|seed|repeat_penalty VALUE   change sampling\n"
    "  /set parameter temperature|top_p|top_k|seed|num_predict VALUE   (Ollama spelling)\n"
    "  /stats                    speeds of the last answer\n"
    "  /bye                      quit\n"
    "  \"\"\" ... \"\"\"               a multi-line message\n";

// Applies the model folder's generation_config.json defaults for flags the user did not give.
void apply_generation_config(const std::string& model, CLI::App& sub, SamplingParams& s) {
  const auto p = std::filesystem::path(model) / "generation_config.json";
  std::error_code ec;
  if (!std::filesystem::is_directory(model, ec) || !std::filesystem::exists(p)) return;
  nlohmann::json g;
  try {
    g = nlohmann::json::parse(read_text_file(p.string()));
  } catch (const nlohmann::json::exception&) {
    std::fprintf(stderr, "warning: %s is not valid JSON; ignored\n", p.c_str());
    return;
  }
  if (!g.is_object()) return;
  if (g.value("do_sample", true) == false && !sub.count("--temp")) s.temp = 0;
  if (g.contains("temperature") && g["temperature"].is_number() && !sub.count("--temp")) s.temp = g["temperature"];
  if (g.contains("top_p") && g["top_p"].is_number() && !sub.count("--top-p")) s.top_p = g["top_p"];
  if (g.contains("top_k") && g["top_k"].is_number_integer() && !sub.count("--top-k")) s.top_k = g["top_k"];
  if (g.contains("repetition_penalty") && g["repetition_penalty"].is_number() && !sub.count("--repeat-penalty"))
    s.repeat_penalty = g["repetition_penalty"];
}

// Returns false to quit.
bool handle_command(const std::string& line, ChatSession& chat, SamplingParams& sp, int64_t& n_predict,
                    const TurnResult& last, bool have_last) {
  std::istringstream in(line);
  std::string cmd;
  in >> cmd;
  std::string rest;
  std::getline(in, rest);
  if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
  auto say = [](const std::string& s) { std::fprintf(stderr, "%s\n", s.c_str()); };
  if (cmd == "/bye" || cmd == "/exit" || cmd == "/quit") return false;
  if (cmd == "/help" || cmd == "/?") {
    std::fputs(kHelp, stderr);
  } else if (cmd == "/clear") {
    chat.clear();
    say("Cleared the conversation.");
  } else if (cmd == "/system") {
    chat.set_system(rest);
    say("System prompt set.");
  } else if (cmd == "/stats") {
    if (!have_last) say("No answer yet.");
    else
      std::fprintf(stderr, "prefill: %lld tok, %.1f tok/s | decode: %lld tok, %.1f tok/s | cached: %lld tok\n",
                   static_cast<long long>(last.stats.n_prompt), last.stats.prefill_tps(),
                   static_cast<long long>(last.stats.n_gen), last.stats.decode_tps(), static_cast<long long>(last.reused));
  } else if (cmd == "/set") {
    std::istringstream a(rest);
    std::string key, value;
    a >> key;
    if (key == "system") {
      std::getline(a, value);
      if (!value.empty() && value[0] == ' ') value.erase(0, 1);
      chat.set_system(value);
      say("System prompt set.");
      return true;
    }
    if (key == "parameter") a >> key;
    a >> value;
    try {
      if (key == "temp" || key == "temperature") sp.temp = std::stof(value);
      else if (key == "top_p") sp.top_p = std::stof(value);
      else if (key == "top_k") sp.top_k = std::stoi(value);
      else if (key == "min_p") sp.min_p = std::stof(value);
      else if (key == "seed") sp.seed = std::stoll(value);
      else if (key == "repeat_penalty") sp.repeat_penalty = std::stof(value);
      else if (key == "num_predict") n_predict = std::stoll(value);
      else {
        say("Unknown setting '" + key + "'. /help lists them.");
        return true;
      }
    } catch (const std::exception&) {
      say("'" + value + "' is not a valid value for " + key);
      return true;
    }
    chat.sampler().set_params(sp);
    say("Set " + key + " to " + value + ".");
  } else {
    say("Unknown command '" + cmd + "'. /help lists the commands.");
  }
  return true;
}

int run(ChatOptions& o, CLI::App& sub) {
  auto grammar = load_grammar(o.grammar);  // a bad grammar fails before the model loads
  auto model = load_model_or_fail(o.model, true);
  apply_generation_config(o.model.model, sub, o.sampling);
  const ChatTemplateChoice tmpl = resolve_chat_template(*model, o.template_file, o.template_name);
  if (!tmpl.notice.empty()) std::fprintf(stderr, "note: %s\n", tmpl.notice.c_str());
  ChatFormatter fmt(*model->tokenizer, tmpl.text);
  Context ctx(*model, context_params(o.model, *model));
  ChatSession chat(ctx, fmt, o.sampling);
  auto spec = make_speculator(o.spec, o.model, *model, o.sampling, ctx);
  chat.set_speculator(spec.get());
  if (!o.system.empty()) chat.set_system(o.system);
  LineReader reader;
  if (reader.interactive())
    std::fprintf(stderr, "pocketllm chat with %s (context %lld). /help for commands, /bye to quit.\n",
                 model->cfg.name.empty() ? o.model.model.c_str() : model->cfg.name.c_str(),
                 static_cast<long long>(ctx.n_ctx()));
  std::signal(SIGINT, on_sigint);
  TurnResult last;
  bool have_last = false;
  bool failed = false;  // a turn failed: the exit status says so
  while (auto msg = reader.read_message()) {
    if (msg->empty()) continue;
    if ((*msg)[0] == '/') {
      if (!handle_command(*msg, chat, o.sampling, o.n_predict, last, have_last)) break;
      continue;
    }
    ChatSession::TurnOptions to;
    to.n_predict = o.n_predict;
    to.grammar = grammar;
    to.cancel = &g_cancel;
    to.on_text = [](const std::string& s) {
      std::fwrite(s.data(), 1, s.size(), stdout);
      std::fflush(stdout);
    };
    to.on_notice = [](const std::string& s) { std::fprintf(stderr, "[%s]\n", s.c_str()); };
    g_cancel.store(false);
    g_generating.store(true);
    try {
      last = chat.respond(*msg, to);
      have_last = true;
    } catch (const Error& e) {
      g_generating.store(false);
      std::fflush(stdout);
      std::fprintf(stderr, "error: %s\n", e.what());
      failed = true;
      if (!reader.interactive()) return 1;  // through a pipe an answer is missing: stop here
      continue;
    }
    g_generating.store(false);
    std::fputs("\n", stdout);
    std::fflush(stdout);
    if (g_cancel.load()) std::fprintf(stderr, "[stopped]\n");
    std::fprintf(stderr, "prefill: %lld tok, %.1f tok/s | decode: %lld tok, %.1f tok/s\n",
                 static_cast<long long>(last.stats.n_prompt), last.stats.prefill_tps(),
                 static_cast<long long>(last.stats.n_gen), last.stats.decode_tps());
    if (spec) std::fprintf(stderr, "%s\n", speculation_summary(last.stats.spec, last.stats.n_gen).c_str());
  }
  return failed ? 1 : 0;
}

RegisterCommand register_chat({"chat", "Chat with a model interactively (or line by line through a pipe)", 15, [](CLI::App& sub) {
                       auto o = std::make_shared<ChatOptions>();
                       add_model_options(sub, o->model);
                       add_sampling_options(sub, o->sampling);
                       add_speculation_options(sub, o->spec);
                       add_grammar_options(sub, o->grammar);
                       sub.add_option("--system-prompt", o->system, "System prompt (also -sys)");
                       sub.add_option("--chat-template-file", o->template_file, "Jinja chat template file");
                       sub.add_option("--chat-template", o->template_name,
                                      chat_template_help());
                       sub.add_option("-n,--n-predict", o->n_predict, "Max tokens per answer (-1 = until the end of the turn or context)")
                           ->capture_default_str();
                       CLI::App* app = &sub;
                       return std::function<int()>([o, app] {
                         resolve_model_source(o->model);
                         return run(*o, *app);
                       });
                     }});

}  // namespace
}  // namespace pocketllm::cli
