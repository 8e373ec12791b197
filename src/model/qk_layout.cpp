#include "model/qk_layout.h"

#include <cstring>

namespace pocketllm {

std::vector<uint8_t> permute_qk_rows(const uint8_t* data, int64_t n_heads, int64_t head_dim, size_t row_bytes,
                                     bool to_interleaved) {
  std::vector<uint8_t> out(static_cast<size_t>(n_heads * head_dim) * row_bytes);
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < n_heads; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        const int64_t inter = h * head_dim + 2 * i + j;  // interleaved position
        const int64_t split = h * head_dim + j * half + i;  // half-split position
        const int64_t dst = to_interleaved ? inter : split, src = to_interleaved ? split : inter;
        std::memcpy(&out[static_cast<size_t>(dst) * row_bytes], data + static_cast<size_t>(src) * row_bytes, row_bytes);
      }
  return out;
}

}  // namespace pocketllm
