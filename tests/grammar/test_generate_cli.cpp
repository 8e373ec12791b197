// End to end: stories260K under a JSON schema or grammar through `pocketllm run`
// and `pocketllm chat`; bad grammars and schemas exit 1 with a message.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "grammar/grammar.h"
#include "grammar/grammar_test_util.h"
#include "grammar/matcher.h"
#include "support/test_support.h"

namespace ts = testsupport;

namespace {

using ts::stories;

const char* kSchema = R"({"type":"object","properties":{"name":{"type":"string","maxLength":12},
  "age":{"type":"integer"},"happy":{"type":"boolean"},"pets":{"type":"array","items":{"enum":["cat","dog"]},
  "maxItems":2}},"required":["name","age","happy","pets"],"additionalProperties":false})";

std::vector<std::string> run_args(const std::string& prompt, const std::vector<std::string>& extra) {
  std::vector<std::string> a = {"run", "-m", stories("stories260K.bin"), "--tokenizer", stories("tok512.bin"), "-p",
                                prompt, "-n", "400"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

TEST(GrammarCli, JsonSchemaOutputValidatesGreedyAndSampled) {
  if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "stories260K not found";
  const std::string prompt = "Once upon a time";
  std::vector<std::string> texts;
  std::vector<std::vector<std::string>> modes = {{"--temp", "0"}};
  for (const char* seed : {"1", "2", "3", "4"}) modes.push_back({"--temp", "1.0", "--seed", seed});
  for (auto& mode : modes) {
    auto args = run_args(prompt, {"--json-schema", kSchema});
    args.insert(args.end(), mode.begin(), mode.end());
    auto r = ts::run_cli(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_EQ(r.out.rfind(prompt, 0), 0u) << r.out;  // run echoes the prompt
    const std::string answer = r.out.substr(prompt.size());
    SCOPED_TRACE(answer);
    nlohmann::json j;
    ASSERT_NO_THROW(j = nlohmann::json::parse(answer));
    EXPECT_TRUE(j["name"].is_string() && j["age"].is_number_integer() && j["happy"].is_boolean());
    texts.push_back(answer);
  }
  bool skipped = false;
  EXPECT_EQ(gtest_grammar::validate_json(kSchema, texts, &skipped), "");
  if (skipped) GTEST_SKIP() << "parsed as JSON; no Python with jsonschema to validate (scripts/venv.sh)";
}

// The top-k shortcut (tokens checked in logit order) draws exactly what the whole mask draws.
TEST(GrammarCli, TopKShortcutDrawsWhatTheFullMaskDraws) {
  if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "stories260K not found";
  for (const char* seed : {"1", "2", "3"}) {
    for (const char* top_k : {"5", "40"}) {
      std::vector<std::string> argv = {ts::pocketllm_binary()};
      for (auto& a : run_args("Once upon a time", {"--json-schema", kSchema, "--temp", "1.0", "--top-k", top_k,
                                                   "--seed", seed}))
        argv.push_back(a);
      auto quick = ts::run_command(argv);
      auto full = ts::run_command(argv, "", {"POCKETLLM_GRAMMAR_FULL_MASK=1"});
      ASSERT_EQ(quick.exit_code, 0) << quick.err;
      ASSERT_EQ(full.exit_code, 0) << full.err;
      EXPECT_EQ(quick.out, full.out) << "seed " << seed << " top-k " << top_k;
    }
  }
}

TEST(GrammarCli, GbnfGrammarFileAndChat) {
  if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "stories260K not found";
  const auto dir = ts::temp_dir("grammar-cli");
  const std::string gbnf = "root ::= \" \"? animal \" and \" animal \".\"\nanimal ::= \"a cat\" | \"a dog\" | \"the bird\"\n";
  ts::write_file(dir / "animals.gbnf", gbnf);
  auto g = pocketllm::grammar::parse_gbnf(gbnf);
  for (const char* seed : {"5", "6", "7"}) {
    auto r = ts::run_cli(run_args("Tim saw", {"--grammar-file", (dir / "animals.gbnf").string(), "--seed", seed}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_EQ(r.out.rfind("Tim saw", 0), 0u);
    EXPECT_TRUE(pocketllm::grammar::matches(*g, r.out.substr(7))) << r.out;
  }
  // chat: each answer follows the grammar (a llama2.c model has no template: plain text turns).
  auto r = ts::run_cli({"chat", "-m", stories("stories260K.bin"), "--tokenizer", stories("tok512.bin"), "--grammar", "root ::= (\"yes\" | \"no\") \"!\"", "--temp", "0.8",
                        "--seed", "3", "-n", "50"},
                       "hello\nagain\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out == "yes!\nyes!\n" || r.out == "yes!\nno!\n" || r.out == "no!\nyes!\n" || r.out == "no!\nno!\n")
      << r.out;
}

TEST(GrammarCli, BadGrammarOrSchemaExitsOne) {
  const auto dir = ts::temp_dir("grammar-cli-bad");
  struct Case {
    std::vector<std::string> flags;
    std::string message;
  };
  ts::write_file(dir / "bad.gbnf", "root ::= \"a\"\nitem ::= [b-\n");
  const std::vector<Case> cases = {
      {{"--grammar", "root ::= (\"a\""}, "error: grammar: line 1, column 10: '(' is not closed"},
      {{"--grammar-file", (dir / "bad.gbnf").string()}, "error: grammar: line 2, column 10: unterminated character class"},
      {{"--json-schema", R"({"type":"string","pattern":"a+"})"}, "error: JSON schema: unsupported keyword 'pattern' at #"},
      {{"--json-schema", "{not json"}, "error: JSON schema: not valid JSON"},
      {{"--grammar", "x ::= \"a\""}, "error: grammar: no 'root' rule"},
  };
  for (auto& c : cases) {
    auto r = ts::run_cli(run_args("Hi", c.flags));
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(r.err.rfind(c.message, 0), 0u) << r.err;
    EXPECT_EQ(r.out, "");
  }
  auto r = ts::run_cli(run_args("Hi", {"--grammar", "root ::= \"a\"", "--json-schema", "{}"}));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("excludes"), std::string::npos) << r.err;
}

}  // namespace
