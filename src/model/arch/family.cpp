#include "model/arch/family.h"

#include <fmt/format.h>

#include "model/arch/arch.h"
#include "model/loader_internal.h"

namespace pocketllm {

namespace {
bool ends_with_layer_tensor(const std::string& name, const char* suffix) {
  return name.starts_with("blk.") && name.ends_with(suffix);
}
}  // namespace

std::string describe_family(const Model& m) {
  const ModelConfig& c = m.cfg;
  std::vector<std::string> f;
  const LayerWeights* l0 = m.w.layers.empty() ? nullptr : &m.w.layers[0];
  if (l0 && !l0->bq.empty()) f.push_back("Q/K/V biases");
  if (c.qk_norm) f.push_back("Q/K RMSNorm");
  if (m.tensors.count("blk.0.attn_qkv.weight")) f.push_back("fused QKV");
  if (detail::architecture(c.arch, m.path).fused_gate_up && !m.tensors.count("blk.0.ffn_gate.weight") &&
      m.tensors.count("blk.0.ffn_up.weight"))
    f.push_back("fused gate/up");
  if (c.act == Activation::GeluTanh) f.push_back("GeGLU (tanh GELU)");
  if (c.embed_scale != 1.0f) f.push_back(fmt::format("embeddings x {:.4g}", c.embed_scale));
  if (c.post_norms) f.push_back("post-norms");
  if (c.attn_scale > 0.0f) f.push_back(fmt::format("query_pre_attn_scalar {:.4g}", 1.0 / (c.attn_scale * c.attn_scale)));
  if (c.attn_softcap > 0.0f) f.push_back(fmt::format("attention soft-cap {:g}", c.attn_softcap));
  if (c.final_softcap > 0.0f) f.push_back(fmt::format("final soft-cap {:g}", c.final_softcap));
  if (c.sliding_window > 0) {
    int64_t n = 0;
    for (int64_t i = 0; i < c.n_layers; ++i) n += c.is_sliding(i);
    f.push_back(fmt::format("sliding window {} on {} of {} layers", c.sliding_window, n, c.n_layers));
  }
  if (c.rope_theta_local > 0.0f) f.push_back(fmt::format("local rope base {:g}", c.rope_theta_local));
  if (c.rope_linear_factor != 1.0f) f.push_back(fmt::format("linear rope scaling x{:g}", c.rope_linear_factor));
  if (c.rope_dim > 0) f.push_back(fmt::format("rope on {} of {} head dims", c.rope_dim, c.head_dim));
  if (c.rope_longrope.enabled || !m.w.rope_factors_short.empty()) f.push_back("LongRoPE");
  if (c.rope_llama3.enabled || !m.w.rope_freq_factors.empty()) f.push_back("llama3 rope scaling");
  if (c.tied_embeddings) f.push_back("tied embeddings");
  std::string out = c.arch + ":";
  if (f.empty()) return out + " plain llama block";
  for (size_t i = 0; i < f.size(); ++i) out += (i ? ", " : " ") + f[i];
  return out;
}

std::vector<int64_t> fused_row_blocks(const ModelConfig& c, const std::string& name, int64_t rows) {
  if (ends_with_layer_tensor(name, ".attn_qkv.weight") && rows == c.q_dim() + 2 * c.kv_dim())
    return {c.q_dim(), c.kv_dim(), c.kv_dim()};
  // phi3's ffn_up holds [gate; up] when the file has no separate ffn_gate.
  if (detail::architecture(c.arch, "").fused_gate_up && ends_with_layer_tensor(name, ".ffn_up.weight") &&
      rows == 2 * c.hidden_dim)
    return {c.hidden_dim, c.hidden_dim};
  return {};
}

std::string hf_class_name(const std::string& arch, const std::string& source) {
  return detail::architecture(arch, source).hf_class;
}
FamilyTensors family_tensors(const std::string& arch, const std::string& source) {
  const auto& a = detail::architecture(arch, source);
  return {a.fused_qkv, a.fused_gate_up, a.qkv_bias};
}
bool hf_norms_store_w(const std::string& arch, const std::string& source) {
  return detail::architecture(arch, source).hf_norms_store_w;
}
std::string hf_tensor_name(const std::string& arch, const std::string& gguf_name, const std::string& source) {
  return detail::gguf_to_hf_name(detail::architecture(arch, source), gguf_name);
}
void write_family_hf_config(const ModelConfig& c, nlohmann::json& cfg, const std::string& source) {
  if (auto f = detail::architecture(c.arch, source).to_hf) f(c, cfg);
}
void write_family_gguf_metadata(const ModelConfig& c, gguf::Writer& w) { detail::write_arch_gguf_metadata(c, w); }
RopeStyle gguf_rope_style(const std::string& arch, const std::string& source) {
  return detail::architecture(arch, source).gguf_rope;
}
std::vector<bool> sliding_layers_every(int64_t n_layers, int64_t pattern) {
  return detail::sliding_layers_by_pattern(n_layers, pattern);
}
void bind_model_weights(Model& m) { detail::bind_weights(m); }

}  // namespace pocketllm
