// Chat templates: renders a model's Hugging Face `chat_template` (Jinja2 text) exactly as
// transformers does (python jinja2 sandbox, trim_blocks + lstrip_blocks, raise_exception,
// strftime_now, tojson), using the engine in chat/jinja/.
#pragma once
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace pocketllm::chat {

// Renders an HF chat template. `context` holds messages (array of {role, content, ...}),
// add_generation_prompt, bos_token, eos_token and any extra variables (e.g. date_string, tools).
// Throws pocketllm::Error with the template's message when it calls raise_exception, or a
// clear message on syntax errors / limits exceeded.
// Note: nlohmann::json sorts object keys; use render_chat_template_ordered to keep the
// caller's key order (it shows in `tojson` output, e.g. tool schemas).
std::string render_chat_template(const std::string& template_text, const nlohmann::json& context);
std::string render_chat_template_ordered(const std::string& template_text, const nlohmann::ordered_json& context);

// Built-in templates for --chat-template NAME: zephyr (alias tinyllama), llama2, llama3,
// chatml (alias qwen), gemma, phi3, mistral. nullopt for unknown names.
std::optional<std::string> builtin_chat_template(const std::string& name);
std::vector<std::string> builtin_chat_template_names();
// The names as --help and error messages list them: "chatml (alias qwen), zephyr (alias tinyllama), ...".
std::string builtin_chat_template_list();

// Parses a template without rendering it, so a broken one is reported at start-up
// (Error with the parser's message) instead of at the first message.
void check_chat_template(const std::string& template_text);

}  // namespace pocketllm::chat
