// Every ggml-vocab-*.gguf with vectors must reproduce its .gguf.out exactly
// (HF encode, add_special_tokens=False, special-token text not parsed).
#include <gtest/gtest.h>

#include "formats/gguf.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"
#include "vectors.h"

using namespace pocketllm;
namespace ts = testsupport;

namespace {
std::filesystem::path llamacpp_dir() { return ts::shared_data() / "tokenizers/llamacpp"; }

void check_vocab(const std::string& name) {
  auto path = llamacpp_dir() / ("ggml-vocab-" + name + ".gguf");
  auto tok = Tokenizer::load(path.string());
  auto cases = tokvec::read_vectors(path.string() + ".inp");
  ASSERT_GT(cases.size(), 30u) << name;
  int failed = 0;
  for (const auto& c : cases) {
    auto got = tok->encode(c.text, false, false);
    if (got != c.ids && ++failed <= 5) {
      std::string g, w;
      for (auto id : got) g.append(" ").append(std::to_string(id));
      for (auto id : c.ids) w.append(" ").append(std::to_string(id));
      ADD_FAILURE() << name << ": \"" << c.text << "\"\n got:" << g << "\nwant:" << w;
    }
  }
  EXPECT_EQ(failed, 0) << name << ": " << failed << " of " << cases.size() << " cases differ";
}
}  // namespace

TEST(LlamaCppVectors, LlamaSpm) { check_vocab("llama-spm"); }
TEST(LlamaCppVectors, Phi3) { check_vocab("phi-3"); }
TEST(LlamaCppVectors, Gpt2) { check_vocab("gpt-2"); }
TEST(LlamaCppVectors, DeepseekLlm) { check_vocab("deepseek-llm"); }
TEST(LlamaCppVectors, DeepseekCoder) { check_vocab("deepseek-coder"); }
TEST(LlamaCppVectors, Falcon) { check_vocab("falcon"); }
TEST(LlamaCppVectors, Mpt) { check_vocab("mpt"); }
TEST(LlamaCppVectors, Starcoder) { check_vocab("starcoder"); }
TEST(LlamaCppVectors, Refact) { check_vocab("refact"); }

TEST(LlamaCppVectors, VocabsWithoutVectorsLoad) {
  for (const char* name : {"baichuan", "gpt-neox"}) {
    auto tok = Tokenizer::load((llamacpp_dir() / (std::string("ggml-vocab-") + name + ".gguf")).string());
    auto ids = tok->encode("Hello world 123", false, false);
    EXPECT_FALSE(ids.empty());
    EXPECT_EQ(tok->decode(ids), "Hello world 123") << name;
  }
}

TEST(LlamaCppVectors, BertIsRejectedClearly) {
  try {
    Tokenizer::load((llamacpp_dir() / "ggml-vocab-bert-bge.gguf").string());
    FAIL() << "bert vocab loaded";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("bert"), std::string::npos) << e.what();
  }
}
