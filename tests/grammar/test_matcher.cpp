// The matcher over text and tokens, and token masks against brute force.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "grammar/grammar.h"
#include "grammar/grammar_test_util.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "runtime/grammar_constraint.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

using namespace pocketllm::grammar;
using namespace gtest_grammar;

namespace {

// A JSON grammar written for these tests (the same shape as llama.cpp's json.gbnf).
const char* kJson = R"(root ::= obj
val ::= obj | arr | str | num | ("true" | "false" | "null") sp
obj ::= "{" sp ( str ":" sp val ( "," sp str ":" sp val )* )? "}" sp
arr ::= "[" sp ( val ( "," sp val )* )? "]" sp
str ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) )* "\"" sp
num ::= "-"? ( "0" | [1-9] [0-9]{0,15} ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9]+ )? sp
sp ::= | " " | "\n" [ \t]{0,20}
)";

TEST(GrammarMatcher, JsonTexts) {
  auto g = parse_gbnf(kJson);
  for (const char* ok : {"{}", "{ }", "{\"a\": 1}", "{\"a\":[1, 2.5e-3, true, null, \"x\\n\\u00e9\"]}",
                         "{\"k\": {\"n\": {}}}\n", "{\"\xE6\x97\xA5\": \"\xF0\x9F\x98\x80\"}"})
    EXPECT_TRUE(matches(*g, ok)) << ok;
  for (const char* bad : {"", "[]", "{", "{\"a\" 1}", "{\"a\": 01}", "{\"a\": tru}", "{a: 1}", "{\"a\":\"\x01\"}",
                          "{} {}", "{\"a\": \"\\x\"}"})
    EXPECT_FALSE(matches(*g, bad)) << bad;
}

TEST(GrammarMatcher, Utf8AcrossCalls) {
  auto g = parse_gbnf("root ::= \"\xE6\x97\xA5\" [\xC3\xA0-\xC3\xBF] \"!\"");
  Matcher m(g, nullptr);
  EXPECT_TRUE(m.accept_bytes("\xE6"));
  EXPECT_FALSE(m.can_end());
  EXPECT_FALSE(m.accept_bytes("\x41"));  // not a continuation byte: rejected, state kept
  EXPECT_TRUE(m.accept_bytes("\x97"));
  EXPECT_TRUE(m.accept_bytes("\xA5\xC3"));
  EXPECT_FALSE(m.accept_bytes("\x80"));  // U+00C0 is outside [à-ÿ]
  EXPECT_TRUE(m.accept_bytes("\xA9!"));   // é
  EXPECT_TRUE(m.can_end());
  EXPECT_TRUE(m.finished());
  // A lead byte whose every completion is out of range is refused at once.
  Matcher n(g, nullptr);
  EXPECT_FALSE(n.accept_bytes("\xE5"));
  EXPECT_FALSE(n.accept_bytes("\xFF"));
}

TEST(GrammarMatcher, InvalidUtf8IsRejected) {
  // Overlong encodings of '{' must not pass for '{' (a byte-fallback vocabulary can spell them).
  auto brace = parse_gbnf("root ::= \"{\"");
  for (const char* bad : {"\xC1\xBB", "\xE0\x81\xBB", "\xF0\x80\x81\xBB", "\xF0", "\xE0", "\xC1"}) {
    Matcher m(brace, nullptr);
    EXPECT_FALSE(m.accept_bytes(bad)) << testing::PrintToString(bad);
  }
  auto any = parse_gbnf("root ::= .");
  for (const char* bad : {"\xED\xA0\x80", "\xF4\x90\x80\x80", "\xC0\x80", "\xF5"})
    EXPECT_FALSE(matches(*any, bad)) << testing::PrintToString(bad);
  for (const char* ok : {"\xED\x9F\xBF", "\xF4\x8F\xBF\xBF", "\xC2\x80", "\x7F"})
    EXPECT_TRUE(matches(*any, ok)) << testing::PrintToString(ok);
}

