// Tool calls without a server: each family's syntax parsed from model text, the
// family found from real chat templates (../shared/data/chat_templates), tools
// and tool results rendered back through those templates, and the grammars that
// force a call admitting exactly well-formed calls.
#include <gtest/gtest.h>

#include "chat/template.h"
#include "grammar/grammar.h"
#include "grammar/matcher.h"
#include "runtime/chat_format.h"
#include "server/api_error.h"
#include "server/tool_calls.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

using nlohmann::ordered_json;
using namespace pocketllm;
using namespace pocketllm::server;
namespace ts = testsupport;

namespace {

const ordered_json kParserTools = ordered_json::parse(R"([
  {"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
   "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12},
                  "unit": {"enum": ["c", "f"]}}, "required": ["city", "unit"]}}},
  {"type": "function", "function": {"name": "add", "parameters": {"type": "object",
   "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}}}])");

std::vector<ToolSpec> parser_tools() { return parse_tools(kParserTools); }

std::string read_template(const std::string& name) {
  return ts::read_file(ts::shared_data() / "chat_templates" / (name + ".jinja"));
}

TEST(ToolParsers, Llama3Json) {
  auto a = parse_tool_calls(ToolFormat::Llama3, R"({"name": "get_weather", "parameters": {"city": "Paris", "unit": "c"}})", parser_tools());
  ASSERT_EQ(a.calls.size(), 1u);
  EXPECT_EQ(a.calls[0].name, "get_weather");
  EXPECT_EQ(a.calls[0].arguments, R"({"city":"Paris","unit":"c"})");  // key order kept
  EXPECT_EQ(a.content, "");
  // <|python_tag|> and "arguments" are accepted too; arguments given as a JSON string are unwrapped.
  a = parse_tool_calls(ToolFormat::Llama3, "<|python_tag|>{\"name\": \"add\", \"arguments\": \"{\\\"a\\\": 1, \\\"b\\\": 2}\"}", parser_tools());
  ASSERT_EQ(a.calls.size(), 1u);
  EXPECT_EQ(a.calls[0].arguments, R"({"a":1,"b":2})");
  // Prose, an unknown function or broken JSON stay content (text after a call, and
  // a call cut off in its arguments: test_tool_call_stream.cpp).
  for (const char* text : {"It is sunny.", R"({"name": "nope", "parameters": {}})", R"({"name": "add", "parameters": 1})",
                           R"({"name": "add", "parameters)"}) {
    a = parse_tool_calls(ToolFormat::Llama3, text, parser_tools());
    EXPECT_TRUE(a.calls.empty()) << text;
    EXPECT_EQ(a.content, text);
  }
}

TEST(ToolParsers, QwenToolCallTags) {
  const std::string text =
      "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\", \"unit\": \"c\"}}\n"
      "</tool_call>\n<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 2, \"b\": 3}}\n</tool_call>";
  auto a = parse_tool_calls(ToolFormat::Qwen, text, parser_tools());
  ASSERT_EQ(a.calls.size(), 2u);
  EXPECT_EQ(a.content, "Let me check.");
  EXPECT_EQ(a.calls[0].name, "get_weather");
  EXPECT_EQ(a.calls[0].arguments, R"({"city":"Oslo","unit":"c"})");
  EXPECT_EQ(a.calls[1].name, "add");
  EXPECT_EQ(a.calls[1].arguments, R"({"a":2,"b":3})");
  // A missing closing tag at the very end is tolerated; a broken call is not.
  a = parse_tool_calls(ToolFormat::Qwen, "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 1}}", parser_tools());
  EXPECT_EQ(a.calls.size(), 1u);
  a = parse_tool_calls(ToolFormat::Qwen, "<tool_call>\n{\"name\": \"add\", \"arguments\": 5}\n</tool_call>", parser_tools());
  EXPECT_TRUE(a.calls.empty());
  a = parse_tool_calls(ToolFormat::Qwen, "no calls here", parser_tools());
  EXPECT_TRUE(a.calls.empty());
  EXPECT_EQ(a.content, "no calls here");
}

TEST(ToolParsers, MistralToolCallsArray) {
  auto a = parse_tool_calls(ToolFormat::Mistral,
                            R"([TOOL_CALLS] [{"name": "add", "arguments": {"a": 1, "b": 2}}, {"name": "get_weather", "arguments": {"city": "Rome", "unit": "f"}}])",
                            parser_tools());
  ASSERT_EQ(a.calls.size(), 2u);
  EXPECT_EQ(a.calls[0].name, "add");
  EXPECT_EQ(a.calls[1].arguments, R"({"city":"Rome","unit":"f"})");
  // Without the marker (a control token the detokenizer drops) the bare array counts.
  a = parse_tool_calls(ToolFormat::Mistral, R"([{"name": "add", "arguments": {"a": 1, "b": 2}}])", parser_tools());
  ASSERT_EQ(a.calls.size(), 1u);
  EXPECT_EQ(a.calls[0].arguments, R"({"a":1,"b":2})");
  EXPECT_TRUE(parse_tool_calls(ToolFormat::Mistral, "[not json", parser_tools()).calls.empty());
  EXPECT_TRUE(parse_tool_calls(ToolFormat::Mistral, R"(Sure: [{"name": "add", "arguments": {}}])", parser_tools()).calls.empty());
  EXPECT_TRUE(parse_tool_calls(ToolFormat::Mistral, "[TOOL_CALLS] []", parser_tools()).calls.empty());
}

TEST(ToolParsers, GenericJson) {
  auto a = parse_tool_calls(ToolFormat::Generic, R"( {"tool_calls": [{"name": "add", "arguments": {"b": 2, "a": 1}}]} )", parser_tools());
  ASSERT_EQ(a.calls.size(), 1u);
  EXPECT_EQ(a.calls[0].arguments, R"({"b":2,"a":1})");
  EXPECT_TRUE(parse_tool_calls(ToolFormat::Generic, R"({"name": "add", "arguments": {}})", parser_tools()).calls.empty());
  EXPECT_TRUE(parse_tool_calls(ToolFormat::Generic, R"({"tool_calls": []})", parser_tools()).calls.empty());
}

TEST(ToolParsers, FamilyOfRealTemplates) {
  EXPECT_EQ(tool_format_for_template(read_template("qwen2.5-7b-instruct")), ToolFormat::Qwen);
  EXPECT_EQ(tool_format_for_template(read_template("llama-3.1-8b-instruct")), ToolFormat::Llama3);
  EXPECT_EQ(tool_format_for_template(read_template("llama-3.2-3b-instruct")), ToolFormat::Llama3);
  for (const char* name : {"llama-3-8b-instruct", "mistral-7b-instruct-v0.1", "gemma-3-it", "smollm2-135m-instruct",
                           "tinyllama-1.1b-chat-v1.0", "phi-3-mini-4k-instruct"})
    EXPECT_EQ(tool_format_for_template(read_template(name)), ToolFormat::Generic) << name;
  EXPECT_EQ(tool_format_for_template("{{ '[TOOL_CALLS]' }}"), ToolFormat::Mistral);
}

// A conversation with a call and its result, rendered by the model's own template.
ordered_json conversation() {
  return ordered_json::parse(R"([
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function",
      "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "21 C"}])");
}

TEST(ToolTemplates, QwenRendersToolsCallsAndResults) {
  auto tok = Tokenizer::from_llama2c((ts::shared_data() / "models/stories260K/tok512.bin").string());
  ChatFormatter f(*tok, read_template("qwen2.5-7b-instruct"));
  const std::string r = f.render_json(conversation(), kParserTools, true);
  EXPECT_NE(r.find("<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\""),
            std::string::npos) << r;
  EXPECT_NE(r.find("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"c\"}}\n</tool_call>"),
            std::string::npos) << r;
  EXPECT_NE(r.find("<|im_start|>user\n<tool_response>\n21 C\n</tool_response><|im_end|>"), std::string::npos) << r;
  EXPECT_TRUE(r.ends_with("<|im_start|>assistant\n")) << r;
  // No tools: the plain system prompt.
  const std::string plain = f.render_json(ordered_json::parse(R"([{"role":"user","content":"Hi"}])"), nullptr, true);
  EXPECT_EQ(plain.find("<tools>"), std::string::npos);
}

TEST(ToolTemplates, Llama31RendersToolsCallsAndResults) {
  auto tok = Tokenizer::from_llama2c((ts::shared_data() / "models/stories260K/tok512.bin").string());
  ChatFormatter f(*tok, read_template("llama-3.1-8b-instruct"));
  const std::string r = f.render_json(conversation(), kParserTools, true);
  EXPECT_NE(r.find("Environment: ipython\n"), std::string::npos) << r;
  EXPECT_NE(r.find("\"name\": \"get_weather\""), std::string::npos) << r;  // tojson(indent=4) of the tool
  EXPECT_NE(r.find("<|start_header_id|>assistant<|end_header_id|>\n\n{\"name\": \"get_weather\", \"parameters\": "
                   "{\"city\": \"Paris\", \"unit\": \"c\"}}<|eot_id|>"),
            std::string::npos) << r;
  // The template's `content is iterable` holds for a string in Jinja2 too: the result goes through tojson.
  EXPECT_NE(r.find("<|start_header_id|>ipython<|end_header_id|>\n\n\"21 C\"<|eot_id|>"), std::string::npos) << r;
}

TEST(ToolGrammar, EachFamilyAdmitsOnlyWellFormedCalls) {
  struct Case {
    ToolFormat f;
    std::string good, bad;
  };
  const std::vector<Case> cases = {
      {ToolFormat::Generic, R"({"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": -2}}]})",
       R"({"tool_calls": [{"name": "sub", "arguments": {"a": 1, "b": 2}}]})"},
      {ToolFormat::Llama3, R"({"name": "get_weather", "parameters": {"city": "Paris", "unit": "c"}})",
       R"({"name": "get_weather", "parameters": {"city": "Paris", "unit": "k"}})"},
      {ToolFormat::Qwen, "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}}\n</tool_call>",
       "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1.5, \"b\": 2}}\n</tool_call>"},
      {ToolFormat::Mistral, R"([TOOL_CALLS][{"name": "add", "arguments": {"a": 1, "b": 2}}])",
       R"([TOOL_CALLS][{"name": "add", "arguments": {"a": 1}}])"},
  };
  for (auto& c : cases) {
    SCOPED_TRACE(tool_format_name(c.f));
    auto g = grammar::parse_gbnf(tool_call_grammar(c.f, parser_tools()));
    EXPECT_TRUE(grammar::matches(*g, c.good)) << c.good;
    EXPECT_FALSE(grammar::matches(*g, c.bad)) << c.bad;
    EXPECT_EQ(parse_tool_calls(c.f, c.good, parser_tools()).calls.size(), 1u);
  }
  // Only the named function: the other one no longer fits.
  auto only_add = parser_tools();
  only_add.erase(only_add.begin());
  auto g = grammar::parse_gbnf(tool_call_grammar(ToolFormat::Llama3, only_add));
  EXPECT_FALSE(grammar::matches(*g, R"({"name": "get_weather", "parameters": {"city": "Paris", "unit": "c"}})"));
  EXPECT_TRUE(grammar::matches(*g, R"({"name": "add", "parameters": {"a": 1, "b": 2}})"));
}

TEST(ToolGrammar, DefsOfEachFunctionAreKept) {
  const auto t = parse_tools(ordered_json::parse(R"([{"type": "function", "function": {"name": "f", "parameters":
    {"type": "object", "properties": {"p": {"$ref": "#/$defs/point"}}, "required": ["p"],
     "$defs": {"point": {"type": "array", "items": {"type": "integer"}, "maxItems": 2}}}}}])"));
  auto g = grammar::parse_gbnf(tool_call_grammar(ToolFormat::Llama3, t));
  EXPECT_TRUE(grammar::matches(*g, R"({"name": "f", "parameters": {"p": [1, 2]}})"));
  EXPECT_FALSE(grammar::matches(*g, R"({"name": "f", "parameters": {"p": [1, 2, 3]}})"));
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    return e.what();
  }
  return "no error";
}

