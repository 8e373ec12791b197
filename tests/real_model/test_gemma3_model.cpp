// pocketllm's Gemma 3 forward pass on the real 270M model against llama.cpp on the
// same file: running perplexity per chunk (-c 512) on real English text, greedy ids
// of raw prompts and of chat replies.
//
// Each has two references. llama.cpp on the F32 copy is the same weights (dequantized
// as ggml does) with float activations, which is what pocketllm computes for the
// file's types on the float path (docs/FORMAT.md): running PPL within 0.5%, greedy ids
// up to the first step where its top-2 logit margin is <= 0.1. llama.cpp on the
// quantized file itself rounds activations to its own 8-bit blocks (Q8_K, Q8_0): its
// running PPL is 1.2-1.4% above its own F32-copy figures over chunks 1-3 (0.5% after
// 16) and its greedy path leaves the F32 copy's where its margin is small. Against
// it, issue 24's rules: chunk i of a run of n within max(1%, 0.8% sqrt(n / i)), ids
// up to its first margin <= 0.3. Where pocketllm has integer kernels for the file's
// types (Q4_K, Q6_K, Q5_0: kernels/ggml_int.h, issue 26) it rounds activations to
// int8 blocks too, so it is compared with llama.cpp on the file only.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "gemma3_fixture.h"
#include "kernels/linear.h"
#include "model/context.h"
#include "runtime/perplexity.h"
#include "support/greedy.h"
#include "tokenizer/tokenizer.h"

using namespace pocketllm;
namespace ts = testsupport;
using nlohmann::json;

namespace {

// Whether pocketllm multiplies the quantized variant's matrices with int8
// activations (then the F32-copy reference, float activations, does not apply).
bool int8_variant(const std::string& variant) {
  return variant != "f32" && int8_activations(DType::Q4_K) && int8_activations(DType::Q6_K) &&
         int8_activations(DType::Q5_0);
}

constexpr double kMinMargin = 0.1;         // against llama.cpp on the same weights in float
// Against llama.cpp on a quantized file (issue 24). Int8 activations differ from
// llama.cpp's rounding and move a logit gap by up to ~0.4 on Gemma (whose few huge
// activations set coarse scales): at step 10 of "chat_multi_turn" on the Q4_K_M file,
// where llama.cpp's gap between "\n" and "user" is 0.371, pocketllm's is -0.04 (avx2
// table, batched), +0.33 (ref), +0.18 (avx512vnni); decoded one token at a time the ref
// and avx512vnni tables then pick "user". 0.3 passed on AVX2 hosts only.
constexpr double kMinMarginQuant = 0.4;
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
// step whose reference margin is <= min_margin, at most kMaxSteps.
size_t confident_steps(const json& ref, double min_margin) {
  const auto margins = ref["margins"].get<std::vector<double>>();
  size_t n = 0;
  while (n < margins.size() && n < kMaxSteps && margins[n] > min_margin) ++n;
  return n;
}

// The leading n of `ids` equal `ref`'s, for the n steps the margin rule compares.
void expect_prefix(const std::vector<int32_t>& ids, const json& ref, size_t n, double min_margin, const char* who) {
  const auto want = ref["ids"].get<std::vector<int32_t>>();
  EXPECT_EQ(std::vector<int32_t>(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n)),
            std::vector<int32_t>(want.begin(), want.begin() + static_cast<std::ptrdiff_t>(n)))
      << ref["name"] << ": greedy ids differ from " << who << "'s within the " << n
      << " steps where its margin > " << min_margin;
}

// Greedy request `i` of `kind` ("greedy", "chat") on `variant`, generated once and
// compared with both references (see the top; int8 variants with the file's only).
// Returns the steps compared with the F32 copy's (int8 variants: with the file's).
size_t expect_same_greedy(const Model& m, const std::string& variant, const char* kind, size_t i) {
  const json& variants = gemma3::reference()["variants"];
  const json& flt = variants["f32"][kind][i];
  const json* own = variant == "f32" ? nullptr : &variants[variant][kind][i];
  const bool int8 = int8_variant(variant);
  const size_t n_flt = int8 ? 0 : confident_steps(flt, kMinMargin);
  const size_t n_own = own ? confident_steps(*own, kMinMarginQuant) : 0;
  if (own) {
    EXPECT_EQ((*own)["prompt_ids"], flt["prompt_ids"]) << flt["name"];
  }
  const size_t n = std::max(n_flt, n_own);
  if (n == 0) return 0;
  const auto prompt = flt["prompt_ids"].get<std::vector<int32_t>>();
  const auto got = ts::greedy_ids(m, prompt, static_cast<int64_t>(n), params(static_cast<int64_t>(prompt.size() + n + 1)));
  if (got.size() != n) {
    ADD_FAILURE() << flt["name"] << ": " << got.size() << " ids generated, " << n << " asked";
    return int8 ? n_own : n_flt;
  }
  if (!int8) expect_prefix(got, flt, n_flt, kMinMargin, "llama.cpp on the F32 copy");
  if (own) expect_prefix(got, *own, n_own, kMinMarginQuant, "llama.cpp on this file");
  return int8 ? n_own : n_flt;
}

}  // namespace

