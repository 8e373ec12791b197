// Engine behaviour that the data-driven tests do not pin down: built-in templates, the API
// contract, lexer corner cases and the limits that stop hostile templates.
#include <gtest/gtest.h>

#include <chrono>

#include <nlohmann/json.hpp>

#include "chat/template.h"
#include "core/error.h"
#include "support/test_support.h"

namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using pocketllm::chat::builtin_chat_template;
using pocketllm::chat::render_chat_template;

std::string render(const std::string& tpl, const json& ctx = json::object()) { return render_chat_template(tpl, ctx); }

std::string error_of(const std::string& tpl, const json& ctx = json::object()) {
  try {
    render(tpl, ctx);
  } catch (const pocketllm::Error& e) {
    return e.what();
  }
  return "<no error>";
}

json conversation(bool system, bool gen_prompt = true) {
  json msgs = json::array();
  if (system) msgs.push_back({{"role", "system"}, {"content", "Be brief."}});
  msgs.push_back({{"role", "user"}, {"content", "Hi"}});
  msgs.push_back({{"role", "assistant"}, {"content", "Hello!"}});
  msgs.push_back({{"role", "user"}, {"content", "Bye"}});
  return {{"messages", msgs}, {"add_generation_prompt", gen_prompt}, {"bos_token", "<s>"}, {"eos_token", "</s>"}};
}