TEST(ToolRequests, MalformedToolsAndChoicesAreClearErrors) {
  auto bad = [](const char* text) { return error_of([&] { parse_tools(ordered_json::parse(text)); }); };
  EXPECT_EQ(bad(R"({"type": "function"})"), "'tools' must be an array");
  EXPECT_EQ(bad(R"([{"type": "retrieval"}])"), "tools[0].type must be 'function'");
  EXPECT_EQ(bad(R"([{"type": "function"}])"), "tools[0].function must be an object");
  EXPECT_EQ(bad(R"([{"type": "function", "function": {"name": 3}}])"), "tools[0].function.name must be a string");
  EXPECT_EQ(bad(R"([{"type": "function", "function": {"name": "a b"}}])"),
            "tools[0].function.name must be 1 to 64 characters of a-z, A-Z, 0-9, '_' and '-'");
  EXPECT_EQ(bad(R"([{"type": "function", "function": {"name": "a"}}, {"type": "function", "function": {"name": "a"}}])"),
            "tools: the function name 'a' is given twice");
  EXPECT_EQ(bad(R"([{"type": "function", "function": {"name": "a", "parameters": "x"}}])"),
            "tools[0].function.parameters must be a JSON schema (an object)");
  const auto t = parser_tools();
  auto choice = [&](const char* text) {
    return error_of([&] {
      const ordered_json j = ordered_json::parse(text);
      parse_tool_choice(&j, t);
    });
  };
  EXPECT_EQ(choice(R"("sometimes")"),
            "'tool_choice' must be 'auto', 'none', 'required' or {\"type\":\"function\",\"function\":{\"name\":...}}");
  EXPECT_EQ(choice(R"({"type": "function", "function": {"name": "nope"}})"),
            "'tool_choice' names the function 'nope', which is not in 'tools'");
  EXPECT_EQ(choice(R"({"type": "function"})"),
            "'tool_choice' as an object must be {\"type\":\"function\",\"function\":{\"name\":...}}");
  EXPECT_EQ(choice("5"), "'tool_choice' must be a string or an object");
  EXPECT_EQ(error_of([] {
              const ordered_json j = "required";
              parse_tool_choice(&j, {});
            }),
            "'tool_choice' needs 'tools'");
  const auto pattern = parse_tools(ordered_json::parse(R"([{"type": "function", "function": {"name": "f", "parameters":
    {"type": "object", "properties": {"s": {"type": "string", "pattern": "^a"}}}}}])"));
  EXPECT_EQ(error_of([&] { tool_call_grammar(ToolFormat::Generic, pattern); }),
            "tools: function 'f': parameters: JSON schema: unsupported keyword 'pattern' at #/properties/s");
}

}  // namespace
