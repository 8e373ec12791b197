// --help tells the same truth everywhere, flags that would be ignored are refused or
// warned about, and info/bench/template describe what they are given (issue 21, item 6).
#include <gtest/gtest.h>

#include <fcntl.h>

#include <filesystem>
#include <regex>

#include "chat/template.h"
#include "core/thread_pool.h"
#include "support/test_support.h"

namespace ts = testsupport;

namespace {
using ts::stories;

std::string help(const std::string& cmd) {
  auto r = ts::run_cli({cmd, "--help"});
  EXPECT_EQ(r.exit_code, 0) << cmd << ": " << r.err;
  return r.out;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
}  // namespace

TEST(HelpTexts, OneWordingForSharedFlags) {
  const std::string threads =
      "(default: " + std::to_string(pocketllm::default_thread_count()) + ", the physical cores this process may use)";
  for (const char* cmd : {"run", "chat", "serve", "perplexity", "quantize", "bench", "synth"})
    EXPECT_TRUE(has(help(cmd), threads)) << cmd << "\n" << help(cmd);
  const std::string templates = pocketllm::chat::builtin_chat_template_list();
  for (const char* cmd : {"run", "chat", "serve", "template"}) EXPECT_TRUE(has(help(cmd), templates)) << cmd;
  auto r = ts::run_cli({"template", "--chat-template", "nonesuch", "--messages", "/dev/null"});
  EXPECT_EQ(r.exit_code, 1);
  r = ts::run_cli({"run", "-m", stories("stories260K.bin"), "--tokenizer", stories("tok512.bin"), "--chat",
                   "--chat-template", "nonesuch", "-p", "x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(has(r.err, "(built-in: " + templates + ")")) << r.err;
  for (const char* cmd : {"run", "chat", "serve", "tokenize", "template", "info", "convert", "quantize"})
    EXPECT_TRUE(has(help(cmd), "SentencePiece .model")) << cmd;  // --tokenizer lists the formats it takes
}

TEST(HelpTexts, DefaultsAreShownAndTrue) {
  const std::string run = help("run"), chat = help("chat"), serve = help("serve"), ppl = help("perplexity");
  EXPECT_TRUE(std::regex_search(run, std::regex(R"(-b,--batch-size INT:INT in \[1 - 4096\]=512)"))) << run;
  EXPECT_TRUE(std::regex_search(chat, std::regex(R"(-n,--n-predict INT=-1)"))) << chat;
  EXPECT_TRUE(std::regex_search(ppl, std::regex(R"(--chunks INT=-1)"))) << ppl;
  EXPECT_FALSE(has(serve, "{false}")) << serve;
  EXPECT_TRUE(has(serve, "--no-log")) << serve;
  const std::string quantize = help("quantize");
  EXPECT_FALSE(has(quantize, "(round-to-nearest)")) << quantize;  // it also calibrates
  EXPECT_TRUE(has(quantize, "llama.cpp-readable only when every tensor")) << quantize;
}

TEST(Flags, IgnoredOnesAreRefusedOrWarned) {
  const std::vector<std::string> base = {"run", "-m", stories("stories260K.bin"), "--tokenizer", stories("tok512.bin"),
                                         "-p", "Once", "-n", "2", "-t", "1"};
  auto with = [&](std::vector<std::string> extra) {
    auto a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return ts::run_cli(a);
  };
  for (const std::vector<std::string>& extra : std::vector<std::vector<std::string>>{
           {"--chat-template", "chatml"}, {"-sys", "be brief"}, {"--chat-template-file", "/dev/null"}}) {
    auto r = with(extra);
    EXPECT_NE(r.exit_code, 0) << extra[0];
    EXPECT_TRUE(has(r.err, "--chat")) << extra[0] << ": " << r.err;
  }
  for (const char* bad : {"2", "-0.5"}) {
    auto r = with({"--top-p", bad});
    EXPECT_NE(r.exit_code, 0) << bad;
    EXPECT_TRUE(has(r.err, "--top-p")) << r.err;
  }
  EXPECT_NE(with({"--min-p", "1.5"}).exit_code, 0);
  auto r = with({"-c", "4096"});  // stories260K was trained on 512 tokens
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.err, "warning: -c 4096 is more than the 512 tokens")) << r.err;
  r = with({"-c", "256"});
  EXPECT_FALSE(has(r.err, "warning")) << r.err;
}

TEST(InfoCli, VocabOnlyGgufAndActivations) {
  const std::string vocab = (ts::shared_data() / "tokenizers/llamacpp/ggml-vocab-phi-3.gguf").string();
  auto r = ts::run_cli({"info", vocab});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "vocabulary only")) << r.out;
  EXPECT_TRUE(has(r.out, "32064 tokens")) << r.out;
  EXPECT_TRUE(has(r.out, "chat template:   yes")) << r.out;
  r = ts::run_cli({"info", stories("stories260K.bin"), "--tokenizer", stories("tok512.bin")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "activations:     float (float weights)")) << r.out;
}

