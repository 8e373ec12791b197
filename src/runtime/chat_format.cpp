#include "runtime/chat_format.h"

#include "chat/template.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm {

std::string resolve_chat_template(const Model& m, const std::string& file, const std::string& name) {
  if (!file.empty()) {
    auto f = MappedFile::open(file, false);
    return std::string(reinterpret_cast<const char*>(f->data()), f->size());
  }
  if (!name.empty()) {
    auto t = chat::builtin_chat_template(name);
    if (!t) fail("unknown chat template '{}' (built-in: {})", name, chat::builtin_chat_template_list());
    return *t;
  }
  return m.chat_template;
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

std::vector<int32_t> ChatFormatter::tokenize(const std::string& rendered) const {
  std::vector<int32_t> ids = tok_.encode(rendered, false, true);
  if (tok_.add_bos() && tok_.bos() >= 0) {
    const std::string& bos_text = tok_.piece(tok_.bos());
    if (bos_text.empty() || rendered.rfind(bos_text, 0) != 0) ids.insert(ids.begin(), tok_.bos());
  }
  return ids;
}

}  // namespace pocketllm
