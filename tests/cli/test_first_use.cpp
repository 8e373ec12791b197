// What a new user hits first with run and chat (issue 21): sampling ids the
// tokenizer lacks, exit codes, --tokenizer formats. (stdout holding only the text:
// CliRun.StdoutIsLlama2csTextByteForByte.)
#include <gtest/gtest.h>

#include "support/model_helpers.h"
#include "support/test_support.h"

namespace ts = testsupport;

namespace {
using ts::stories;

// Wide-open sampling: every id with any probability can come out.
std::vector<std::string> hot(std::vector<std::string> args, const std::string& seed) {
  for (const char* a : {"--temp", "3", "--top-k", "0", "--top-p", "1", "--min-p", "0", "-s"}) args.push_back(a);
  args.push_back(seed);
  return args;
}
}  // namespace

// The embedding has 512 rows, the tokenizer 400 tokens: ids 400..511 have no text and
// are never drawn (they were, and `run` ended in std::terminate).
TEST(FirstUse, IdsWithoutATokenAreNeverSampled) {
  const auto dir = ts::temp_dir("padded");
  const std::string model = ts::padded_vocab_stories(dir);
  for (const char* seed : {"1", "2", "3"}) {
    auto r = ts::run_cli(hot({"run", "-m", model, "-p", "Once upon a time", "-n", "150", "-t", "1"}, seed));
    ASSERT_EQ(r.exit_code, 0) << "seed " << seed << ": " << r.err;
    EXPECT_EQ(r.err.find("out of range"), std::string::npos) << r.err;
    EXPECT_EQ(r.out.rfind("Once upon a time", 0), 0u) << r.out;
  }
  auto r = ts::run_cli(hot({"chat", "-m", model, "-n", "150", "-t", "1", "--chat-template", "chatml"}, "4"),
                       "Tell me a story\nAnd another one\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("error"), std::string::npos) << r.err;
}

// Through a pipe a failed turn ends chat with a non-zero status (it went on and exited 0).
TEST(FirstUse, ChatFailsInAPipeWhenATurnFails) {
  const auto dir = ts::temp_dir("chat-exit");
  const std::string tmpl = (dir / "raises.jinja").string();
  ts::write_file(tmpl,
                 "{% for m in messages %}{% if m['content'] == 'forbidden' %}"
                 "{{ raise_exception('this template refuses forbidden') }}{% endif %}"
                 "{{ m['role'] + ': ' + m['content'] + '\\n' }}{% endfor %}");
  const std::vector<std::string> chat = {"chat", "-m", stories("stories260K.bin"), "--tokenizer", stories("tok512.bin"),
                                         "--chat-template-file", tmpl, "-n", "8", "--temp", "0", "-t", "1"};
  auto r = ts::run_cli(chat, "hello\nforbidden\nnot answered\n");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("this template refuses forbidden"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("not answered"), std::string::npos);
  // A message longer than the context is an error too.
  std::vector<std::string> small = chat;
  small.insert(small.end(), {"-c", "32"});
  std::string long_message;
  for (int i = 0; i < 40; ++i) long_message += "Once upon a time ";
  r = ts::run_cli(small, long_message + "\n");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("context"), std::string::npos) << r.err;
  // A clean conversation still exits 0.
  r = ts::run_cli(chat, "hello\n/bye\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// A template that does not parse stops chat (and serve, run --chat) at start-up, before any input.
TEST(FirstUse, BrokenTemplateFailsAtStartUp) {
  const auto dir = ts::temp_dir("chat-broken");
  const std::string tmpl = (dir / "broken.jinja").string();
  ts::write_file(tmpl, "{% for m in messages %}{{ m['content'] }}");  // no endfor
  for (const char* cmd : {"chat", "run"}) {
    std::vector<std::string> args = {cmd, "-m", stories("stories260K.bin"), "--tokenizer", stories("tok512.bin"),
                                     "--chat-template-file", tmpl, "-t", "1", "-n", "4"};
    if (std::string(cmd) == "run") args.insert(args.end(), {"--chat", "-p", "hi"});
    auto r = ts::run_cli(args, "");
    EXPECT_EQ(r.exit_code, 1) << cmd << ": " << r.err;
    EXPECT_NE(r.err.find("does not parse"), std::string::npos) << cmd << ": " << r.err;
  }
}

// run, chat and serve take the tokenizers tokenize takes: llama2.c .bin, SentencePiece
// .model, GGUF, tokenizer.json; the same text comes out of the same model.
TEST(FirstUse, TokenizerFlagTakesEveryFormat) {
  const auto dir = ts::temp_dir("tok-formats");
  const std::string gguf = (dir / "s.gguf").string();
  auto r = ts::run_cli({"convert", stories("stories260K.bin"), gguf, "--tokenizer", stories("tok512.bin")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> run = {"run", "-m", stories("stories260K.bin"), "-p", "Once upon a time",
                                        "-n", "30", "--temp", "0", "-t", "1", "--tokenizer"};
  auto want = ts::run_cli([&] { auto a = run; a.push_back(stories("tok512.bin")); return a; }());
  ASSERT_EQ(want.exit_code, 0) << want.err;
  for (const std::string& tok : {stories("tok512.model"), gguf}) {
    auto a = run;
    a.push_back(tok);
    r = ts::run_cli(a);
    EXPECT_EQ(r.exit_code, 0) << tok << ": " << r.err;
    EXPECT_EQ(r.out, want.out) << tok;
  }
  // A GGUF model with another tokenizer file: the override applies to every format.
  r = ts::run_cli({"info", gguf, "--tokenizer", (ts::shared_data() / "tokenizers/llamacpp/ggml-vocab-llama-spm.gguf").string()});
  EXPECT_EQ(r.exit_code, 1) << r.out;  // 32000 tokens for a 512-row embedding: refused, not run
  EXPECT_NE(r.err.find("more than the model's 512 embedding rows"), std::string::npos) << r.err;
  r = ts::run_cli({"info", gguf, "--tokenizer", stories("tok512.model")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("512 tokens"), std::string::npos) << r.out;
  // An unknown kind of file: the error lists what is accepted.
  const std::string odd = (dir / "vocab.txt").string();
  ts::write_file(odd, "hello\n");
  r = ts::run_cli({"run", "-m", stories("stories260K.bin"), "--tokenizer", odd, "-p", "x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("SentencePiece .model"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tokenizer.json"), std::string::npos) << r.err;
}
