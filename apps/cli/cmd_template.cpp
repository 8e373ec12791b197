// pocketllm template: render a conversation with a chat template exactly as
// transformers would, or print the token ids the model would see (--ids).
#include <cstdio>
#include <iostream>
#include <iterator>

#include "chat/template.h"
#include "cli/command.h"
#include "cli/common_options.h"
#include "core/bounded_json.h"
#include "core/error.h"
#include "model/chat_template_source.h"
#include "runtime/chat_format.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm::cli {
namespace {

struct TemplateOptions {
  std::string model, tokenizer, template_file, template_name, messages_file;
  bool add_generation_prompt = false, ids = false;
  std::optional<std::string> bos, eos;
  std::vector<std::string> vars;
};

// "-" is stdin (a conversation piped in).
nlohmann::ordered_json parse_json_file(const std::string& path) {
  std::string text;
  if (path == "-") text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  else text = read_text_file(path);
  try {
    return parse_json_bounded<nlohmann::ordered_json>(text, path);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: invalid JSON: {}", path, e.what());
  }
}

int run(const TemplateOptions& o) {
  std::unique_ptr<Tokenizer> tok;
  if (!o.tokenizer.empty()) tok = Tokenizer::load(o.tokenizer);
  else if (!o.model.empty()) tok = Tokenizer::load(o.model);
  std::string tmpl;
  if (!o.template_file.empty()) tmpl = read_text_file(o.template_file);
  else if (!o.template_name.empty()) {
    auto t = chat::builtin_chat_template(o.template_name);
    if (!t) fail("unknown chat template '{}'", o.template_name);
    tmpl = *t;
  } else if (!o.model.empty()) {
    tmpl = read_model_chat_template(o.model);
  }
  if (tmpl.empty()) fail("no chat template: the model ships none; pass --chat-template-file FILE or --chat-template NAME");

  nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
  nlohmann::ordered_json msgs = parse_json_file(o.messages_file);
  if (msgs.is_object()) {
    if (!msgs.contains("messages") || !msgs["messages"].is_array())
      fail("{}: expected a JSON array of messages or an object with \"messages\"", o.messages_file);
    for (auto& [k, v] : msgs.items()) ctx[k] = std::move(v);
  } else if (msgs.is_array()) {
    ctx["messages"] = std::move(msgs);
  } else {
    fail("{}: expected a JSON array of messages or an object with \"messages\"", o.messages_file);
  }
  for (auto& m : ctx["messages"])
    if (!m.is_object() || !m.contains("role")) fail("{}: every message needs a \"role\"", o.messages_file);
  ctx["add_generation_prompt"] = o.add_generation_prompt;
  ctx["bos_token"] = o.bos ? *o.bos : (tok && tok->bos() >= 0 ? tok->piece(tok->bos()) : "");
  ctx["eos_token"] = o.eos ? *o.eos : (tok && tok->eos() >= 0 ? tok->piece(tok->eos()) : "");
  for (auto& v : o.vars) {
    auto eq = v.find('=');
    if (eq == std::string::npos || eq == 0) fail("--var expects NAME=VALUE, got '{}'", v);
    std::string name = v.substr(0, eq), value = v.substr(eq + 1);
    try {
      ctx[name] = parse_json_bounded<nlohmann::ordered_json>(value, "--var " + name);
    } catch (const nlohmann::json::exception&) {
      ctx[name] = value;
    }
  }
  std::string rendered = chat::render_chat_template_ordered(tmpl, ctx);
  if (!o.ids) {
    std::fwrite(rendered.data(), 1, rendered.size(), stdout);
    return 0;
  }
  if (!tok) fail("--ids needs a tokenizer: pass -m MODEL or --tokenizer FILE ({})", kTokenizerSources);
  ChatFormatter f(*tok, tmpl);
  auto ids = f.tokenize(rendered);
  std::printf("%s\n", nlohmann::json(ids).dump().c_str());
  return 0;
}

RegisterCommand register_template({"template", "Render a conversation with a chat template (or print its token ids)", 40,
                     [](CLI::App& sub) {
                       auto o = std::make_shared<TemplateOptions>();
                       sub.add_option("-m,--model", o->model,
                                      "Model or tokenizer source (GGUF, HF folder, tokenizer.json): its template and vocab");
                       sub.add_option("--tokenizer", o->tokenizer, "Tokenizer overriding -m's (for --ids and bos/eos_token): " +
                                                                       std::string(kTokenizerSources));
                       sub.add_option("--chat-template-file", o->template_file, "Jinja chat template file");
                       sub.add_option("--chat-template", o->template_name,
                                      chat_template_help());
                       sub.add_option("--messages", o->messages_file,
                                      "JSON file (- = stdin): array of {role, content}, or an object with \"messages\"")
                           ->required();
                       sub.add_flag("--add-generation-prompt", o->add_generation_prompt, "End with the assistant header");
                       sub.add_option("--bos", o->bos, "bos_token text (default: the tokenizer's)");
                       sub.add_option("--eos", o->eos, "eos_token text (default: the tokenizer's)");
                       sub.add_option("--var", o->vars, "Extra template variable NAME=VALUE (VALUE parsed as JSON when it parses)");
                       sub.add_flag("--ids", o->ids, "Print the token ids (special tokens parsed, BOS rule applied)");
                       return std::function<int()>([o] { return run(*o); });
                     }});

}  // namespace
}  // namespace pocketllm::cli
