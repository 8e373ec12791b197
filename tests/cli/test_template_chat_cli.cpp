// `pocketllm template` and `pocketllm chat` as users script them.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "support/test_support.h"

namespace ts = testsupport;
using nlohmann::json;

namespace {
std::string shared(const std::string& rel) { return (ts::shared_data() / rel).string(); }
std::string str_or_empty(const json& c, const char* key) {
  return c.contains(key) && c[key].is_string() ? c[key].get<std::string>() : "";
}
}  // namespace

TEST(TemplateCli, TinyLlamaPromptIdsWithTheRealLlamaVocab) {
  auto dir = ts::temp_dir("tmpl");
  ts::write_file(dir / "m.json", R"([{"role":"user","content":"Hello! What is the capital of France?"}])");
  auto r = ts::run_cli({"template", "-m", shared("tokenizers/llamacpp/ggml-vocab-llama-spm.gguf"),
                        "--chat-template-file", shared("chat_templates/tinyllama-1.1b-chat-v1.0.jinja"), "--messages",
                        (dir / "m.json").string(), "--add-generation-prompt", "--ids"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out).get<std::vector<int>>(),
            (std::vector<int>{1, 529, 29989, 1792, 29989, 29958, 13, 10994, 29991, 1724, 338, 278, 7483,
                              310, 3444, 29973, 2, 29871, 13, 29966, 29989, 465, 22137, 29989, 29958, 13}));
}

TEST(TemplateCli, RendersEveryReferenceCaseExactly) {
  // One real template per family through the CLI (the engine tests cover every case).
  for (const char* name : {"llama-3.2-3b-instruct", "qwen2.5-7b-instruct", "gemma-2-2b-it", "phi-3-mini-4k-instruct"}) {
    const json cases = json::parse(ts::read_file(shared(std::string("chat_templates/") + name + ".cases.json")));
    auto dir = ts::temp_dir("tmplcases");
    int checked = 0;
    for (auto& c : (cases.is_array() ? cases : cases["cases"])) {
      ts::write_file(dir / "m.json", c["messages"].dump());
      std::vector<std::string> args = {"template", "--chat-template-file",
                                       shared(std::string("chat_templates/") + name + ".jinja"), "--messages",
                                       (dir / "m.json").string(), "--bos", str_or_empty(c, "bos_token"), "--eos",
                                       str_or_empty(c, "eos_token")};
      if (c.value("add_generation_prompt", false)) args.push_back("--add-generation-prompt");
      if (c.contains("extra_context") && c["extra_context"].is_object())
        for (auto& [k, v] : c["extra_context"].items()) args.insert(args.end(), {"--var", k + "=" + v.dump()});
      auto r = ts::run_cli(args);
      if (c.contains("error") && !c["error"].is_null()) {
        EXPECT_EQ(r.exit_code, 1) << name;
        EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
      } else {
        ASSERT_EQ(r.exit_code, 0) << name << ": " << r.err;
        EXPECT_EQ(r.out, c["rendered"].get<std::string>()) << name;
      }
      ++checked;
    }
    EXPECT_GT(checked, 0) << name;
  }
}

