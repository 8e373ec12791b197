// Hyperparameters of a decoder-only transformer, independent of the file format.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace pocketllm {

// How RoPE pairs the dimensions of a head. GGUF `llama` and llama2.c store Q/K so
// that adjacent dims (2i, 2i+1) rotate together; Hugging Face (and GGUF qwen2,
// phi3, gemma) pair dim i with dim i + head_dim/2.
enum class RopeStyle { Interleaved, Neox };

struct RopeScalingLlama3 {
  bool enabled = false;
  float factor = 8.0f, low_freq_factor = 1.0f, high_freq_factor = 4.0f;
  int64_t original_context = 8192;
};

struct ModelConfig {
  std::string arch = "llama";
  std::string name;
  int64_t n_vocab = 0;
  int64_t dim = 0;         // hidden size
  int64_t hidden_dim = 0;  // FFN intermediate size
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t context_length = 2048;
  float norm_eps = 1e-5f;
  float rope_theta = 10000.0f;
  RopeStyle rope_style = RopeStyle::Interleaved;
  RopeScalingLlama3 rope_llama3;
  bool tied_embeddings = false;

  int64_t q_dim() const { return n_heads * head_dim; }
  int64_t kv_dim() const { return n_kv_heads * head_dim; }
  // Throws Error (prefixed with `source`) when values are missing or inconsistent.
  void validate(const std::string& source) const;
};

}  // namespace pocketllm
