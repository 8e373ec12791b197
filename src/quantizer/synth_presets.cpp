// The synth preset table: each entry copies a published model's config.json
// (Hugging Face) field by field: sizes, head_dim, rope base and scaling, norm
// epsilon, tied embeddings, and the family's own features (Q/K/V biases, Q/K
// norms, soft-caps, sliding windows, fused phi3 projections).
#include <cmath>

#include "model/arch/family.h"
#include "quantizer/synth_model.h"

namespace pocketllm::bench {
namespace {

struct Shape {
  const char* arch;
  int64_t vocab, dim, ffn, layers, heads, kv_heads, head_dim, ctx;
  float theta, eps;
  bool tied;
};

ModelConfig shape(const Shape& s) {
  ModelConfig c;
  c.arch = s.arch;
  c.n_vocab = s.vocab;
  c.dim = s.dim;
  c.hidden_dim = s.ffn;
  c.n_layers = s.layers;
  c.n_heads = s.heads;
  c.n_kv_heads = s.kv_heads;
  c.head_dim = s.head_dim;
  c.context_length = s.ctx;
  c.rope_theta = s.theta;
  c.norm_eps = s.eps;
  c.tied_embeddings = s.tied;
  // Q/K row layout as llama.cpp's GGUF stores it for this architecture.
  c.rope_style = gguf_rope_style(s.arch, "synth");
  return c;
}

// Gemma 2/3's block switches (the GGUF loader sets the same from the architecture).
void gemma_features(ModelConfig& c, float query_pre_attn_scalar, int64_t window, int64_t pattern) {
  c.act = Activation::GeluTanh;
  c.embed_scale = std::sqrt(static_cast<float>(c.dim));
  c.post_norms = true;
  c.attn_scale = 1.0f / std::sqrt(query_pre_attn_scalar);
  c.sliding_window = window;
  c.layer_sliding = sliding_layers_every(c.n_layers, pattern);
}

}  // namespace

std::vector<SynthPreset> make_synth_presets() {
  std::vector<SynthPreset> p;
  // TinyLlama/TinyLlama-1.1B-Chat-v1.0
  p.push_back({"tinyllama-1.1b", "TinyLlama-1.1B (synthetic weights)",
               shape({"llama", 32000, 2048, 5632, 22, 32, 4, 64, 2048, 10000.0f, 1e-5f, false})});
  {
    // meta-llama/Llama-3.2-1B-Instruct: rope_scaling {rope_type llama3, factor 32, low 1, high 4, original 8192}
    ModelConfig c = shape({"llama", 128256, 2048, 8192, 16, 32, 8, 64, 131072, 500000.0f, 1e-5f, true});
    c.rope_llama3 = {true, 32.0f, 1.0f, 4.0f, 8192};
    p.push_back({"llama-3.2-1b", "Llama-3.2-1B (synthetic weights)", c});
  }
  // HuggingFaceTB/SmolLM2-360M-Instruct: a llama with 15 heads of 64, tied embeddings
  p.push_back({"smollm2-360m", "SmolLM2-360M (synthetic weights)",
               shape({"llama", 49152, 960, 2560, 32, 15, 5, 64, 8192, 100000.0f, 1e-5f, true})});
  // Qwen/Qwen2.5-0.5B-Instruct and -1.5B-Instruct: Q/K/V biases (synth adds them for qwen2),
  // tied embeddings, use_sliding_window false
  p.push_back({"qwen2.5-0.5b", "Qwen2.5-0.5B (synthetic weights)",
               shape({"qwen2", 151936, 896, 4864, 24, 14, 2, 64, 32768, 1000000.0f, 1e-6f, true})});
  p.push_back({"qwen2.5-1.5b", "Qwen2.5-1.5B (synthetic weights)",
               shape({"qwen2", 151936, 1536, 8960, 28, 12, 2, 128, 32768, 1000000.0f, 1e-6f, true})});
  {
    // Qwen/Qwen3-0.6B: head_dim 128 (16 heads on a 1024 hidden size), Q/K norms, no biases
    ModelConfig c = shape({"qwen3", 151936, 1024, 3072, 28, 16, 8, 128, 40960, 1000000.0f, 1e-6f, true});
    c.qk_norm = true;
    p.push_back({"qwen3-0.6b", "Qwen3-0.6B (synthetic weights)", c});
  }
  {
    // google/gemma-2-2b-it: query_pre_attn_scalar 256, soft-caps 50 / 30, window 4096 on even layers
    ModelConfig c = shape({"gemma2", 256000, 2304, 9216, 26, 8, 4, 256, 8192, 10000.0f, 1e-6f, true});
    gemma_features(c, 256.0f, 4096, 2);
    c.attn_softcap = 50.0f;
    c.final_softcap = 30.0f;
    p.push_back({"gemma-2-2b", "Gemma-2-2B (synthetic weights)", c});
  }
  {
    // google/gemma-3-1b-it: Q/K norms, window 512 on 5 of every 6 layers with rope base 10000
    // there (1e6 on global layers), no soft-caps, no rope scaling
    ModelConfig c = shape({"gemma3", 262144, 1152, 6912, 26, 4, 1, 256, 32768, 1000000.0f, 1e-6f, true});
    gemma_features(c, 256.0f, 512, 6);
    c.qk_norm = true;
    c.rope_theta_local = 10000.0f;
    p.push_back({"gemma-3-1b", "Gemma-3-1B (synthetic weights)", c});
  }
  {
    // microsoft/Phi-3-mini-4k-instruct: fused qkv / gate_up (synth writes them fused), 32 heads
    // of 96, window 2047 on every layer, no rope scaling, separate output head
    ModelConfig c = shape({"phi3", 32064, 3072, 8192, 32, 32, 32, 96, 4096, 10000.0f, 1e-5f, false});
    c.sliding_window = 2047;
    c.layer_sliding = sliding_layers_every(c.n_layers, 0);
    p.push_back({"phi-3-mini", "Phi-3-mini-4k (synthetic weights)", c});
  }
  {
    // For tests: the vocabulary decides n_vocab.
    ModelConfig c = shape({"llama", 0, 64, 172, 2, 4, 2, 16, 256, 10000.0f, 1e-5f, false});
    p.push_back({"tiny", "tiny (synthetic weights)", c});
  }
  return p;
}

}  // namespace pocketllm::bench