TEST(BenchCli, NamesTheMixOfAQuantizedFile) {
  const auto dir = ts::temp_dir("bench-mix");
  const std::string q = (dir / "q.gguf").string();
  auto r = ts::run_cli({"quantize", stories("stories260K.bin"), q, "--tokenizer", stories("tok512.bin"), "-t", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = ts::run_cli({"bench", "-m", q, "-p", "0", "-n", "4", "-r", "1", "-t", "1", "-o", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Every matrix type, most bytes first: the W4 block linears (tiled, and Q4_0 where 172
  // rows do not tile), the tied 8-bit head (it used to say PL_W4_G32_T16 alone).
  EXPECT_TRUE(has(r.out, "\"llama 0M PL_W4_G32_T16+Q4_0+PL_W8_G32_T16\",")) << r.out;
}

TEST(TemplateCli, MessagesFromStdin) {
  auto r = ts::run_cli({"template", "--chat-template", "chatml", "--messages", "-"},
                       R"([{"role": "user", "content": "from a pipe"}])");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<|im_start|>user\nfrom a pipe<|im_end|>\n");
}

// In a terminal, Ctrl-D or Ctrl-C at an empty prompt ends the prompt's line, so the
// shell's prompt does not start after ">>> ". Driven through a pseudo-terminal.
TEST(ChatCli, LeavingAtThePromptEndsTheLine) {
  if (!std::filesystem::exists("/usr/bin/python3")) GTEST_SKIP() << "needs /usr/bin/python3 for a pseudo-terminal";
  const auto dir = ts::temp_dir("chat-pty");
  const std::string script = (dir / "pty_chat.py").string();
  ts::write_file(script, R"(import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
def read_until(marker, limit=30):
    global out
    end = time.time() + limit
    while marker not in out and time.time() < end:
        if not select.select([fd], [], [], max(0.0, end - time.time()))[0]:
            continue
        try:
            out += os.read(fd, 4096)
        except OSError:
            break
read_until(b">>> ")
# libedit shows the prompt and then switches the terminal to its own mode, which
# drops a key typed in between: type it a moment after the prompt, as a person does.
time.sleep(1.0)
os.write(fd, sys.stdin.buffer.read())
end = time.time() + 20  # bounded: a chat that does not exit fails the test, never hangs it
while time.time() < end:
    r, _, _ = select.select([fd], [], [], max(0.0, end - time.time()))
    if not r:
        continue
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
else:
    os.kill(pid, 9)
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
)");
  for (const std::string key : {"\x04", "\x03"}) {  // Ctrl-D, Ctrl-C
    const std::vector<std::string> args = {"/usr/bin/python3", script, ts::pocketllm_binary(), "chat", "-m",
                                           stories("stories260K.bin"), "--tokenizer", stories("tok512.bin"), "-t", "1"};
    std::string cmd;
    for (auto& a : args) cmd += "'" + a + "' ";
    FILE* p = popen(("printf '" + std::string(key == "\x04" ? "\\004" : "\\003") + "' | " + cmd).c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
    const size_t prompt = out.rfind(">>> ");
    ASSERT_NE(prompt, std::string::npos) << out;
    EXPECT_NE(out.find('\n', prompt), std::string::npos) << (key == "\x04" ? "Ctrl-D" : "Ctrl-C") << ": " << out;
  }
}
