// An inference context over a loaded model: KV cache, activation buffers and the
// thread pool. eval() runs a batch of tokens (prefill) or one (decode).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/thread_pool.h"
#include "model/kv_cache.h"
#include "model/model.h"

namespace pocketllm {

struct ContextParams {
  int64_t n_ctx = 0;     // 0: the model's context length (capped at 4096)
  int64_t n_batch = 512;  // tokens per forward batch during prefill
  KvType kv_type = KvType::F32;
  int n_threads = 0;     // 0: physical cores
};

// Activation buffers for a batch of up to n_batch tokens (allocated once).
// Sized for a full batch once; a shorter batch leaves the rest unmapped.
struct BlockBuffers {
  LazyZeroVector<float> x, xb, q, k, v, att, hb, hb2;
};

// Where one row of a batch lives: its sequence's KV cache and its position there.
// Rows of one batch may belong to different sequences (continuous batching).
struct BatchRow {
  KvCache* kv;
  int64_t pos;
};

class Context {
 public:
  Context(const Model& m, const ContextParams& p);

  // Runs tokens at positions n_past() .. n_past()+n-1 and appends them to the KV
  // cache. Returns logits [n_vocab] of the last token, or with all_logits the
  // logits of every token ([n][n_vocab]). Throws Error past the context end.
  const float* eval(const int32_t* tokens, int64_t n, bool all_logits = false);

  int64_t n_past() const { return n_past_; }
  int64_t n_ctx() const { return n_ctx_; }
  // Forgets positions >= n (the cached prefix [0, n) stays valid).
  void truncate(int64_t n);
  ThreadPool& pool() { return *pool_; }
  const Model& model() const { return m_; }

 private:
  friend const float* decode_batch(const std::vector<Context*>& ctxs, const std::vector<int32_t>& tokens);
  // Runs the blocks over buf_.x for `rows`, then the head for the last `n_out` rows (0: none).
  void forward_rows(const int32_t* tokens, const std::vector<BatchRow>& rows, float* logits_out, int64_t n_out);

  const Model& m_;
  int64_t n_ctx_, n_batch_;
  int64_t n_past_ = 0;
  std::unique_ptr<ThreadPool> pool_;
  KvCache kv_;
  BlockBuffers buf_;
  std::vector<float> inv_freq_, inv_freq_local_;  // RoPE tables of full and sliding-window layers
  std::vector<float> logits_;
};

// One llama-family block (attention + SwiGLU FFN, pre-RMSNorm, residuals) over the
// batch held in buf.x (one row per entry of `rows`).
void llama_block_forward(const ModelConfig& c, const LayerWeights& w, int64_t layer, BlockBuffers& buf,
                         const std::vector<BatchRow>& rows, const float* inv_freq, ThreadPool& pool);

// Decodes one token for each context (all over the same model) in ONE batched
// forward pass: the weights are streamed once for every sequence. Token i goes
// to ctxs[i] at its n_past. Returns logits [ctxs.size()][n_vocab], valid until
// the next call on ctxs[0]. Throws Error when a context is full.
const float* decode_batch(const std::vector<Context*>& ctxs, const std::vector<int32_t>& tokens);

}  // namespace pocketllm
