// phi3: llama block with fused weights, NEOX rope (possibly over part of each
// head) and a sliding window on every layer. HF's qkv_proj ([q; k; v] rows) and
// gate_up_proj ([gate; up] rows) have the layouts of GGUF's attn_qkv and ffn_up;
// bind_weights splits them into row views.
#include <cmath>
#include <limits>

#include "core/error.h"
#include "model/arch/arch.h"

namespace pocketllm::detail {

namespace {
std::vector<float> factor_list(const HfConfig& rs, const char* key, int64_t n) {
  const auto& v = rs.j.contains(key) ? rs.j[key] : nlohmann::json();
  if (!v.is_array() || static_cast<int64_t>(v.size()) != n) fail("{}: rope_scaling.{} needs {} numbers", rs.source, key, n);
  std::vector<float> out;
  for (auto& x : v) {
    const double d = x.is_number() ? x.get<double>() : 0.0;
    if (!(d > 0 && d <= std::numeric_limits<float>::max()))
      fail("{}: rope_scaling.{} holds {}, not a positive float", rs.source, key, x.dump());
    out.push_back(static_cast<float>(d));
  }
  return out;
}

// HF "longrope" (older configs: "su"), as transformers computes it: the attention
// factor defaults to sqrt(1 + ln(s) / ln(original)) with s = max / original positions.
void read_longrope(ModelConfig& c, const HfConfig& k) {
  const HfConfig rs{k.j["rope_scaling"], k.source};
  const std::string type = rs.string("rope_type", rs.string("type", ""));
  if (type != "longrope" && type != "su") return;  // others were checked by the common reader
  auto& lr = c.rope_longrope;
  lr.enabled = true;
  lr.original_context = k.integer("original_max_position_embeddings", c.context_length);
  if (lr.original_context <= 0) fail("{}: invalid original_max_position_embeddings", k.source);
  const double s = static_cast<double>(c.context_length) / static_cast<double>(lr.original_context);
  const double dflt = s <= 1.0 ? 1.0 : std::sqrt(1.0 + std::log(s) / std::log(static_cast<double>(lr.original_context)));
  lr.attn_factor = static_cast<float>(rs.number("attention_factor", dflt));
  lr.short_factor = factor_list(rs, "short_factor", c.rot_dim() / 2);
  lr.long_factor = factor_list(rs, "long_factor", c.rot_dim() / 2);
}
}  // namespace

Architecture phi3_architecture() {
  Architecture a;
  a.name = "phi3";
  a.hf_class = "Phi3ForCausalLM";
  a.hf_types = {"phi3"};
  a.fused_gate_up = true;
  a.fused_qkv = true;
  a.hf_longrope = true;
  a.hf_layer_names = {{"self_attn.qkv_proj.weight", "attn_qkv.weight"},
                      {"mlp.gate_up_proj.weight", "ffn_up.weight"}};
  a.from_gguf = [](ModelConfig& c, const GgufKeys& k) {
    if (auto af = k.number("rope.scaling.attn_factor")) {  // factors: rope_factors_short/long tensors
      c.rope_longrope.enabled = true;
      c.rope_longrope.attn_factor = static_cast<float>(*af);
      c.rope_longrope.original_context = k.integer("rope.scaling.original_context_length").value_or(c.context_length);
    }
    c.sliding_window = k.integer("attention.sliding_window").value_or(0);
    c.layer_sliding = sliding_layers_by_pattern(c.n_layers, 0);
  };
  a.from_hf = [](ModelConfig& c, const HfConfig& k) {
    const double partial = k.number("partial_rotary_factor", 1.0);
    if (!(partial > 0.0 && partial <= 1.0)) fail("{}: invalid partial_rotary_factor {}", k.source, partial);
    c.rope_dim = static_cast<int64_t>(std::floor(static_cast<double>(c.head_dim) * partial));
    if (c.rope_dim == c.head_dim) c.rope_dim = 0;
    c.sliding_window = k.has("sliding_window") ? k.integer("sliding_window") : 0;
    c.layer_sliding = sliding_layers_by_pattern(c.n_layers, 0);
    if (k.has("rope_scaling")) read_longrope(c, k);
  };
  a.to_hf = [](const ModelConfig& c, nlohmann::json& cfg) {
    if (c.rope_dim > 0) cfg["partial_rotary_factor"] = static_cast<double>(c.rope_dim) / static_cast<double>(c.head_dim);
    cfg.erase("layer_types");  // phi3's sliding window applies to every layer
  };
  a.to_gguf = [](const ModelConfig& c, gguf::Writer& w) {
    if (c.sliding_window > 0)
      w.set("phi3.attention.sliding_window", gguf::Value::u32(static_cast<uint32_t>(c.sliding_window)));
    if (c.rope_longrope.enabled) {
      w.set("phi3.rope.scaling.attn_factor", gguf::Value::f32(c.rope_longrope.attn_factor));
      w.set("phi3.rope.scaling.original_context_length",
            gguf::Value::u32(static_cast<uint32_t>(c.rope_longrope.original_context)));
    }
  };
  return a;
}

}  // namespace pocketllm::detail
