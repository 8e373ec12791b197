// Turning a conversation into token ids the way the model was trained: its own
// chat template, rendered as transformers does, tokenized with special tokens
// parsed, BOS added only when the tokenizer adds one and the render lacks it.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/model.h"

namespace pocketllm {

struct ChatMessage {
  std::string role, content;
};

// The template a chat should use: --chat-template-file wins, then a built-in
// --chat-template name, then the model's own, then the built-in template of the
// family whose turn tokens the vocabulary has (a Gemma GGUF converted without
// tokenizer.chat_template still has <start_of_turn>/<end_of_turn>).
struct ChatTemplateChoice {
  std::string text;    // empty: none (messages joined as plain text)
  std::string notice;  // said to the user when the model's own template was not there
};
ChatTemplateChoice resolve_chat_template(const Model& m, const std::string& file, const std::string& name);

// The built-in template name for a vocabulary that carries one family's turn
// tokens as control tokens, or "" (e.g. "gemma" for <start_of_turn> + <end_of_turn>).
std::string builtin_template_for_vocab(const Tokenizer& tok);

class ChatFormatter {
 public:
  // Throws Error when the template does not parse (reported at start-up, not at the first message).
  ChatFormatter(const Tokenizer& tok, std::string template_text);
  bool has_template() const { return !template_.empty(); }
  const std::string& template_text() const { return template_; }
  // Extra template variables (e.g. date_string); merged into the render context.
  void set_vars(nlohmann::json vars) { vars_ = std::move(vars); }

  // Renders the conversation; without a template, messages' contents are joined
  // with newlines (plain completion). Throws Error when the template raises.
  std::string render(const std::vector<ChatMessage>& msgs, bool add_generation_prompt) const;
  // The same from messages as JSON objects, whatever fields they carry (an
  // assistant's tool_calls, a tool message's tool_call_id), and `tools` passed
  // as transformers passes them (null: no `tools` variable). Keys keep their order.
  std::string render_json(const nlohmann::ordered_json& msgs, const nlohmann::ordered_json& tools,
                          bool add_generation_prompt) const;
  // Tokenizes a render: special tokens parsed, the BOS rule applied.
  std::vector<int32_t> tokenize(const std::string& rendered) const;

 private:
  const Tokenizer& tok_;
  std::string template_;
  nlohmann::json vars_ = nlohmann::json::object();
};

}  // namespace pocketllm