TEST(TemplateCli, RaisingTemplateAndBadInputsExitOne) {
  auto dir = ts::temp_dir("tmplerr");
  ts::write_file(dir / "t.jinja", "{{ raise_exception('no system role here') }}");
  ts::write_file(dir / "m.json", R"([{"role":"user","content":"hi"}])");
  auto r = ts::run_cli({"template", "--chat-template-file", (dir / "t.jinja").string(), "--messages", (dir / "m.json").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error: "), std::string::npos);
  EXPECT_NE(r.err.find("no system role here"), std::string::npos) << r.err;
  ts::write_file(dir / "bad.json", "[{broken");
  r = ts::run_cli({"template", "--chat-template-file", (dir / "t.jinja").string(), "--messages", (dir / "bad.json").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("invalid JSON"), std::string::npos) << r.err;
  // --var values parse as JSON when they can, else stay strings.
  ts::write_file(dir / "v.jinja", "{{ flag is sameas false }}|{{ n + 1 }}|{{ s }}");
  r = ts::run_cli({"template", "--chat-template-file", (dir / "v.jinja").string(), "--messages", (dir / "m.json").string(),
                   "--var", "flag=false", "--var", "n=3", "--var", "s=plain text"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "True|4|plain text");
}

// A --messages file nested 200,000 deep used to crash the command (a recursive copy
// overflowed the stack); it is now a clear error.
TEST(TemplateCli, DeeplyNestedMessagesFileIsAClearError) {
  auto dir = ts::temp_dir("tmpldeep");
  ts::write_file(dir / "t.jinja", "{{ messages | length }}");
  const int depth = 200000;
  ts::write_file(dir / "deep.json", R"([{"role":"user","content":)" + std::string(depth, '[') + std::string(depth, ']') + "}]");
  auto r = ts::run_cli({"template", "--chat-template-file", (dir / "t.jinja").string(), "--messages", (dir / "deep.json").string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("deep.json: JSON nested deeper than 128 levels"), std::string::npos) << r.err;
}

TEST(ChatCli, ScriptedThreeTurnsThroughAPipe) {
  auto dir = ts::temp_dir("chat");
  ts::write_file(dir / "story.jinja",
                 "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}{{ m['content'] }}"
                 "{% else %}{{ ' ' + m['content'] + '\\n' }}{% endif %}{% endfor %}");
  auto r = ts::run_cli({"chat", "-m", shared("models/stories260K/stories260K.bin"), "--tokenizer",
                        shared("models/stories260K/tok512.bin"), "--chat-template-file", (dir / "story.jinja").string(),
                        "-n", "12", "--temp", "0", "-t", "1"},
                       "Once upon a time\n\"\"\"Lily went\nto the park\"\"\"\n/set temp 0\nThe dog was big\n/bye\nnever read\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Exactly one line per answer on stdout, no decorations.
  int lines = 0;
  for (char ch : r.out) lines += ch == '\n';
  EXPECT_EQ(lines, 3) << r.out;
  std::regex stats(R"(prefill: (\d+) tok, [0-9.]+ tok/s \| decode: (\d+) tok, [0-9.]+ tok/s)");
  int n_stats = 0;
  for (std::sregex_iterator it(r.err.begin(), r.err.end(), stats), end; it != end; ++it) {
    ++n_stats;
    EXPECT_EQ((*it)[2].str(), "12");
  }
  EXPECT_EQ(n_stats, 3) << r.err;
  EXPECT_EQ(r.out.rfind(", there was a little girl", 0), 0u) << r.out;
}

TEST(RunCli, ChatFlagWrapsThePromptAsOneUserTurn) {
  auto dir = ts::temp_dir("runchat");
  ts::write_file(dir / "t.jinja",
                 "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] }} {% else %}"
                 "{{ m['content'] }}{% endif %}{% endfor %}");
  const std::vector<std::string> base = {"-m", shared("models/stories260K/stories260K.bin"), "--tokenizer",
                                         shared("models/stories260K/tok512.bin"), "--chat-template-file",
                                         (dir / "t.jinja").string(), "-n", "16", "--temp", "0", "-t", "1"};
  std::vector<std::string> run = {"run", "--chat", "-p", "Lily saw a dog", "-sys", "Once upon a time"};
  run.insert(run.end(), base.begin(), base.end());
  auto r = ts::run_cli(run);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The chat command with the same system prompt and message answers the same text.
  std::vector<std::string> chat = {"chat", "-sys", "Once upon a time"};
  chat.insert(chat.end(), base.begin(), base.end());
  auto c = ts::run_cli(chat, "Lily saw a dog\n");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(r.out + "\n", c.out);  // chat ends each answer's line; run's stdout is the text alone
  EXPECT_EQ(r.out.find("Lily saw a dog"), std::string::npos) << "--chat prints only the answer";
  // The rendered prompt is "<s>Once upon a time Lily saw a dog": same as completing that text.
  auto plain = ts::run_cli({"run", "-m", shared("models/stories260K/stories260K.bin"), "--tokenizer",
                            shared("models/stories260K/tok512.bin"), "-p", "Once upon a time Lily saw a dog", "-n", "16",
                            "--temp", "0", "-t", "1"});
  EXPECT_NE(plain.out.find(r.out), std::string::npos) << plain.out << " vs " << r.out;
}
