// `pocketllm tokenize` / `detokenize` as a user runs them.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace ts = testsupport;

namespace {
std::string vocab(const char* name) {
  return (ts::shared_data() / "tokenizers/llamacpp" / (std::string("ggml-vocab-") + name + ".gguf")).string();
}
}  // namespace

TEST(TokenizeCli, PrintsIdsAndPieces) {
  auto r = ts::run_cli({"tokenize", "-m", vocab("gpt-2"), "-p", "Hello world"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json::parse("[15496, 995]"));
  r = ts::run_cli({"tokenize", "-m", vocab("gpt-2"), "-p", "Hello world", "--pieces"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[1]["id"], 995);
  EXPECT_EQ(j[1]["piece"], "\xC4\xA0world");
}

TEST(TokenizeCli, SpecialFlags) {
  auto qwen = (ts::shared_data() / "tokenizers/hf/qwen3").string();
  auto plain = ts::run_cli({"tokenize", "-m", qwen, "-p", "<|im_start|>hi"});
  auto parsed = ts::run_cli({"tokenize", "-m", qwen, "-p", "<|im_start|>hi", "--parse-special"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_EQ(parsed.exit_code, 0) << parsed.err;
  EXPECT_EQ(nlohmann::json::parse(parsed.out), nlohmann::json::parse("[151644, 6023]"));
  EXPECT_GT(nlohmann::json::parse(plain.out).size(), 2u);
  // llama2.c tokenizer: BOS only with --add-special.
  auto tok512 = (ts::shared_data() / "models/stories260K/tok512.bin").string();
  auto r = ts::run_cli({"tokenize", "--tokenizer", tok512, "-p", "Once upon a time", "--add-special"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json::parse("[1, 403, 407, 261, 378]"));
  r = ts::run_cli({"tokenize", "--tokenizer", tok512, "-p", "Once upon a time"});
  EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json::parse("[403, 407, 261, 378]"));
}

TEST(TokenizeCli, Detokenize) {
  auto r = ts::run_cli({"detokenize", "-m", vocab("gpt-2"), "--ids", "15496,995"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Hello world");
  auto tok512 = (ts::shared_data() / "models/stories260K/tok512.bin").string();
  r = ts::run_cli({"detokenize", "--tokenizer", tok512, "--ids", "1,403,407", "--skip-special"});
  EXPECT_EQ(r.out, "Once upon");
  r = ts::run_cli({"detokenize", "--tokenizer", tok512, "--ids", "[1, 403, 407]"});
  EXPECT_EQ(r.out, "<s> Once upon");
}

TEST(TokenizeCli, ErrorsAreClear) {
  auto r = ts::run_cli({"tokenize", "-m", "/nonexistent/model.gguf", "-p", "x"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("/nonexistent/model.gguf"), std::string::npos) << r.err;
  r = ts::run_cli({"detokenize", "-m", vocab("gpt-2"), "--ids", "1,abc"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("abc"), std::string::npos) << r.err;
  r = ts::run_cli({"detokenize", "-m", vocab("gpt-2"), "--ids", "99999999"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("out of range"), std::string::npos) << r.err;
}
