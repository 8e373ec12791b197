// qwen2: llama block with Q/K/V biases and NEOX rope. qwen3: no biases, per-head
// RMSNorm of Q and K before RoPE (attn_q_norm / attn_k_norm, [head_dim]).
#include "model/arch/arch.h"

namespace pocketllm::detail {

namespace {
// HF Qwen: with use_sliding_window, layers from max_window_layers on slide.
void qwen_sliding_from_hf(ModelConfig& c, const HfConfig& k) {
  if (!k.boolean("use_sliding_window", false) || !k.has("sliding_window")) return;
  c.sliding_window = k.integer("sliding_window");
  if (k.has("layer_types")) {
    c.layer_sliding = sliding_layers_from_hf(k, c.n_layers, 0);
    return;
  }
  const int64_t first = k.integer("max_window_layers", c.n_layers);
  c.layer_sliding.assign(static_cast<size_t>(c.n_layers), false);
  for (int64_t i = first; i < c.n_layers; ++i) c.layer_sliding[i] = true;
}
void qwen_to_hf(const ModelConfig& c, nlohmann::json& cfg) {
  if (c.sliding_window > 0) cfg["use_sliding_window"] = true;
}
}  // namespace

Architecture qwen2_architecture() {
  Architecture a;
  a.name = "qwen2";
  a.hf_class = "Qwen2ForCausalLM";
  a.hf_types = {"qwen2"};
  a.qkv_bias = true;
  a.from_hf = qwen_sliding_from_hf;
  a.to_hf = qwen_to_hf;
  return a;
}

Architecture qwen3_architecture() {
  Architecture a;
  a.name = "qwen3";
  a.hf_class = "Qwen3ForCausalLM";
  a.hf_types = {"qwen3"};
  a.hf_layer_names = {{"self_attn.q_norm.weight", "attn_q_norm.weight"},
                      {"self_attn.k_norm.weight", "attn_k_norm.weight"}};
  a.from_gguf = [](ModelConfig& c, const GgufKeys&) { c.qk_norm = true; };
  a.from_hf = [](ModelConfig& c, const HfConfig& k) {
    c.qk_norm = true;
    qwen_sliding_from_hf(c, k);
  };
  a.to_hf = qwen_to_hf;
  return a;
}

}  // namespace pocketllm::detail
