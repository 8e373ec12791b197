// Jinja lexer/parser/interpreter: the input is a template, optionally followed by a
// NUL byte and a JSON render context (a fixed chat context is used otherwise).
#include <cstring>

#include "chat/template.h"
#include "fuzz_util.h"

static const nlohmann::ordered_json& default_context() {
  static const auto ctx = nlohmann::ordered_json::parse(R"({
    "messages": [{"role": "system", "content": "Be brief."},
                 {"role": "user", "content": "Hi <b>&</b>"},
                 {"role": "assistant", "content": "Hello!"},
                 {"role": "user", "content": "Tools?", "tool_calls": [{"name": "f", "arguments": {"a": 1}}]}],
    "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>",
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]})");
  return ctx;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* text = reinterpret_cast<const char*>(data);
  const void* nul = std::memchr(data, 0, size);
  const size_t template_len = nul ? static_cast<const uint8_t*>(nul) - data : size;
  const std::string tmpl(text, template_len);
  nlohmann::ordered_json ctx = default_context();
  if (nul) {
    auto parsed = nlohmann::ordered_json::parse(text + template_len + 1, text + size, nullptr, false);
    if (parsed.is_object()) ctx = std::move(parsed);
  }
  fuzzutil::expect_clean([&] { (void)pocketllm::chat::render_chat_template_ordered(tmpl, ctx); });
  return 0;
}
