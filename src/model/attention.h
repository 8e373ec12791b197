// Causal grouped-query attention over a batch whose rows may belong to different
// sequences (each BatchRow names its KV cache and position).
#pragma once
#include <vector>

#include "core/thread_pool.h"
#include "model/config.h"
#include "model/block.h"

namespace pocketllm {

// att[t][h * head_dim ..] = softmax(q_h · K / scale) · V over positions 0..pos of
// row t (the last sliding_window ones on sliding layers), for every query head h.
// q and att are [n_rows][q_dim]; the rows' keys and values are already stored.
void attention(const ModelConfig& c, int64_t layer, const std::vector<BatchRow>& rows, const float* q, float* att,
               ThreadPool& pool);

}  // namespace pocketllm
