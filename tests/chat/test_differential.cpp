// Differential test: the same templates and contexts rendered by pocketllm's engine and by
// python jinja2 set up as transformers does (tests/chat/jinja_reference.py) must agree byte
// for byte, and must fail together.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "chat/template.h"
#include "core/error.h"
#include "support/test_support.h"
#include "chat/differential_support.h"

namespace {

using nlohmann::ordered_json;
using chattest::compare_all;
using chattest::Job;
using chattest::python_has_jinja2;
namespace fs = std::filesystem;

std::vector<std::pair<std::string, std::string>> load_corpus() {
  std::ifstream in(fs::path(POCKETLLM_SOURCE_DIR) / "tests/chat/differential_corpus.txt");
  std::vector<std::pair<std::string, std::string>> out;
  std::string line;
  bool started = false;
  while (std::getline(in, line)) {
    if (line.rfind("####", 0) == 0) {
      if (started && !out.back().second.empty()) out.back().second.pop_back();  // separator newline
      out.emplace_back(line.substr(4), "");
      started = true;
    } else if (started) {
      out.back().second += line + "\n";
    }
  }
  if (started && !out.back().second.empty()) out.back().second.pop_back();
  return out;
}

std::vector<ordered_json> corpus_contexts() {
  ordered_json rich = ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "You are helpful."},
      {"role": "user", "content": "  Hi there!  "},
      {"role": "assistant", "content": "Hello, \"friend\" — é 中文 🙂",
       "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}}]},
      {"role": "tool", "content": "{\"temp\": 21}"},
      {"role": "user", "content": [{"type": "text", "text": "look"}, {"type": "image"}]}
    ],
    "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>",
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Get the weather",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                              "required": ["city"]}}}],
    "extra": {"nums": [1, 2, 3.5], "text": "mixed Case", "flag": false, "nothing": null, "ratio": 0.25, "z": 1, "a": 2}
  })");
  ordered_json plain = ordered_json::parse(R"({
    "messages": [{"role": "user", "content": "Only user"}],
    "add_generation_prompt": false, "bos_token": "", "eos_token": ""
  })");
  return {rich, plain};
}

TEST(JinjaDifferential, HandWrittenCorpus) {
  if (!python_has_jinja2()) GTEST_SKIP() << "/usr/bin/python3 has no jinja2";
  auto corpus = load_corpus();
  ASSERT_GE(corpus.size(), 150u);
  std::vector<Job> jobs;
  auto contexts = corpus_contexts();
  for (size_t c = 0; c < contexts.size(); ++c)
    for (const auto& [name, tpl] : corpus) jobs.push_back({name + " [context " + std::to_string(c) + "]", tpl, contexts[c]});
  EXPECT_EQ(compare_all(jobs), corpus.size() * contexts.size());
}

// Random conversations (seeded) on every real template of the shared data.
TEST(JinjaDifferential, RealTemplatesRandomConversations) {
  if (!python_has_jinja2()) GTEST_SKIP() << "/usr/bin/python3 has no jinja2";
  fs::path dir = testsupport::shared_data() / "chat_templates";
  struct Tpl {
    std::string name, text, bos, eos;
  };
  std::vector<Tpl> templates;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string f = entry.path().filename().string();
    if (entry.path().extension() != ".jinja") continue;
    ordered_json cases = ordered_json::parse(testsupport::read_file(dir / (f.substr(0, f.size() - 6) + ".cases.json")));
    auto token = [&](const char* k) { return cases[k].is_string() ? cases[k].get<std::string>() : std::string(); };
    templates.push_back({f, testsupport::read_file(entry.path()), token("bos_token"), token("eos_token")});
  }
  ordered_json llamacpp = ordered_json::parse(testsupport::read_file(dir / "llamacpp_test-chat-template_cases.json"));
  for (const auto& c : llamacpp["cases"])
    templates.push_back({c["name"], c["template"], c["bos_token"], c["eos_token"]});
  ASSERT_GE(templates.size(), 35u);

  const std::vector<std::string> contents = {
      "Hello", "  padded with spaces  ", "multi\nline\n\ntext", "quotes ' and \" inside", "unicode é 中文 🙂",
      "{{ not a template }} {% neither %}", "", "tab\tseparated", "trailing newline\n", "<|im_end|> special-looking"};
  const ordered_json tools = ordered_json::parse(R"([{"type": "function", "function": {"name": "search",
      "description": "Search the web", "parameters": {"type": "object", "properties": {"q": {"type": "string"}},
      "required": ["q"]}}}])");
  std::mt19937 rng(1234);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  std::vector<Job> jobs;
  for (const auto& t : templates) {
    for (int k = 0; k < 12; ++k) {
      ordered_json messages = ordered_json::array();
      if (pick(10) < 4) messages.push_back({{"role", "system"}, {"content", contents[pick(contents.size())]}});
      size_t turns = 1 + pick(5);
      for (size_t i = 0; i < turns; ++i) {
        std::string role = i % 2 == 0 ? "user" : "assistant";
        if (pick(100) < 8) role = pick(2) ? "system" : "user";
        messages.push_back({{"role", role}, {"content", contents[pick(contents.size())]}});
      }
      ordered_json ctx = {{"messages", messages}, {"add_generation_prompt", pick(2) == 1}, {"bos_token", t.bos}, {"eos_token", t.eos}};
      if (pick(3) == 0) ctx["date_string"] = "01 Jan 2025";
      if (t.text.find("tools") != std::string::npos && pick(3) == 0) ctx["tools"] = tools;
      jobs.push_back({t.name + " #" + std::to_string(k) + " " + ctx.dump(), t.text, ctx});
    }
  }
  EXPECT_EQ(compare_all(jobs), templates.size() * 12);
}

}  // namespace