class Gemma3Model : public ::testing::TestWithParam<std::string> {};

TEST_P(Gemma3Model, RunningPerplexityMatchesLlamaCpp) {
  const Model* m = nullptr;
  GEMMA3_MODEL_OR_SKIP(m, GetParam(), true);
  const json& variants = gemma3::reference()["variants"];
  const json& own = variants[GetParam()]["perplexity"];
  const auto want = own["running"].get<std::vector<double>>();
  const auto want_float = variants["f32"]["perplexity"]["running"].get<std::vector<double>>();
  const double n = own["n_chunks"].get<double>();
  const std::vector<int32_t> tokens = m->tokenizer->encode(ts::read_file(gemma3::eval_text_path()), true, false);
  Context ctx(*m, params(512));
  PerplexityOptions po;
  po.n_ctx = 512;
  po.bos = m->tokenizer->bos();
  po.max_chunks = kPplChunks;
  const PerplexityResult r = perplexity(ctx, tokens, po);
  ASSERT_EQ(r.running_ppl.size(), static_cast<size_t>(kPplChunks));
  const bool int8 = int8_variant(GetParam());
  for (size_t i = 0; i < r.running_ppl.size(); ++i) {
    if (!int8) {
      EXPECT_NEAR(r.running_ppl[i] / want_float[i], 1.0, kPplTolerance)
          << "chunk " << i + 1 << ": pocketllm " << r.running_ppl[i] << ", llama.cpp on the F32 copy " << want_float[i];
    }
    const double bound = std::max(0.01, 0.008 * std::sqrt(n / static_cast<double>(i + 1)));
    EXPECT_NEAR(r.running_ppl[i] / want[i], 1.0, bound)
        << "chunk " << i + 1 << " of " << n << ": pocketllm " << r.running_ppl[i] << ", llama.cpp on this file " << want[i];
  }
}

TEST_P(Gemma3Model, GreedyIdsOfRawPromptsMatchLlamaCpp) {
  const Model* m = nullptr;
  GEMMA3_MODEL_OR_SKIP(m, GetParam(), false);
  size_t compared = 0;
  const json& refs = gemma3::reference()["variants"][GetParam()]["greedy"];
  for (size_t i = 0; i < refs.size(); ++i) {
    EXPECT_EQ(m->tokenizer->encode(refs[i]["text"].get<std::string>(), true, true),
              refs[i]["prompt_ids"].get<std::vector<int32_t>>());
    compared += expect_same_greedy(*m, GetParam(), "greedy", i);
  }
  // Int8 variants count steps against llama.cpp on the file, whose margin rule
  // (> 0.4) leaves fewer steps (30 of the F32 copy's 64+ on this file).
  EXPECT_GE(compared, int8_variant(GetParam()) ? 28u : 64u) << "too few confident steps to compare";
}

TEST_P(Gemma3Model, GreedyChatRepliesMatchLlamaCpp) {
  const Model* m = nullptr;
  GEMMA3_MODEL_OR_SKIP(m, GetParam(), false);
  size_t compared = 0;
  const size_t n_chats = gemma3::reference()["variants"][GetParam()]["chat"].size();
  for (size_t i = 0; i < n_chats; ++i) compared += expect_same_greedy(*m, GetParam(), "chat", i);
  EXPECT_GE(compared, 28u) << "too few confident steps to compare";  // q4_k_m: 31 at margin > 0.4
}

INSTANTIATE_TEST_SUITE_P(Variants, Gemma3Model, ::testing::Values("q4_k_m", "f32"),
                         [](const auto& info) { return info.param; });
