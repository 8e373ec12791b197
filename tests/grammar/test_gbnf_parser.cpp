// GBNF parsing: every feature llama.cpp's grammars use, and clear errors.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "grammar/grammar.h"
#include "grammar/matcher.h"
#include "support/test_support.h"

using namespace pocketllm::grammar;

namespace {

bool match(const std::string& gbnf, const std::string& text) { return matches(*parse_gbnf(gbnf), text); }

std::string parse_error(const std::string& gbnf) {
  try {
    parse_gbnf(gbnf);
  } catch (const pocketllm::Error& e) {
    return e.what();
  }
  return "(parsed)";
}

TEST(GbnfParser, LiteralsAlternativesAndGroups) {
  const std::string g = "root ::= \"ab\" (\"c\" | \"d\" \"e\") | \"x\"\n";
  EXPECT_TRUE(match(g, "abc"));
  EXPECT_TRUE(match(g, "abde"));
  EXPECT_TRUE(match(g, "x"));
  EXPECT_FALSE(match(g, "ab"));
  EXPECT_FALSE(match(g, "abd"));
  EXPECT_FALSE(match(g, "xx"));
  EXPECT_FALSE(match(g, ""));
}

TEST(GbnfParser, RepetitionOperators) {
  EXPECT_TRUE(match("root ::= \"a\"*", ""));
  EXPECT_TRUE(match("root ::= \"a\"*", "aaaa"));
  EXPECT_FALSE(match("root ::= \"a\"+", ""));
  EXPECT_TRUE(match("root ::= \"a\"+ \"b\"", "aab"));
  EXPECT_TRUE(match("root ::= \"a\"? \"b\"", "b"));
  EXPECT_TRUE(match("root ::= \"a\"? \"b\"", "ab"));
  EXPECT_FALSE(match("root ::= \"a\"? \"b\"", "aab"));
  // A repetition applies to the whole literal before it, or to a group.
  EXPECT_TRUE(match("root ::= \"ab\"*", "abab"));
  EXPECT_FALSE(match("root ::= \"ab\"*", "aba"));
  EXPECT_TRUE(match("root ::= (\"a\" | \"b\")+", "abba"));
}

TEST(GbnfParser, CountedRepetition) {
  const std::string exact = "root ::= [0-9]{3}";
  EXPECT_TRUE(match(exact, "123"));
  EXPECT_FALSE(match(exact, "12"));
  EXPECT_FALSE(match(exact, "1234"));
  const std::string range = "root ::= \"x\"{2,4}";
  for (int n = 0; n <= 6; ++n) EXPECT_EQ(match(range, std::string(n, 'x')), n >= 2 && n <= 4) << n;
  const std::string at_least = "root ::= \"x\"{2,}";
  for (int n = 0; n <= 6; ++n) EXPECT_EQ(match(at_least, std::string(n, 'x')), n >= 2) << n;
  const std::string at_most = "root ::= \"x\"{,2}";
  for (int n = 0; n <= 4; ++n) EXPECT_EQ(match(at_most, std::string(n, 'x')), n <= 2) << n;
  EXPECT_TRUE(match("root ::= (\"ab\" \"c\"?){2}", "abcab"));
  EXPECT_TRUE(match("root ::= \"x\"{0}", ""));
  EXPECT_FALSE(match("root ::= \"x\"{0}", "x"));
}

TEST(GbnfParser, CharacterClasses) {
  const std::string g = "root ::= [a-cx] [^a-z0-9] [-+] [a-]";
  EXPECT_TRUE(match(g, "b!+-"));
  EXPECT_TRUE(match(g, "xZ-a"));
  EXPECT_FALSE(match(g, "d!+-"));
  EXPECT_FALSE(match(g, "bq+-"));
  EXPECT_FALSE(match(g, "b5+-"));
  // Ranges over punctuation: ",-." is the range from ',' to '.'.
  EXPECT_TRUE(match("root ::= [+,-./]+", "+,-./"));
  EXPECT_TRUE(match("root ::= .", "\xE2\x82\xAC"));  // any one character: the euro sign
  EXPECT_FALSE(match("root ::= .", "ab"));
  // Non-ASCII ranges written as UTF-8.
  EXPECT_TRUE(match("root ::= [ぁ-ゟ]+", "ひらがな"));
  EXPECT_FALSE(match("root ::= [ぁ-ゟ]+", "カ"));
}

TEST(GbnfParser, Escapes) {
  EXPECT_TRUE(match(R"(root ::= "\x41\u00e9\U0001F600\t\n\r\\\"")", "A\xC3\xA9\xF0\x9F\x98\x80\t\n\r\\\""));
  EXPECT_TRUE(match(R"(root ::= [\[\]\-\\]+)", "[]-\\"));
  EXPECT_TRUE(match(R"(root ::= [^"\\\x00-\x1F]*)", "plain text"));
  EXPECT_FALSE(match(R"(root ::= [^"\\\x00-\x1F]*)", "a\"b"));
  EXPECT_FALSE(match(R"(root ::= [^"\\\x00-\x1F]*)", "a\nb"));
}

