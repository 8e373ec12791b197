// OpenAI function calling on top of a model's own chat template: which tool-call
// syntax the template teaches (Llama 3.x JSON, Qwen <tool_call>, Mistral
// [TOOL_CALLS], or a generic JSON form described in a system message when the
// template has none), the grammar that forces a call (tool_choice "required" or
// a named function), and the parser that turns the model's text into tool_calls.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace pocketllm::server {

enum class ToolFormat {
  Generic,  // {"tool_calls": [{"name": ..., "arguments": {...}}]} (taught by a system message)
  Llama3,   // {"name": ..., "parameters": {...}}            (Llama 3.1 / 3.2 templates)
  Qwen,     // <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>  (Qwen2.5 / Qwen3, Hermes)
  Mistral,  // [TOOL_CALLS][{"name": ..., "arguments": {...}}]
};
const char* tool_format_name(ToolFormat f);
// The format a chat template's own tool syntax shows; Generic when it has none.
ToolFormat tool_format_for_template(std::string_view template_text);

// One function the client offers ({"type":"function","function":{name, description, parameters}}).
struct ToolSpec {
  std::string name;
  nlohmann::ordered_json parameters;  // a JSON schema; {"type":"object"} when not given
};

struct ToolChoice {
  enum Mode { Auto, None, Required, Named } mode = Auto;
  std::string name;  // Named: the function
};

// Checks `tools` (400 ApiError naming what is wrong) and returns them.
std::vector<ToolSpec> parse_tools(const nlohmann::ordered_json& tools);
// OpenAI's tool_choice: "auto" | "none" | "required" | {"type":"function","function":{"name":...}}.
// `v` null: "auto" with tools, "none" without.
ToolChoice parse_tool_choice(const nlohmann::ordered_json* v, const std::vector<ToolSpec>& tools);

// Calls one forced answer may hold with parallel_tool_calls (a small model would
// otherwise repeat calls until max_tokens).
constexpr int kMaxParallelCalls = 8;

// GBNF that admits only well-formed calls of `tools` in `f`'s syntax, 1 to
// max_calls of them (Llama 3's syntax has one), their arguments valid under each
// tool's parameters schema (400 when a schema uses what the converter cannot enforce).
std::string tool_call_grammar(ToolFormat f, const std::vector<ToolSpec>& tools, int max_calls = kMaxParallelCalls);

// The system-message text that teaches the Generic form (tools listed as JSON).
std::string generic_tool_instructions(const nlohmann::ordered_json& tools);

struct ToolCall {
  std::string name;
  std::string arguments;  // a JSON object as text (OpenAI sends arguments as a string)
};
struct ParsedAnswer {
  std::string content;          // the text outside the calls (all of it when there are none)
  std::vector<ToolCall> calls;  // empty: no (well-formed) call of a known tool
};
// Finds the tool calls of format `f` in a model's whole answer: ToolCallStream
// (server/tool_call_stream.h, which gives the rules) fed all of it. Calls of
// functions not in `tools`, or text that is not well-formed, are content.
ParsedAnswer parse_tool_calls(ToolFormat f, const std::string& text, const std::vector<ToolSpec>& tools);

}  // namespace pocketllm::server
