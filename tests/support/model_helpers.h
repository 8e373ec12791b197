// Small model fixtures shared by tests: the stories260K model from ../shared and
// the logits of every position of a prompt.
#pragma once
#include <memory>
#include <vector>

#include "model/context.h"
#include "model/model.h"
#include "test_support.h"

namespace testsupport {

inline std::unique_ptr<pocketllm::Model> stories_model() {
  pocketllm::LoadOptions lo;
  lo.tokenizer_path = (shared_data() / "models/stories260K/tok512.bin").string();
  return pocketllm::load_model((shared_data() / "models/stories260K/stories260K.bin").string(), lo);
}

// Logits [ids.size()][n_vocab] of one prefill of `ids` (one thread: deterministic).
inline std::vector<float> all_logits(const pocketllm::Model& m, const std::vector<int32_t>& ids, int64_t n_ctx = 256) {
  pocketllm::ContextParams p;
  p.n_ctx = n_ctx;
  p.n_threads = 1;
  pocketllm::Context ctx(m, p);
  const float* l = ctx.eval(ids.data(), static_cast<int64_t>(ids.size()), true);
  return std::vector<float>(l, l + ids.size() * m.cfg.n_vocab);
}

}  // namespace testsupport