TEST(GrammarMatcher, RejectedTextLeavesStateAlone) {
  auto g = parse_gbnf("root ::= \"abc\"");
  Matcher m(g, nullptr);
  EXPECT_TRUE(m.accept_bytes("a"));
  EXPECT_FALSE(m.accept_bytes("bx"));
  EXPECT_TRUE(m.accept_bytes("bc"));
  EXPECT_TRUE(m.can_end());
  m.reset();
  EXPECT_FALSE(m.can_end());
  EXPECT_TRUE(m.accept_bytes("abc"));
}

TEST(GrammarMatcher, MasksMatchBruteForceOnSmallVocab) {
  auto vocab = small_vocab();
  const std::vector<std::string> grammars = {
      kJson,
      "root ::= [a-c]{2,5} \"!\"",
      "root ::= (\"\xE6\x97\xA5\" | \"\xC3\xA9\" | [\\U0001F600-\\U0001F64F])+ \"x\"?",
      "root ::= \"name\" | \"na\" \"me\" \"s\"* | [^a-z]",
      "root ::= item+\nitem ::= \"- \" [^\\r\\n\\x0b\\x0c\\x85\\u2028\\u2029]+ \"\\n\"",
  };
  std::mt19937 rng(7);
  for (auto& text : grammars) {
    SCOPED_TRACE(text);
    auto g = parse_gbnf(text);
    for (int walk = 0; walk < 6; ++walk) {
      bool ended = false;
      const std::string out = random_walk(g, vocab, rng, 40, true, &ended);
      if (ended) {
        EXPECT_TRUE(matches(*g, out)) << out;
      }
    }
  }
}

TEST(GrammarMatcher, EndOfGenerationOnlyWhenComplete) {
  auto vocab = small_vocab();
  const int32_t eog = vocab->eog_ids().front();
  Matcher m(parse_gbnf("root ::= \"ab\" \"c\"?"), vocab);
  auto bit = [&](int32_t id) { return (m.mask()[id >> 6] >> (id & 63)) & 1; };
  EXPECT_FALSE(bit(eog));
  EXPECT_FALSE(m.accept_token(eog));
  EXPECT_TRUE(m.accept_bytes("ab"));
  EXPECT_TRUE(bit(eog));
  EXPECT_TRUE(m.allows(eog));
  EXPECT_TRUE(m.accept_bytes("c"));
  EXPECT_TRUE(m.finished());
  // Only end-of-generation is left.
  int allowed = 0;
  for (int32_t id = 0; id < vocab->n_tokens(); ++id) allowed += static_cast<int>(bit(id));
  EXPECT_EQ(allowed, 1);
  EXPECT_TRUE(m.accept_token(eog));
  // The control token (empty bytes) is never allowed.
  Matcher any(parse_gbnf("root ::= .*"), vocab);
  EXPECT_FALSE(any.allows(vocab->n_tokens() - 2));
}

// stories260K's real tokenizer (512 tokens: byte fallback, SentencePiece pieces).
TEST(GrammarMatcher, MasksMatchBruteForceOnStories260K) {
  const auto path = testsupport::shared_data() / "models/stories260K/tok512.bin";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not found";
  std::shared_ptr<const pocketllm::Tokenizer> tok = pocketllm::Tokenizer::from_llama2c(path.string());
  auto vocab = pocketllm::grammar_vocab(tok);
  EXPECT_EQ(vocab.get(), pocketllm::grammar_vocab(tok).get());  // built once per tokenizer
  EXPECT_EQ(vocab->n_tokens(), 512);
  EXPECT_TRUE(vocab->is_eog(tok->eos()));
  std::mt19937 rng(11);
  for (const std::string& text :
       {std::string(kJson), json_schema_to_gbnf(nlohmann::ordered_json::parse(
                                R"({"type":"object","properties":{"name":{"type":"string","maxLength":8},
                                    "age":{"type":"integer"}},"required":["name","age"]})")),
        std::string("root ::= \"Once upon a time\" [ a-z]{1,30} \".\"")}) {
    SCOPED_TRACE(text);
    auto g = parse_gbnf(text);
    for (int walk = 0; walk < 3; ++walk) {
      bool ended = false;
      const std::string out = random_walk(g, vocab, rng, 30, true, &ended);
      if (ended) {
        EXPECT_TRUE(matches(*g, out)) << out;
      }
    }
  }
}

}  // namespace
