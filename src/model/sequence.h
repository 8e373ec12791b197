// One sequence's state: its KV cache, how many positions it holds, and which
// RoPE table its positions were rotated with. The machinery that computes it
// (weights, thread pool, activation buffers, logits) is the Engine's
// (model/engine.h), shared by every sequence of a model.
#pragma once
#include <cstdint>
#include <vector>

#include "model/kv_cache.h"

namespace pocketllm {

struct Model;

// The RoPE inverse frequencies of full-attention and sliding-window layers
// (the same table when the model has no separate local base).
struct RopeTables {
  std::vector<float> global, local;
  const float* for_layer(bool sliding) const { return sliding ? local.data() : global.data(); }
};

class Sequence {
 public:
  // n_ctx <= 0: the model's context length, capped at 4096. `rope` must outlive
  // the sequence (the engine owns the tables; Engine::new_sequence passes them).
  Sequence(const Model& m, int64_t n_ctx, KvType kv_type, const RopeTables& rope);

  int64_t n_past() const { return n_past_; }
  int64_t n_ctx() const { return n_ctx_; }
  const Model& model() const { return *m_; }
  const RopeTables& rope() const { return *rope_; }

  // Forgets positions >= n: the cached prefix [0, n) stays valid. Rolling back
  // rejected draft tokens is exactly this (their K/V are overwritten when new
  // tokens take those positions).
  void truncate(int64_t n);
  // Prefix sharing: this sequence becomes the first n positions of `src` (same
  // model and KV type; n <= src.n_past() and n <= n_ctx()).
  void copy_prefix(const Sequence& src, int64_t n);

  // For Engine::forward, which stores each new position's K/V and then advances.
  KvCache& kv() { return kv_; }
  const KvCache& kv() const { return kv_; }
  void advance(int64_t n);

 private:
  const Model* m_;
  const RopeTables* rope_;
  int64_t n_ctx_;
  int64_t n_past_ = 0;
  KvCache kv_;
};

// The context size a sequence gets for a requested n_ctx (<= 0: the model's, capped at 4096).
int64_t resolve_n_ctx(const Model& m, int64_t n_ctx);

}  // namespace pocketllm
