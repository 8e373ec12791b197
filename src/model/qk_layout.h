// Q/K row order conversions between Hugging Face's half-split RoPE layout and
// the interleaved layout of GGUF `llama` (what llama.cpp's converter does).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace pocketllm {

// Reorders the rows of a [n_heads * head_dim][row_bytes] matrix. to_interleaved:
// HF -> GGUF (within each head, row 2i+j comes from row j*head_dim/2 + i);
// otherwise the inverse.
std::vector<uint8_t> permute_qk_rows(const uint8_t* data, int64_t n_heads, int64_t head_dim, size_t row_bytes,
                                     bool to_interleaved);

}  // namespace pocketllm
