// pocketllm's Gemma 3 forward pass on the real 270M model against llama.cpp on the
// same file: running perplexity per chunk (-c 512) on real English text, greedy ids
// of raw prompts and of the chat reply to "tell me a joke." (margin rule: compared
// up to the first step where llama.cpp's top-2 logit margin is <= 0.1).
#include <gtest/gtest.h>

#include <cmath>

#include "gemma3_fixture.h"
#include "model/context.h"
#include "runtime/perplexity.h"
#include "support/greedy.h"
#include "tokenizer/tokenizer.h"

using namespace pocketllm;
namespace ts = testsupport;
using nlohmann::json;

namespace {

constexpr double kMinMargin = 0.1;
constexpr size_t kMaxSteps = 32;  // compared per prompt (CI time)
constexpr double kPplTolerance = 0.005;
// Chunks of 512 tokens scored here (the fixture has the whole text): CI time.
constexpr int64_t kPplChunks = 3;

ContextParams params(int64_t n_ctx) {
  ContextParams p;
  p.n_ctx = n_ctx;
  p.n_threads = 2;
  return p;
}

// How many leading steps the margin rule compares: up to (not including) the first
// step whose reference margin is <= kMinMargin, at most kMaxSteps.
size_t confident_steps(const json& ref) {
  const auto margins = ref["margins"].get<std::vector<double>>();
  size_t n = 0;
  while (n < margins.size() && n < kMaxSteps && margins[n] > kMinMargin) ++n;
  return n;
}

// Returns how many steps were compared (0 when llama.cpp's first step is already a near tie).
size_t expect_same_greedy(const Model& m, const json& ref) {
  const auto prompt = ref["prompt_ids"].get<std::vector<int32_t>>();
  const auto want = ref["ids"].get<std::vector<int32_t>>();
  const size_t n = confident_steps(ref);
  if (n == 0) return 0;
  auto got = ts::greedy_ids(m, prompt, static_cast<int64_t>(n), params(static_cast<int64_t>(prompt.size() + n + 1)));
  EXPECT_EQ(got, std::vector<int32_t>(want.begin(), want.begin() + static_cast<std::ptrdiff_t>(n)))
      << ref["name"] << ": greedy ids differ within the " << n << " steps where llama.cpp's margin > " << kMinMargin;
  return n;
}

}  // namespace

class Gemma3Model : public ::testing::TestWithParam<std::string> {};

TEST_P(Gemma3Model, RunningPerplexityMatchesLlamaCpp) {
  const Model* m = nullptr;
  GEMMA3_MODEL_OR_SKIP(m, GetParam(), true);
  const json& ref = gemma3::reference()["variants"][GetParam()]["perplexity"];
  const auto want = ref["running"].get<std::vector<double>>();
  const std::vector<int32_t> tokens = m->tokenizer->encode(ts::read_file(gemma3::eval_text_path()), true, false);
  Context ctx(*m, params(512));
  PerplexityOptions po;
  po.n_ctx = 512;
  po.bos = m->tokenizer->bos();
  po.max_chunks = kPplChunks;
  const PerplexityResult r = perplexity(ctx, tokens, po);
  ASSERT_EQ(r.running_ppl.size(), static_cast<size_t>(kPplChunks));
  for (size_t i = 0; i < r.running_ppl.size(); ++i)
    EXPECT_NEAR(r.running_ppl[i] / want[i], 1.0, kPplTolerance)
        << "chunk " << i + 1 << ": pocketllm " << r.running_ppl[i] << ", llama.cpp " << want[i];
}

TEST_P(Gemma3Model, GreedyIdsOfRawPromptsMatchLlamaCpp) {
  const Model* m = nullptr;
  GEMMA3_MODEL_OR_SKIP(m, GetParam(), false);
  size_t compared = 0;
  for (const auto& ref : gemma3::reference()["variants"][GetParam()]["greedy"]) {
    EXPECT_EQ(m->tokenizer->encode(ref["text"].get<std::string>(), true, true),
              ref["prompt_ids"].get<std::vector<int32_t>>());
    compared += expect_same_greedy(*m, ref);
  }
  EXPECT_GE(compared, 64u) << "too few confident steps to compare";
}

TEST_P(Gemma3Model, GreedyChatRepliesMatchLlamaCpp) {
  const Model* m = nullptr;
  GEMMA3_MODEL_OR_SKIP(m, GetParam(), false);
  size_t compared = 0;
  for (const auto& ref : gemma3::reference()["variants"][GetParam()]["chat"]) compared += expect_same_greedy(*m, ref);
  EXPECT_GE(compared, 32u) << "too few confident steps to compare";
}

INSTANTIATE_TEST_SUITE_P(Variants, Gemma3Model, ::testing::Values("q4_k_m", "f32"),
                         [](const auto& info) { return info.param; });
