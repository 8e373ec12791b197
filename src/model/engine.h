// The engine of a loaded model: the thread pool, the activation buffers and
// the logits, shared by any number of sequences (model/sequence.h). One
// forward() runs a batch whose rows may belong to different sequences: decode
// rows of several conversations, a prefill chunk, k draft tokens to verify.
//
// Batch invariance: a row's logits are bit-identical whatever else is in its
// batch and whichever path runs it (1-token decode, k-token verification, a
// prefill chunk, rows of other sequences beside it). Every per-token step is
// computed the same way for each row: integer dot products are exact, each
// kernel computes a row's float scales and sums in one fixed order, and
// attention reads only the row's own sequence (tests/model/test_engine.cpp).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/thread_pool.h"
#include "model/block.h"
#include "model/model.h"
#include "model/sequence.h"

namespace pocketllm {

struct EngineParams {
  int64_t n_batch = 512;  // rows one forward() can run (prefill is split into chunks of it)
  int n_threads = 0;      // 0: physical cores
  // Run on this pool (not owned) instead of a new one of n_threads: a draft
  // model beside its target shares the target's workers rather than a second
  // set of threads spinning on the same cores.
  ThreadPool* shared_pool = nullptr;
};

class Engine {
 public:
  Engine(const Model& m, const EngineParams& p);
  // Sequences point at the engine's RoPE tables: it stays where it was built.
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const Model& model() const { return m_; }
  ThreadPool& pool() { return *pool_; }
  int64_t n_batch() const { return n_batch_; }

  // A new, empty sequence of this model (n_ctx <= 0: the model's context, capped at 4096).
  Sequence new_sequence(int64_t n_ctx = 0, KvType kv_type = KvType::F32) const;

  // One row of a batch: the next token of `seq` (at position seq->n_past() plus
  // the number of earlier rows of the same sequence in the batch).
  struct Row {
    Sequence* seq = nullptr;
    int32_t token = 0;
    bool logits = false;  // return this row's logits
  };
  // Runs the rows (at most n_batch) in one pass; every sequence advances by its
  // rows. Returns the logits of the rows marked `logits`, in row order,
  // [n_marked][n_vocab], valid until the next forward(). Throws Error (and
  // changes no sequence) for a bad token id, a full sequence or another model's sequence.
  const float* forward(std::span<const Row> rows);

  // Runs n tokens on seq in chunks of n_batch; returns the logits of the last
  // token, or with all_logits of every token ([n][n_vocab]).
  const float* eval(Sequence& seq, const int32_t* tokens, int64_t n, bool all_logits = false);

  // Calibration: every later forward() shows `observe` each matrix product's weights
  // and input rows before running it (an empty function stops it).
  void set_observer(LinearObserver observe) { observer_ = std::move(observe); }

 private:
  // The blocks over buf_.x for `rows`, then the head for the rows listed in `out_rows`.
  void run_rows(const int32_t* tokens, const std::vector<BatchRow>& rows, const std::vector<int64_t>& out_rows,
                float* logits_out);

  const Model& m_;
  int64_t n_batch_;
  std::unique_ptr<ThreadPool> own_pool_;  // null with a shared pool
  ThreadPool* pool_;
  BlockBuffers buf_;
  // RoPE tables: LongRoPE models pick their factors by the context size (as
  // llama.cpp does), so a sequence keeps the table it was created with.
  RopeTables rope_short_, rope_long_;
  std::vector<float> logits_;
  LinearObserver observer_;
};

}  // namespace pocketllm
