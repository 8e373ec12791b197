// Tiny random llama (tied, Llama 3 rope_freqs) and qwen2 (biases, NEOX rope) GGUFs
// against llama.cpp's own greedy outputs.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "model/context.h"
#include "runtime/generate.h"
#include "support/greedy.h"
#include "support/test_support.h"

using namespace pocketllm;
namespace ts = testsupport;
using nlohmann::json;

namespace {
std::vector<int32_t> greedy_with_kv(const Model& m, const std::vector<int32_t>& prompt, int64_t n, KvType kv) {
  ContextParams p;
  p.n_threads = 2;
  p.kv_type = kv;
  return ts::greedy_ids(m, prompt, n, p);
}
}  // namespace

class FamilyReference : public ::testing::TestWithParam<std::string> {};

TEST_P(FamilyReference, GreedyIdsMatchLlamaCpp) {
  const json ref = json::parse(ts::read_file(ts::shared_data() / "families/reference.json"));
  const json& r = ref["files"][GetParam()];
  LoadOptions lo;
  lo.load_tokenizer = false;
  auto m = load_model((ts::shared_data() / "families" / GetParam()).string(), lo);
  EXPECT_EQ(m->cfg.arch, r["arch"].get<std::string>());
  EXPECT_TRUE(m->cfg.tied_embeddings);
  auto prompt = r["greedy_prompt_ids"].get<std::vector<int32_t>>();
  auto want32 = r["greedy_token_ids_f32kv"].get<std::vector<int32_t>>();
  auto want16 = r["greedy_token_ids"].get<std::vector<int32_t>>();
  EXPECT_EQ(greedy_with_kv(*m, prompt, static_cast<int64_t>(want32.size()), KvType::F32), want32);
  EXPECT_EQ(greedy_with_kv(*m, prompt, static_cast<int64_t>(want16.size()), KvType::F16), want16);
}

// The attention's per-thread key cache outlives a model: a second model with a
// larger head_dim in the same threads must not reuse its stride (it overflowed
// the heap and changed the greedy ids when stories260K, head_dim 8, ran first).
TEST(FamilyReferenceAfterAnotherModel, GreedyIdsStillMatchLlamaCpp) {
  LoadOptions lo;
  lo.load_tokenizer = false;
  auto stories = load_model((ts::shared_data() / "models/stories260K/stories260K.bin").string(), lo);
  ASSERT_LT(stories->cfg.head_dim, 16);
  greedy_with_kv(*stories, {1, 2, 3}, 40, KvType::F32);
  const json ref = json::parse(ts::read_file(ts::shared_data() / "families/reference.json"));
  const json& r = ref["files"]["llama-tied.gguf"];
  auto m = load_model((ts::shared_data() / "families/llama-tied.gguf").string(), lo);
  ASSERT_GT(m->cfg.head_dim, stories->cfg.head_dim);
  auto prompt = r["greedy_prompt_ids"].get<std::vector<int32_t>>();
  auto want32 = r["greedy_token_ids_f32kv"].get<std::vector<int32_t>>();
  EXPECT_EQ(greedy_with_kv(*m, prompt, static_cast<int64_t>(want32.size()), KvType::F32), want32);
}

INSTANTIATE_TEST_SUITE_P(Families, FamilyReference, ::testing::Values("llama-tied.gguf", "qwen2.gguf"),
                         [](const auto& info) { return info.param == "qwen2.gguf" ? "qwen2" : "llama_tied"; });
