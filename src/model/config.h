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

// The FFN's gate activation: SwiGLU (llama, qwen, phi3) or GeGLU with the tanh
// approximation of GELU (gemma).
enum class Activation { Silu, GeluTanh };

// Phi-3.5/Phi-4 "LongRoPE": per-pair frequency divisors, one set for contexts up
// to original_context and one beyond (bound from the rope_factors_short/long
// tensors; the HF loader makes them from config.json), and a scale of the rotated dims.
struct RopeLongrope {
  bool enabled = false;
  std::vector<float> short_factor, long_factor;
  float attn_factor = 1.0f;
  int64_t original_context = 0;
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
  RopeLongrope rope_longrope;  // from config.json; GGUF carries the factors as tensors
  bool tied_embeddings = false;
  // Family features (defaults: plain llama). Set by the architecture readers in model/arch/.
  int64_t rope_dim = 0;             // dims of a head that RoPE rotates (0: all; phi3 may rotate fewer)
  float rope_linear_factor = 1.0f;  // linear RoPE scaling of full-attention layers (positions / factor)
  float rope_theta_local = 0.0f;    // RoPE base of sliding-window layers (0: rope_theta); gemma3
  Activation act = Activation::Silu;
  float embed_scale = 1.0f;         // gemma: embeddings times sqrt(dim)
  float attn_scale = 0.0f;          // score scale (0: 1/sqrt(head_dim)); gemma: query_pre_attn_scalar^-1/2
  float attn_softcap = 0.0f;        // gemma2: scores = cap * tanh(scores / cap) (0: off)
  float final_softcap = 0.0f;       // gemma2: the same on the output logits
  int64_t sliding_window = 0;       // keys visible to a sliding layer: pos - window < j <= pos
  std::vector<bool> layer_sliding;  // per layer: uses the sliding window (empty: no layer does)
  bool qk_norm = false;             // qwen3, gemma3: per-head RMSNorm of Q and K before RoPE
  bool post_norms = false;          // gemma2/3: RMSNorm of attention and FFN outputs before the residual add
  // pocketllm.online_rotation = "ffn_down" (quant/rotate.h): ffn_down's input is rotated online.
  bool online_down_rotation = false;

  int64_t rot_dim() const { return rope_dim > 0 ? rope_dim : head_dim; }
  bool is_sliding(int64_t layer) const {
    return sliding_window > 0 && layer < static_cast<int64_t>(layer_sliding.size()) && layer_sliding[layer];
  }

  int64_t q_dim() const { return n_heads * head_dim; }
  int64_t kv_dim() const { return n_kv_heads * head_dim; }
  // Throws Error (prefixed with `source`) when values are missing or inconsistent.
  void validate(const std::string& source) const;
};

}  // namespace pocketllm
