// llama2.c checkpoints (Karpathy's run.c "legacy" format): 7 int32 header fields,
// then fp32 weights in a fixed order. A negative vocab_size means an untied classifier.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "core/mapped_file.h"

namespace pocketllm::llama2c {

struct Header {
  int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
};

struct Checkpoint {
  Header h{};
  bool shared_classifier = true;
  std::shared_ptr<MappedFile> file;
  // Pointers into the mapping (all fp32, row-major, outermost first).
  const float *token_embedding, *rms_att, *wq, *wk, *wv, *wo, *rms_ffn, *w1, *w2, *w3, *rms_final, *wcls;
  int64_t head_size() const { return h.dim / h.n_heads; }
  int64_t kv_dim() const { return h.dim / h.n_heads * h.n_kv_heads; }
};

// Validates the header and that the file holds every weight; Error otherwise.
Checkpoint open(const std::string& path, bool use_mmap = true);

// True when the first bytes look like a llama2.c header (used to detect the format).
bool looks_like_checkpoint(const MappedFile& f);

}  // namespace pocketllm::llama2c
