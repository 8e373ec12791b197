// gemma2 and gemma3: embeddings scaled by sqrt(dim), RMSNorm by (1 + w), GeGLU
// (tanh GELU), post-norms around attention and FFN, score scale
// query_pre_attn_scalar^-1/2, sliding-window layers. gemma2 soft-caps scores and
// logits and slides on even layers; gemma3 adds Q/K norms, slides on 5 of every 6
// layers with its own RoPE base (10000) there, and scales global RoPE linearly.
// HF stores norm weights as w (the loader adds 1); llama.cpp's GGUF stores 1 + w.
#include <cmath>

#include "core/error.h"
#include "model/arch/arch.h"

namespace pocketllm::detail {

namespace {
void gemma_common(ModelConfig& c) {
  c.act = Activation::GeluTanh;
  c.embed_scale = std::sqrt(static_cast<float>(c.dim));
  c.post_norms = true;
}

void gemma_common_hf(ModelConfig& c, const HfConfig& k, int64_t pattern) {
  gemma_common(c);
  const std::string act = k.string("hidden_activation", k.string("hidden_act", "gelu_pytorch_tanh"));
  if (act != "gelu_pytorch_tanh" && act != "gelu")
    fail("{}: gemma activation '{}' is not supported (gelu_pytorch_tanh)", k.source, act);
  c.attn_scale = static_cast<float>(1.0 / std::sqrt(k.number("query_pre_attn_scalar", static_cast<double>(c.head_dim))));
  c.attn_softcap = static_cast<float>(k.number("attn_logit_softcapping", 0.0));
  c.final_softcap = static_cast<float>(k.number("final_logit_softcapping", 0.0));
  c.sliding_window = k.has("sliding_window") ? k.integer("sliding_window") : 0;
  const int64_t p = k.has("sliding_window_pattern") ? k.integer("sliding_window_pattern") : pattern;
  c.layer_sliding = sliding_layers_from_hf(k, c.n_layers, p);
}

void gemma_common_gguf(ModelConfig& c, const GgufKeys& k, int64_t pattern) {
  gemma_common(c);
  // llama.cpp scales scores by 1/sqrt(head_dim) unless attention.scale says otherwise.
  c.attn_scale = static_cast<float>(k.number("attention.scale").value_or(1.0 / std::sqrt(static_cast<double>(c.head_dim))));
  c.attn_softcap = static_cast<float>(k.number("attn_logit_softcapping").value_or(0.0));
  c.final_softcap = static_cast<float>(k.number("final_logit_softcapping").value_or(0.0));
  // llama.cpp assumes Gemma 2's 4096 when an old file lacks the key.
  c.sliding_window = k.integer("attention.sliding_window").value_or(c.arch == "gemma2" ? 4096 : 0);
  c.layer_sliding = sliding_layers_by_pattern(c.n_layers, k.integer("attention.sliding_window_pattern").value_or(pattern));
}

// The llama.cpp-style pattern that gives `s`, or -1.
int64_t pattern_of(const std::vector<bool>& s) {
  const auto n = static_cast<int64_t>(s.size());
  for (int64_t p = 0; p <= n + 1; ++p)
    if (sliding_layers_by_pattern(n, p) == s) return p;
  return -1;
}

void gemma_to_gguf(const ModelConfig& c, gguf::Writer& w, int64_t default_pattern) {
  const std::string a = c.arch + ".";
  if (c.sliding_window > 0)
    w.set(a + "attention.sliding_window", gguf::Value::u32(static_cast<uint32_t>(c.sliding_window)));
  if (c.attn_softcap > 0) w.set(a + "attn_logit_softcapping", gguf::Value::f32(c.attn_softcap));
  if (c.final_softcap > 0) w.set(a + "final_logit_softcapping", gguf::Value::f32(c.final_softcap));
  const float default_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  if (std::fabs(c.attn_scale - default_scale) > 1e-7f * default_scale)
    w.set(a + "attention.scale", gguf::Value::f32(c.attn_scale));
  const int64_t p = pattern_of(c.layer_sliding);
  if (p < 0) fail("{}: the per-layer sliding-window pattern cannot be written to GGUF", c.name);
  if (p != default_pattern && c.n_layers > 1)
    w.set(a + "attention.sliding_window_pattern", gguf::Value::u32(static_cast<uint32_t>(p)));
  if (c.rope_theta_local > 0 && c.rope_theta_local != 10000.0f)
    w.set(a + "rope.freq_base_swa", gguf::Value::f32(c.rope_theta_local));
}

const std::vector<std::pair<std::string, std::string>> kGemmaNames = {
    {"post_attention_layernorm.weight", "post_attention_norm.weight"},
    {"pre_feedforward_layernorm.weight", "ffn_norm.weight"},
    {"post_feedforward_layernorm.weight", "post_ffw_norm.weight"},
    {"self_attn.q_norm.weight", "attn_q_norm.weight"},
    {"self_attn.k_norm.weight", "attn_k_norm.weight"}};
void gemma_to_hf(const ModelConfig& c, nlohmann::json& cfg) {
  cfg["hidden_activation"] = "gelu_pytorch_tanh";
  cfg["hidden_act"] = "gelu_pytorch_tanh";
  cfg["query_pre_attn_scalar"] = 1.0 / (static_cast<double>(c.attn_scale) * c.attn_scale);
  cfg["attn_logit_softcapping"] = c.attn_softcap > 0 ? nlohmann::json(c.attn_softcap) : nlohmann::json();
  cfg["final_logit_softcapping"] = c.final_softcap > 0 ? nlohmann::json(c.final_softcap) : nlohmann::json();
  if (c.rope_theta_local > 0) cfg["rope_local_base_freq"] = c.rope_theta_local;
}
}  // namespace

Architecture gemma2_architecture() {
  Architecture a;
  a.name = "gemma2";
  a.hf_class = "Gemma2ForCausalLM";
  a.hf_types = {"gemma2"};
  a.hf_norms_store_w = true;
  a.hf_layer_names = kGemmaNames;
  a.from_gguf = [](ModelConfig& c, const GgufKeys& k) { gemma_common_gguf(c, k, 2); };
  a.from_hf = [](ModelConfig& c, const HfConfig& k) { gemma_common_hf(c, k, 2); };
  a.to_gguf = [](const ModelConfig& c, gguf::Writer& w) { gemma_to_gguf(c, w, 2); };
  a.to_hf = gemma_to_hf;
  return a;
}

Architecture gemma3_architecture() {
  Architecture a;
  a.name = "gemma3";
  a.hf_class = "Gemma3ForCausalLM";
  a.hf_types = {"gemma3_text", "gemma3"};
  a.hf_norms_store_w = true;
  a.hf_layer_names = kGemmaNames;
  a.from_gguf = [](ModelConfig& c, const GgufKeys& k) {
    gemma_common_gguf(c, k, 6);
    c.qk_norm = true;
    c.rope_theta_local = static_cast<float>(k.number("rope.freq_base_swa").value_or(10000.0));
  };
  a.from_hf = [](ModelConfig& c, const HfConfig& k) {
    gemma_common_hf(c, k, 6);
    c.qk_norm = true;
    c.rope_theta_local = static_cast<float>(k.number("rope_local_base_freq", 10000.0));
  };
  a.to_gguf = [](const ModelConfig& c, gguf::Writer& w) { gemma_to_gguf(c, w, 6); };
  a.to_hf = [](const ModelConfig& c, nlohmann::json& cfg) {
    gemma_to_hf(c, cfg);
    cfg["model_type"] = "gemma3_text";
  };
  return a;
}

}  // namespace pocketllm::detail
