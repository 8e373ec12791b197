// A single-sequence context: one Engine (thread pool, activation buffers,
// logits) and one Sequence (KV cache, position), for the commands that run one
// conversation or one text (run, chat, perplexity, bench). Code that serves
// several sequences uses Engine and Sequence directly (model/engine.h).
#pragma once
#include <cstdint>

#include "model/engine.h"

namespace pocketllm {

struct ContextParams {
  int64_t n_ctx = 0;     // 0: the model's context length (capped at 4096)
  int64_t n_batch = 512;  // tokens per forward batch during prefill
  KvType kv_type = KvType::F32;
  int n_threads = 0;     // 0: physical cores
};

// The KV type a model's contexts get unless told: f32 for float weights, f16 for
// quantized ones (their error already dwarfs f16's).
KvType default_kv_type(const Model& m);

class Context {
 public:
  Context(const Model& m, const ContextParams& p)
      : engine_(m, {p.n_batch, p.n_threads}), seq_(engine_.new_sequence(p.n_ctx, p.kv_type)) {}

  // Runs tokens at positions n_past() .. n_past()+n-1 and appends them to the KV
  // cache. Returns logits [n_vocab] of the last token, or with all_logits the
  // logits of every token ([n][n_vocab]). Throws Error past the context end.
  const float* eval(const int32_t* tokens, int64_t n, bool all_logits = false) {
    return engine_.eval(seq_, tokens, n, all_logits);
  }
  int64_t n_past() const { return seq_.n_past(); }
  int64_t n_ctx() const { return seq_.n_ctx(); }
  // Forgets positions >= n (the cached prefix [0, n) stays valid).
  void truncate(int64_t n) { seq_.truncate(n); }
  ThreadPool& pool() { return engine_.pool(); }
  const Model& model() const { return engine_.model(); }
  Engine& engine() { return engine_; }
  Sequence& sequence() { return seq_; }
  const Sequence& sequence() const { return seq_; }

 private:
  Engine engine_;
  Sequence seq_;
};

}  // namespace pocketllm
