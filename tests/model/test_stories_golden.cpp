// stories260K against the reference C implementation's golden outputs.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/context.h"
#include "runtime/generate.h"
#include "sampling/sampler.h"
#include "support/greedy.h"
#include "support/test_support.h"

using namespace pocketllm;
namespace ts = testsupport;
using nlohmann::json;

namespace {
std::string stories_dir() { return (ts::shared_data() / "models/stories260K").string(); }

std::unique_ptr<Model> load_stories() {
  LoadOptions lo;
  lo.load_tokenizer = false;
  return load_model(stories_dir() + "/stories260K.bin", lo);
}

json golden() { return json::parse(ts::read_file(stories_dir() + "/golden.json")); }

std::vector<int32_t> greedy_golden(const Model& m, const std::vector<int32_t>& prompt, int64_t n, int threads = 1,
                            KvType kv = KvType::F32) {
  ContextParams p;
  p.n_threads = threads;
  p.kv_type = kv;
  return ts::greedy_ids(m, prompt, n, p, [](int32_t id) { return id == 1; });  // llama2.c stops on BOS
}
}  // namespace

std::vector<int32_t> golden_greedy_ids(const Model& m, const json& c, int threads) {
  auto prompt = c["prompt_ids"].get<std::vector<int32_t>>();
  auto want = c["generated_ids"].get<std::vector<int32_t>>();
  return greedy_golden(m, prompt, static_cast<int64_t>(want.size()), threads);
}

TEST(StoriesGolden, GreedyIdsMatchReference) {
  auto m = load_stories();
  EXPECT_EQ(m->cfg.dim, 64);
  EXPECT_EQ(m->cfg.n_kv_heads, 4);
  const json g = golden();
  ASSERT_EQ(g["cases"].size(), 4u);
  for (auto& c : g["cases"]) {
    auto want = c["generated_ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(golden_greedy_ids(*m, c, 1), want) << "prompt: " << c["prompt"];
    EXPECT_EQ(golden_greedy_ids(*m, c, 2), want) << "prompt (2 threads): " << c["prompt"];
  }
}

TEST(StoriesGolden, LogitsMatchReferenceAtEveryPosition) {
  auto m = load_stories();
  auto meta = json::parse(ts::read_file(stories_dir() + "/logits_f32.json"));
  auto ids = meta["input_ids"].get<std::vector<int32_t>>();
  std::string raw = ts::read_file(stories_dir() + "/logits_f32.bin");
  ASSERT_EQ(raw.size(), ids.size() * 512 * 4);
  const float* ref = reinterpret_cast<const float*>(raw.data());
  for (int batch : {0, 1}) {  // all at once (prefill) and one token at a time (decode)
    ContextParams p;
    p.n_threads = 2;
    Context ctx(*m, p);
    std::vector<float> got;
    if (batch == 0) {
      const float* l = ctx.eval(ids.data(), static_cast<int64_t>(ids.size()), true);
      got.assign(l, l + ids.size() * 512);
    } else {
      for (auto id : ids) {
        const float* l = ctx.eval(&id, 1);
        got.insert(got.end(), l, l + 512);
      }
    }
    double max_diff = 0;
    for (size_t i = 0; i < got.size(); ++i) max_diff = std::max(max_diff, static_cast<double>(std::fabs(got[i] - ref[i])));
    EXPECT_LT(max_diff, 1e-4) << (batch == 0 ? "prefill" : "decode");
  }
}

TEST(StoriesGolden, F16KvCacheKeepsGreedyIds) {
  auto m = load_stories();
  const json g = golden();
  auto c = g["cases"][0];
  auto want = c["generated_ids"].get<std::vector<int32_t>>();
  auto got = greedy_golden(*m, c["prompt_ids"].get<std::vector<int32_t>>(), static_cast<int64_t>(want.size()), 1, KvType::F16);
  // f16 keys/values round the cache; the first tokens of a peaked model must not move.
  ASSERT_GE(got.size(), 20u);
  EXPECT_EQ(std::vector<int32_t>(got.begin(), got.begin() + 20), std::vector<int32_t>(want.begin(), want.begin() + 20));
}

// An 8-bit KV cache (int8 keys and values, a scale per 32 dims of a head): greedy
// decoding of every golden prompt stays on the reference's path for its first 20
// tokens (stories260K's 8-dim heads are the hard case: one scale per head), and
// 1 and 2 threads agree exactly.
TEST(StoriesGolden, Q8KvCacheKeepsGreedyIds) {
  auto m = load_stories();
  const json g = golden();
  for (auto& c : g["cases"]) {
    auto want = c["generated_ids"].get<std::vector<int32_t>>();
    const auto prompt = c["prompt_ids"].get<std::vector<int32_t>>();
    auto got = greedy_golden(*m, prompt, static_cast<int64_t>(want.size()), 1, KvType::Q8);
    ASSERT_GE(got.size(), 20u);
    EXPECT_EQ(std::vector<int32_t>(got.begin(), got.begin() + 20), std::vector<int32_t>(want.begin(), want.begin() + 20))
        << "prompt: " << c["prompt"];
    EXPECT_EQ(greedy_golden(*m, prompt, static_cast<int64_t>(want.size()), 2, KvType::Q8), got);
  }
}
