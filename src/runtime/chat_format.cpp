#include "runtime/chat_format.h"

#include "chat/template.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm {

std::string builtin_template_for_vocab(const Tokenizer& tok) {
  // Families whose turn markers are unmistakable control tokens of their vocabulary.
  struct Family {
    const char *name, *start, *end;
  };
  static const Family kFamilies[] = {{"gemma", "<start_of_turn>", "<end_of_turn>"}};
  auto is_control = [&](const char* piece) {
    int32_t id = tok.find_piece(piece);
    return id >= 0 && tok.is_special(id);
  };
  for (const auto& f : kFamilies)
    if (is_control(f.start) && is_control(f.end)) return f.name;
  return "";
}

ChatTemplateChoice resolve_chat_template(const Model& m, const std::string& file, const std::string& name) {
  if (!file.empty()) {
    auto f = MappedFile::open(file, false);
    return {std::string(reinterpret_cast<const char*>(f->data()), f->size()), ""};
  }
  if (!name.empty()) {
    auto t = chat::builtin_chat_template(name);
    if (!t) fail("unknown chat template '{}' (built-in: {})", name, chat::builtin_chat_template_list());
    return {*t, ""};
  }
  if (!m.chat_template.empty()) return {m.chat_template, ""};
  const std::string what = (m.path.empty() ? std::string("the model") : m.path) + " has no chat template";
  const std::string how = "--chat-template NAME or --chat-template-file FILE";
  if (m.tokenizer) {
    const std::string family = builtin_template_for_vocab(*m.tokenizer);
    if (!family.empty())
      return {*chat::builtin_chat_template(family),
              fmt::format("{}; using the built-in '{}' template, whose turn tokens its vocabulary has (pass {} "
                          "to choose another)",
                          what, family, how)};
  }
  return {"", fmt::format("{}; messages are joined as plain text (pass {})", what, how)};
}

ChatFormatter::ChatFormatter(const Tokenizer& tok, std::string template_text)
    : tok_(tok), template_(std::move(template_text)) {
  if (!template_.empty()) {
    try {
      chat::check_chat_template(template_);
    } catch (const Error& e) {
      fail("the chat template does not parse: {}", e.what());
    }
  }
}

std::string ChatFormatter::render(const std::vector<ChatMessage>& msgs, bool add_generation_prompt) const {
  if (template_.empty()) {
    std::string s;
    for (auto& m : msgs) s += (s.empty() ? "" : "\n") + m.content;
    return s;
  }
  nlohmann::json ctx = vars_;
  ctx["messages"] = nlohmann::json::array();
  for (auto& m : msgs) ctx["messages"].push_back({{"role", m.role}, {"content", m.content}});
  ctx["add_generation_prompt"] = add_generation_prompt;
  ctx["bos_token"] = tok_.bos() >= 0 ? tok_.piece(tok_.bos()) : "";
  ctx["eos_token"] = tok_.eos() >= 0 ? tok_.piece(tok_.eos()) : "";
  return chat::render_chat_template(template_, ctx);
}

std::string ChatFormatter::render_json(const nlohmann::ordered_json& msgs, const nlohmann::ordered_json& tools,
                                       bool add_generation_prompt) const {
  if (template_.empty()) {
    std::string s;
    for (auto& m : msgs) {
      if (!s.empty()) s += '\n';
      auto c = m.find("content");
      if (c != m.end() && c->is_string()) s += c->get_ref<const std::string&>();
    }
    return s;
  }
  nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
  for (auto& [k, v] : vars_.items()) ctx[k] = v;
  ctx["messages"] = msgs;
  if (!tools.is_null()) ctx["tools"] = tools;
  ctx["add_generation_prompt"] = add_generation_prompt;
  ctx["bos_token"] = tok_.bos() >= 0 ? tok_.piece(tok_.bos()) : "";
  ctx["eos_token"] = tok_.eos() >= 0 ? tok_.piece(tok_.eos()) : "";
  return chat::render_chat_template_ordered(template_, ctx);
}

std::vector<int32_t> ChatFormatter::tokenize(const std::string& rendered) const {
  std::vector<int32_t> ids = tok_.encode(rendered, false, true);
  if (tok_.add_bos() && tok_.bos() >= 0) {
    const std::string& bos_text = tok_.piece(tok_.bos());
    if (bos_text.empty() || rendered.rfind(bos_text, 0) != 0) ids.insert(ids.begin(), tok_.bos());
  }
  return ids;
}

}  // namespace pocketllm
