// What identifies a model for data computed with it (a saved session's KV cache):
// the architecture, a hash of the hyperparameters, of the vocabulary, and of the
// tensors (names, types, shapes, and a few KiB sampled from each one's bytes, so two
// fine-tunes of one base differ while a multi-GiB file is not read whole).
#pragma once
#include <cstdint>
#include <string>

namespace pocketllm {

struct Model;

struct ModelFingerprint {
  std::string arch;
  uint64_t config = 0, vocab = 0, tensors = 0;
};

ModelFingerprint fingerprint(const Model& m);

}  // namespace pocketllm
