// Continuous batching: decoding several sequences in one pass gives each the
// logits it gets alone.
#include <gtest/gtest.h>

#include <cmath>

#include "model/context.h"
#include "support/test_support.h"

using namespace pocketllm;
namespace ts = testsupport;

TEST(DecodeBatch, SameLogitsAsDecodingEachSequenceAlone) {
  LoadOptions lo;
  lo.load_tokenizer = false;
  auto m = load_model((ts::shared_data() / "models/stories260K/stories260K.bin").string(), lo);
  const std::vector<std::vector<int32_t>> prompts = {{1, 403, 407, 261, 378}, {1, 298}, {1, 315, 421, 383, 286, 261, 376}};
  const std::vector<int32_t> next = {432, 286, 298};
  ContextParams p;
  p.n_threads = 2;
  std::vector<std::unique_ptr<Context>> batched, alone;
  std::vector<Context*> ptrs;
  for (auto& pr : prompts) {
    batched.push_back(std::make_unique<Context>(*m, p));
    alone.push_back(std::make_unique<Context>(*m, p));
    batched.back()->eval(pr.data(), static_cast<int64_t>(pr.size()));
    alone.back()->eval(pr.data(), static_cast<int64_t>(pr.size()));
    ptrs.push_back(batched.back().get());
  }
  for (int step = 0; step < 3; ++step) {
    const float* lb = decode_batch(ptrs, next);
    for (size_t i = 0; i < prompts.size(); ++i) {
      const float* la = alone[i]->eval(&next[i], 1);
      double d = 0;
      for (int64_t v = 0; v < m->cfg.n_vocab; ++v) d = std::max(d, static_cast<double>(std::fabs(la[v] - lb[i * m->cfg.n_vocab + v])));
      EXPECT_LT(d, 1e-5) << "sequence " << i << " step " << step;
      EXPECT_EQ(batched[i]->n_past(), alone[i]->n_past());
    }
  }
}
