// The seed's question through the binary, as a user asks it: `pocketllm chat -m
// gemma.gguf`, "tell me a joke.", greedy. The file has no chat template, so chat must
// pick Gemma's (the vocabulary's turn tokens) and say so, and the reply must be the
// text of llama.cpp's greedy reply to the same rendered prompt (up to the first step
// where llama.cpp's top-2 margin is <= 0.1).
#include <gtest/gtest.h>

#include "gemma3_fixture.h"
#include "tokenizer/tokenizer.h"

using namespace pocketllm;
namespace ts = testsupport;
using nlohmann::json;

class Gemma3Cli : public ::testing::TestWithParam<std::string> {};

TEST_P(Gemma3Cli, ChatAnswersTheJokeAsLlamaCppDoes) {
  const Model* m = nullptr;
  GEMMA3_MODEL_OR_SKIP(m, GetParam(), false);
  json ref;
  for (const auto& c : gemma3::reference()["variants"][GetParam()]["chat"])
    if (c["name"] == "chat_joke") ref = c;
  ASSERT_FALSE(ref.is_null());
  const auto ids = ref["ids"].get<std::vector<int32_t>>();
  const auto margins = ref["margins"].get<std::vector<double>>();
  size_t n = 0;
  while (n < margins.size() && n < 32 && margins[n] > 0.1 && !m->tokenizer->is_eog(ids[n])) ++n;
  // The Q4_K_M file's first reply token is a near tie in llama.cpp (n = 0): then only the
  // template choice and a clean answer are checked.
  const std::string want = m->tokenizer->decode(std::vector<int32_t>(ids.begin(), ids.begin() + n), true);

  auto r = ts::run_cli({"chat", "-m", gemma3::variant_path(GetParam()).string(), "--temp", "0", "-t", "2", "-n",
                        std::to_string(std::max<size_t>(n, 8))},
                       "tell me a joke.\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("using the built-in 'gemma' template"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.substr(0, want.size()), want) << "pocketllm answered: " << r.out;
  EXPECT_NE(r.err.find("decode:"), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Variants, Gemma3Cli, ::testing::Values("q4_k_m", "f32"),
                         [](const auto& info) { return info.param; });
