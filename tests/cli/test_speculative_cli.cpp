// run/chat/bench with --lookup and --draft as a user runs them: greedy text
// unchanged, the acceptance on stderr, a draft of another vocabulary refused.
#include <gtest/gtest.h>

#include "support/test_support.h"

namespace ts = testsupport;

namespace {
using ts::stories;
const char* kPrompt = "The cat sat on the mat. The dog sat on the log. The cat sat";

ts::CmdResult run(std::vector<std::string> extra) {
  std::vector<std::string> args = {"run", "-m", stories("stories260K.bin"), "--tokenizer", stories("tok512.bin"),
                                   "-p", kPrompt, "-n", "48", "--temp", "0", "-t", "1"};
  args.insert(args.end(), extra.begin(), extra.end());
  return ts::run_cli(args);
}
}  // namespace

TEST(SpeculativeCli, RunWithLookupOrDraftPrintsPlainDecodingsText) {
  const auto plain = run({});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  const auto lookup = run({"--lookup", "3"});
  ASSERT_EQ(lookup.exit_code, 0) << lookup.err;
  EXPECT_EQ(lookup.out, plain.out);
  EXPECT_NE(lookup.err.find("draft: "), std::string::npos) << lookup.err;
  EXPECT_EQ(plain.err.find("draft: "), std::string::npos);
  const auto draft = run({"--draft", (ts::shared_data() / "families/qwen2.gguf").string(), "--draft-max", "3"});
  ASSERT_EQ(draft.exit_code, 0) << draft.err;
  EXPECT_EQ(draft.out, plain.out);
}

TEST(SpeculativeCli, DraftOfAnotherVocabularyIsAClearError) {
  const auto dir = ts::temp_dir("spec-cli");
  const std::string other = (dir / "other.gguf").string();
  auto s = ts::run_cli({"synth", "--preset", "tiny", "--vocab",
                        (ts::shared_data() / "tokenizers/llamacpp/ggml-vocab-llama-spm.gguf").string(), other, "-t", "1"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  const auto r = run({"--draft", other});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("same vocabulary"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << "nothing generated before the check";
  const auto bad = run({"--lookup", "2", "--draft-min", "5", "--draft-max", "2"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--draft-max"), std::string::npos) << bad.err;
}