TEST(ChatBuiltins, ChatmlSingleTurn) {
  json ctx = {{"messages", {{{"role", "user"}, {"content", "Hi"}}}}, {"add_generation_prompt", true}};
  EXPECT_EQ(render(*builtin_chat_template("chatml"), ctx), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(*builtin_chat_template("qwen"), *builtin_chat_template("chatml"));
}

TEST(ChatBuiltins, AllNamesRenderAndUnknownIsNullopt) {
  auto names = pocketllm::chat::builtin_chat_template_names();
  for (const char* n : {"zephyr", "tinyllama", "llama2", "llama3", "chatml", "qwen", "gemma", "phi3", "mistral"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  for (const auto& n : names) {
    auto tpl = builtin_chat_template(n);
    ASSERT_TRUE(tpl) << n;
    std::string out = render(*tpl, conversation(true));
    EXPECT_NE(out.find("Be brief."), std::string::npos) << n << ": system prompt lost\n" << out;
    EXPECT_NE(out.find("Hi"), std::string::npos) << n;
    EXPECT_NE(out.find("Bye"), std::string::npos) << n;
  }
  EXPECT_FALSE(builtin_chat_template("nope"));
}

TEST(ChatBuiltins, ExactFormats) {
  json ctx = conversation(true);
  EXPECT_EQ(render(*builtin_chat_template("llama3"), ctx),
            "<s><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(render(*builtin_chat_template("llama2"), ctx),
            "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] Bye [/INST]");
  EXPECT_EQ(render(*builtin_chat_template("gemma"), ctx),
            "<s><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n"
            "<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(render(*builtin_chat_template("phi3"), conversation(false, false)),
            "<|user|>\nHi<|end|>\n<|assistant|>\nHello!<|end|>\n<|user|>\nBye<|end|>\n</s>");
  EXPECT_EQ(render(*builtin_chat_template("mistral"), ctx), "<s>[INST] Be brief.\n\nHi [/INST]Hello!</s> [INST] Bye [/INST]");
  EXPECT_EQ(render(*builtin_chat_template("zephyr"), ctx),
            "<|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello!</s>\n<|user|>\nBye</s>\n<|assistant|>\n");
}

// Where a built-in mirrors a real model's template, both must render the same prompt.
TEST(ChatBuiltins, MatchRealTemplates) {
  auto dir = testsupport::shared_data() / "chat_templates";
  struct Pair {
    const char* builtin;
    const char* file;
    bool system;
  };
  for (const Pair& p : {Pair{"zephyr", "tinyllama-1.1b-chat-v1.0.jinja", true}, Pair{"llama3", "llama-3-8b-instruct.jinja", true},
                        Pair{"phi3", "phi-3-mini-4k-instruct.jinja", true}, Pair{"gemma", "gemma-3-it.jinja", true},
                        Pair{"mistral", "mistral-7b-instruct-v0.1.jinja", false}}) {
    for (bool gen : {true, false}) {
      json ctx = conversation(p.system, gen);
      EXPECT_EQ(render(*builtin_chat_template(p.builtin), ctx), render(testsupport::read_file(dir / p.file), ctx))
          << p.builtin << " vs " << p.file << " add_generation_prompt=" << gen;
    }
  }
}

TEST(ChatApi, RaiseExceptionMessageIsVerbatim) {
  EXPECT_EQ(error_of("{{ raise_exception('Roles must alternate') }}"), "Roles must alternate");
}

TEST(ChatApi, ErrorsNameTheLine) {
  EXPECT_NE(error_of("line1\n{% if %}").find("line 2"), std::string::npos) << error_of("line1\n{% if %}");
  EXPECT_NE(error_of("a\nb\n{{ x.y }}").find("'x' is undefined"), std::string::npos);
  EXPECT_NE(error_of("a\nb\n{{ x.y }}").find("line 3"), std::string::npos);
  EXPECT_NE(error_of("{% for x in y %}").find("endfor"), std::string::npos);
  EXPECT_NE(error_of("{{ 1 | nosuch }}").find("nosuch"), std::string::npos);
}

TEST(ChatApi, ContextMustBeObject) { EXPECT_THROW(render("x", json::array()), pocketllm::Error); }

TEST(ChatApi, OrderedJsonKeepsKeyOrder) {
  ordered_json ctx = ordered_json::parse(R"({"tool": {"name": "f", "arguments": {"b": 1, "a": 2}}})");
  EXPECT_EQ(pocketllm::chat::render_chat_template_ordered("{{ tool | tojson }}", ctx),
            R"({"name": "f", "arguments": {"b": 1, "a": 2}})");
  // nlohmann::json itself sorts keys, so the plain overload sees them sorted.
  EXPECT_EQ(render("{{ tool | tojson }}", json::parse(ctx.dump())), R"({"arguments": {"a": 2, "b": 1}, "name": "f"})");
}

TEST(ChatLexer, NewlinesNormalizedAndTrailingNewlineDropped) {
  EXPECT_EQ(render("a\r\nb\rc\n"), "a\nb\nc");
  EXPECT_EQ(render("{% if true %}\r\nx\r\n{% endif %}\r\n"), "x\n");
  EXPECT_EQ(render("x\n\n"), "x\n");
  EXPECT_EQ(render("{{ 'a\r\nb' }}"), "a\nb");
}

TEST(ChatLexer, WhitespaceControlAndBlocks) {
  EXPECT_EQ(render("  {% if true %}\n  x\n  {% endif %}\n"), "  x\n");
  EXPECT_EQ(render("a\n  {%- if true -%}\n  b\n{%- endif %}"), "ab");
  EXPECT_EQ(render("{{ {'a': {'b': 1}} }}"), "{'a': {'b': 1}}");
  EXPECT_EQ(render("{{ '%}' ~ '}}' }}"), "%}}}");
  EXPECT_EQ(render("{% raw %}{{ x }}{% endraw %}"), "{{ x }}");
}

TEST(ChatLexer, SyntaxErrors) {
  for (const char* bad : {"{{ 'unterminated }}", "{% if true %}", "{{ (1 }}", "{{ 1 ) }}", "{% endif %}", "{# open",
                          "{% raw %}x", "{{ }}", "{% set %}", "{% for in x %}{% endfor %}", "{% break %}"})
    EXPECT_THROW(render(bad), pocketllm::Error) << bad;
}

// Hostile templates must stop with an Error, quickly and without exhausting memory or stack.
TEST(ChatLimits, HostileTemplatesFailFast) {
  std::string deep_parens = std::string(5000, '(') + "1" + std::string(5000, ')');
  std::string long_chain = "{{ 1";
  for (int i = 0; i < 20000; ++i) long_chain += " + 1";
  long_chain += " }}";
  std::string deep_blocks;
  for (int i = 0; i < 5000; ++i) deep_blocks += "{% if true %}";
  for (int i = 0; i < 5000; ++i) deep_blocks += "{% endif %}";
  std::string deep_not = "{{ " + std::string(5000 * 4, ' ');
  for (int i = 0; i < 5000; ++i) deep_not += "not ";
  deep_not += "1 }}";
  const std::vector<std::pair<std::string, std::string>> hostile = {
      {"nested loops", "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"},
      {"infinite recursion", "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"},
      {"exponential macro", "{% macro f(n) %}{% if n < 60 %}{{ f(n + 1) }}{{ f(n + 1) }}{% endif %}{% endmacro %}{{ f(0) }}"},
      {"string doubling", "{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"},
      {"list doubling", "{% set ns = namespace(l=[1]) %}{% for i in range(100) %}{% set ns.l = ns.l + ns.l %}{% endfor %}"},
      {"huge repeat", "{{ 'x' * 10000000000 }}"},
      {"huge list repeat", "{{ ([1] * 1000000000) | length }}"},
      {"huge output", "{% for i in range(100000) %}{{ 'y' * 1000 }}{% endfor %}"},
      {"big string copies", "{% set s = 'z' * 10000000 %}{% for i in range(100000) %}{{ (s ~ '') | length }}{% endfor %}"},
      {"huge range", "{{ range(1000000000) | length }}"},
      {"deep parens", "{{ " + deep_parens + " }}"},
      {"long operator chain", long_chain},
      {"deep blocks", deep_blocks},
      {"deep not", deep_not},
      {"self-referencing namespace", "{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}"},
      {"integer overflow", "{{ 2 ** 64 }}"},
      {"huge format precision", "{{ '%.2147483647f' | format(1.5) }}"},
      {"huge format width", "{{ '%2147483647s' | format('x') }}"},
      {"huge percent precision", "{{ '%.100000000f' % 1.5 }}"},
      {"wide formats in a loop", "{% for i in range(100000) %}{{ '%60000d' | format(i) }}{% endfor %}"},
  };
  for (const auto& [name, tpl] : hostile) {
    auto t0 = std::chrono::steady_clock::now();
    std::string err = error_of(tpl);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_NE(err, "<no error>") << name;
    EXPECT_LT(secs, 6.0) << name;
    std::cout << "  " << name << ": " << secs * 1000 << " ms: " << err.substr(0, 100) << "\n";
  }
}

// Width and precision past 65536 are refused with a clear error (they used to reach
// 7.4 GB in printf, or come back silently cut to 511 bytes).
TEST(ChatLimits, FormatFieldsAreBoundedNotTruncated) {
  EXPECT_NE(error_of("{{ '%.2147483647f' | format(1.5) }}").find("precision larger than 65536"), std::string::npos);
  EXPECT_NE(error_of("{{ '%99999s' % 'x' }}").find("width larger than 65536"), std::string::npos);
  EXPECT_EQ(render("{{ '%.65536f' | format(0.5) }}").size(), 65538u);
  EXPECT_EQ(render("{{ '%65536s' | format('x') }}").size(), 65536u);
}

TEST(ChatLimits, DeepContextRejected) {
  json deep = json::array();
  for (int i = 0; i < 400; ++i) deep = json::array({deep});
  EXPECT_THROW(render("{{ x | length }}", {{"x", deep}}), pocketllm::Error);
}

TEST(ChatLimits, LegitimateLargeConversationRenders) {
  json msgs = json::array();
  for (int i = 0; i < 2000; ++i)
    msgs.push_back({{"role", i % 2 ? "assistant" : "user"}, {"content", std::string(200, 'a' + i % 26)}});
  auto dir = testsupport::shared_data() / "chat_templates";
  std::string out = render(testsupport::read_file(dir / "qwen2.5-7b-instruct.jinja"),
                           {{"messages", msgs}, {"add_generation_prompt", true}});
  EXPECT_GT(out.size(), 2000u * 200u);
}

}  // namespace
