// llama (and Mistral's HF type): the base block. Llama 3 rope scaling and tied
// embeddings are read by the common loaders; GGUF stores Q/K rows interleaved.
#include "model/arch/arch.h"

namespace pocketllm::detail {

Architecture llama_architecture() {
  Architecture a;
  a.name = "llama";
  a.hf_class = "LlamaForCausalLM";
  a.hf_types = {"llama", "mistral"};
  a.gguf_rope = RopeStyle::Interleaved;
  return a;
}

}  // namespace pocketllm::detail
