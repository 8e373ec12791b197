// What a loaded model's family adds to the plain llama block, in words (for
// `pocketllm info`), and which stored tensors fuse several output blocks.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/model.h"

namespace pocketllm {

// "qwen2: Q/K/V biases, tied embeddings", "gemma2: GeGLU (tanh GELU), ...".
std::string describe_family(const Model& m);

// The row blocks of a fused tensor (GGUF name), e.g. phi3's attn_qkv -> {q, k, v}
// rows and its ffn_up -> {gate, up} rows; empty when `name` is not fused. Each
// block is a separate projection: quantizers must not mix rows across blocks
// (bind_weights views each block on its own).
std::vector<int64_t> fused_row_blocks(const ModelConfig& c, const std::string& name, int64_t rows);

}  // namespace pocketllm
