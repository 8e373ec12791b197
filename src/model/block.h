// The declarations of one transformer block's forward pass (llama_block.cpp)
// and the activation buffers it works in.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "core/huge_buffer.h"
#include "core/thread_pool.h"
#include "model/config.h"
#include "model/kv_cache.h"
#include "model/sequence.h"

namespace pocketllm {

struct LayerWeights;
struct Matrix;

// Calibration's view of the matrix products (quantizer/calibrate.cpp): each one's
// weights and input rows, shown before it runs. Set per engine (Engine::set_observer).
using LinearObserver = std::function<void(const Matrix& w, const float* x, int64_t ldx, int64_t n_tokens)>;

// Activation buffers for a batch of up to n_batch rows (tokens), allocated once
// by the engine; a shorter batch leaves the rest unmapped. Row t of each:
struct BlockBuffers {
  LazyZeroVector<float> x;    // [n][dim]     the residual stream
  LazyZeroVector<float> xb;   // [n][dim]     a normed input of a matrix product, or a
                              //              branch's output before it is added to x
  LazyZeroVector<float> q;    // [n][q_dim]   queries (biased, normed, rotated)
  LazyZeroVector<float> k;    // [n][kv_dim]  this batch's keys, then stored in the KV cache
  LazyZeroVector<float> v;    // [n][kv_dim]  this batch's values, likewise
  LazyZeroVector<float> att;  // [n][q_dim]   attention output of every head, input of Wo
  LazyZeroVector<float> hb;   // [n][hidden]  FFN gate, then act(gate) * up: input of Wdown
  LazyZeroVector<float> hb2;  // [n][hidden]  FFN up projection
};

// Where one row of a batch lives: its sequence's KV cache, its position there
// and the RoPE table of that sequence. Rows of one batch may belong to
// different sequences; rows of one sequence are consecutive, in position order.
struct BatchRow {
  KvCache* kv;
  int64_t pos;
  const RopeTables* rope;
};

// One llama-family block (attention + gated FFN, pre-RMSNorm, residuals) over
// the batch held in buf.x (one row per entry of `rows`); `observe`, when given,
// sees every matrix product's weights and input first.
void llama_block_forward(const ModelConfig& c, const LayerWeights& w, int64_t layer, BlockBuffers& buf,
                         const std::vector<BatchRow>& rows, ThreadPool& pool, const LinearObserver* observe = nullptr);

}  // namespace pocketllm