TEST(GbnfParser, CommentsNewlinesAndRuleReferences) {
  const std::string g = R"(# a comment line
root ::= greeting ws name   # trailing comment
greeting ::= "hi" | "hello"
name ::=
  (
    [A-Z]
    [a-z]*   # inside a group newlines are spaces
  )
ws ::= | " " | "\n" [ \t]{0,2}
)";
  EXPECT_TRUE(match(g, "hi Ann"));
  EXPECT_TRUE(match(g, "helloBob"));
  EXPECT_TRUE(match(g, "hi\n\tZ"));
  EXPECT_FALSE(match(g, "hi \tZ"));
  EXPECT_FALSE(match(g, "hey Ann"));
}

TEST(GbnfParser, RecursionThatConsumesFirst) {
  const std::string g = "root ::= \"(\" root \")\" | \"x\"";
  EXPECT_TRUE(match(g, "((x))"));
  EXPECT_FALSE(match(g, "((x)"));
}

TEST(GbnfParser, ErrorsNameLineAndColumn) {
  EXPECT_EQ(parse_error("root ::= \"a\"\nfoo ::= \"b\" bar\n"),
            "grammar: line 2, column 13: rule 'bar' is used but not defined");
  EXPECT_EQ(parse_error("root ::= \"abc\n"), "grammar: line 1, column 14: unterminated string literal");
  EXPECT_EQ(parse_error("root ::= [a-\n"), "grammar: line 1, column 10: unterminated character class");
  EXPECT_EQ(parse_error("root ::= (\"a\" | \"b\"\n"), "grammar: line 1, column 10: '(' is not closed");
  EXPECT_EQ(parse_error("root = \"a\""), "grammar: line 1, column 6: expected '::=' after the rule name 'root'");
  EXPECT_EQ(parse_error("root ::= \"a\" ]"), "grammar: line 1, column 14: unexpected ']'");
  EXPECT_EQ(parse_error("root ::= * \"a\""), "grammar: line 1, column 10: '*' has nothing before it to repeat");
  EXPECT_EQ(parse_error("root ::= [z-a]"), "grammar: line 1, column 11: character range is reversed (U+007A > U+0061)");
  EXPECT_EQ(parse_error("root ::= \"a\"{3,1}"), "grammar: line 1, column 13: repetition {3,1} has its maximum below its minimum");
  EXPECT_EQ(parse_error("root ::= \"\\q\""), "grammar: line 1, column 11: unknown escape '\\q'");
  EXPECT_EQ(parse_error("root ::= \"\\x4\""), "grammar: line 1, column 14: expected a hex digit, found '\"'");
  EXPECT_EQ(parse_error("root ::= \"a\"\nroot ::= \"b\""), "grammar: line 2, column 1: rule 'root' is defined twice");
  EXPECT_EQ(parse_error("start ::= \"a\""), "grammar: no 'root' rule (the start rule)");
  EXPECT_EQ(parse_error(""), "grammar: no 'root' rule (the start rule)");
}

TEST(GbnfParser, LeftRecursionIsRejected) {
  EXPECT_EQ(parse_error("root ::= root \"a\" | \"b\""),
            "grammar: left recursion: root -> root (a rule may not reach itself before matching a character)");
  EXPECT_EQ(parse_error("root ::= x\nx ::= opt root \"a\" | \"b\"\nopt ::= \"c\"?"),
            "grammar: left recursion: root -> x -> root (a rule may not reach itself before matching a character)");
  // A repetition of something that can be empty would loop the same way.
  EXPECT_NE(parse_error("root ::= (\"a\"?)*").find("left recursion"), std::string::npos);
}

// llama.cpp's grammars/ folder, when $POCKETLLM_LLAMACPP_GRAMMARS points at a copy
// of it (not kept in this repository): every file parses.
TEST(GbnfParser, LlamaCppGrammarsParse) {
  const char* dir = std::getenv("POCKETLLM_LLAMACPP_GRAMMARS");
  if (!dir) GTEST_SKIP() << "set POCKETLLM_LLAMACPP_GRAMMARS to llama.cpp's grammars/ folder";
  int n = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".gbnf") continue;
    SCOPED_TRACE(e.path().string());
    EXPECT_NO_THROW(parse_gbnf(testsupport::read_file(e.path())));
    ++n;
  }
  EXPECT_GT(n, 0);
}

}  // namespace

// Grammars arrive in requests: what one costs to parse and hold is bounded.
TEST(GbnfParser, HostileSizesAreErrorsNotCrashes) {
  const std::string deep = "root ::= " + std::string(300, '(') + "\"a\"" + std::string(300, ')');
  EXPECT_NE(parse_error(deep).find("nested deeper than 256"), std::string::npos) << parse_error(deep);
  const std::string ok = "root ::= " + std::string(200, '(') + "\"a\"" + std::string(200, ')');
  EXPECT_TRUE(match(ok, "a"));
  // Each repetition is within its own bound; together they would write 10^4 x 200 elements.
  std::string wide = "root ::= ";
  for (int i = 0; i < 200; ++i) wide += "\"abcdefgh\"{0,10000} ";
  EXPECT_NE(parse_error(wide).find("expand to more than"), std::string::npos) << parse_error(wide);
  EXPECT_NE(parse_error("root ::= \"a\"{99999999999}").find("repetition count above"), std::string::npos);
}
